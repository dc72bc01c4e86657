"""Shared fixtures: a wheelhouse of small real wheels, fresh real venvs, an offline environment."""

from __future__ import annotations

import os
import shutil
import signal
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Gate, app_data, build_wheel, install_probe, make_venv, offline_env

# a small dependency tree with extras and markers, and heavier packages with many files and
# `.data/data/share/...` entries, like the packages whose concurrent installs broke environments
SMALL = [
    ("alpha", "1.0", ["beta>=1", 'gamma[fast]; python_version >= "3"']),
    ("beta", "1.0", []),
    ("beta", "2.0", []),
    ("gamma", "1.0", []),
    ("delta", "1.0", []),
]
HEAVY = [(f"heavy{i}", version) for i in range(12) for version in ("1.0", "2.0")]


def _running_distributions() -> set[str]:
    """The distributions installed for the interpreter running pytest (its site folders, this venv's)."""
    found: set[str] = set()
    for folder in {*site.getsitepackages(), site.getusersitepackages()}:
        try:
            found.update(
                entry.name for entry in Path(folder).iterdir() if entry.name.endswith((".dist-info", ".egg-info"))
            )
        except OSError:
            continue
    return found


_BEFORE: set[str] = set()


def pytest_configure(config: pytest.Config) -> None:
    """Once, before xdist's workers start (they inherit it all): venvlock's bytecode, the seeded app-data, the wheels.

    This machine sets ``PYTHONDONTWRITEBYTECODE``, so the editable venvlock
    would be compiled again by every pip-locked, hatch, nox and tox process the
    tests start; an installed venvlock has its bytecode from the install.
    """
    if hasattr(config, "workerinput"):
        return
    import compileall

    import venvlock

    compileall.compile_dir(os.path.dirname(venvlock.__file__), quiet=1)
    app_data()
    os.environ[WHEELHOUSE_VAR] = str(_build_wheelhouse(Path(tempfile.mkdtemp(prefix="venvlock-tests-wheels-"))))


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    if os.environ.get(WHEELHOUSE_VAR, "").startswith(tempfile.gettempdir()):  # the app-data goes at exit
        shutil.rmtree(os.environ.pop(WHEELHOUSE_VAR), ignore_errors=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    _BEFORE.update(_running_distributions())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test installed into (or removed from) the interpreter running pytest."""
    after = _running_distributions()
    if after != _BEFORE:
        added, removed = sorted(after - _BEFORE), sorted(_BEFORE - after)
        print(
            f"\nA test changed the environment running pytest ({sys.prefix}): added {added}, removed {removed}",
            file=sys.stderr,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


#: the shared wheelhouse, built once by the controlling process (tests only read it)
WHEELHOUSE_VAR = "VENVLOCK_TESTS_WHEELHOUSE"


def _build_wheelhouse(folder: Path) -> Path:
    for name, version, requires in SMALL:
        extras = {"fast": ["delta"]} if name == "gamma" else None
        build_wheel(folder, name, version, requires=requires, extras=extras)
    for name, version in HEAVY:
        build_wheel(folder, name, version, files=150, data_files=60, payload=2000)
    return folder


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = os.environ.get(WHEELHOUSE_VAR)
    return Path(shared) if shared else _build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture
def offline(wheelhouse: Path, tmp_path: Path) -> dict[str, str]:
    """Environment for subprocesses: local wheels only, a private venvlock cache, probe log path."""
    return offline_env(
        wheelhouse,
        VENVLOCK_CACHE_DIR=str(tmp_path / "cache"),
        VENVLOCK_PROBE_LOG=str(tmp_path / "probe.log"),
        VENVLOCK_TIMEOUT="120",
    )


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A fresh venv with real pip and the install probe."""
    path = tmp_path / "venv"
    make_venv(path)
    install_probe(path)
    return path


@pytest.fixture
def env(offline: dict[str, str], venv: Path) -> dict[str, str]:
    """Subprocess environment for commands on the fresh :func:`venv`: offline, ``VIRTUAL_ENV`` set to it."""
    return {**offline, "VIRTUAL_ENV": str(venv)}


@pytest.fixture
def gate(tmp_path: Path, env: dict[str, str]) -> Gate:
    """A gate that the test installs' build backend waits at (``VENVLOCK_TEST_GATE`` in :func:`env`)."""
    gate = Gate(tmp_path / "gate")
    env["VENVLOCK_TEST_GATE"] = str(gate.folder)
    return gate


@pytest.fixture
def killed() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes to kill (with their whole process group) when the test ends."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
