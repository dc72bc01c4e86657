"""Shared fixtures: a wheelhouse of small real wheels, fresh real venvs, an offline environment."""

from __future__ import annotations

import site
import sys
from pathlib import Path

import pytest

from support import build_wheel, install_probe, make_venv, offline_env

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


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheelhouse")
    for name, version, requires in SMALL:
        extras = {"fast": ["delta"]} if name == "gamma" else None
        build_wheel(folder, name, version, requires=requires, extras=extras)
    for name, version in HEAVY:
        build_wheel(folder, name, version, files=150, data_files=60, payload=2000)
    return folder


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
