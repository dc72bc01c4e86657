"""Shared fixtures: a wheelhouse of small real wheels, fresh real venvs, an offline environment."""

from __future__ import annotations

import os
import re
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import (
    RUN_ROOT_VAR,
    TEMP_VARS,
    Gate,
    app_data,
    build_wheel,
    install_probe,
    make_venv,
    offline_env,
    run_root,
    tools_path,
    venv_template,
    wait_for,
)

#: ``--cpu-report``: each test's CPU (its worker's and its children's), ranked: to keep the default suite in its budget
pytest_plugins = ["cpu_report"]

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


#: the system temp folder, read at import: the controller's (or a run's without xdist) is the system's; xdist's
#: workers start with the run's (:func:`support.run_root`); :mod:`tempfile` keeps it for in-process use, whatever
#: temp folder each test gives its processes (:func:`own_temp_folder`)
SYSTEM_TEMP = Path(tempfile.gettempdir())


def _user_folders() -> list[Path]:
    """The folders under the user's HOME (and the user's own XDG folders) that the tools write caches and data to.

    Any change there (a new, changed or removed path) fails the run.
    """
    caches = {Path.home() / ".cache"}
    data = {Path.home() / ".local" / "share"}
    if os.environ.get("XDG_CACHE_HOME") and RUN_ROOT_VAR not in os.environ:
        caches.add(Path(os.environ["XDG_CACHE_HOME"]))
    if os.environ.get("XDG_DATA_HOME") and RUN_ROOT_VAR not in os.environ:
        data.add(Path(os.environ["XDG_DATA_HOME"]))
    folders = [base / name for base in caches for name in ("uv", "nox", "virtualenv", "pip", "hatch", "venvlock")]
    return folders + [base / name for base in data for name in ("hatch", "virtualenv")]


#: ``~/.local`` as a whole (pip's ``--user`` site and scripts, the tools' data and state): a path that appears there
#: fails the run (a path that changes does not: desktops and other programs keep files there)
USER_LOCAL = Path.home() / ".local"


def _listing(folder: Path) -> dict[str, int]:
    """Every path under *folder* with its modification time (empty when the folder does not exist)."""
    found: dict[str, int] = {}
    for parent, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            path = os.path.join(parent, name)
            try:
                found[path] = os.lstat(path).st_mtime_ns
            except OSError:
                continue
    try:
        found[str(folder)] = os.lstat(folder).st_mtime_ns
    except OSError:
        pass
    return found


#: the names the tests' processes give what they make directly in a temp folder: :mod:`tempfile`'s default
#: (``tmp`` and 8 characters: virtualenv, tox, hatch, nox, poetry; not mktemp(1)'s ``tmp.*``), uv's (``.tmp*``),
#: pip's (``pip-install-*``, ``pip-unpack-*``, ``pip-build-tracker-*``, ``pip-ephem-wheel-cache-*``, ...), build's,
#: the tools' own and the run's (``venvlock-*``)
TOOL_NAMES = re.compile(r"tmp[a-z0-9_]{8}|\.tmp|(pip|uv|build-env|virtualenv|tox|nox|hatch|poetry|venvlock)-")
#: what the suite never makes in the system temp folder but benchmarks that run beside it do (a benchmark's
#: ``venvlock-bench-*`` work folder; ``venvlock-pep503-*``, the poetry index of older checkouts, in the run's folder
#: now): other processes', not this run's
OTHERS_PREFIXES = ("venvlock-bench-", "venvlock-pep503-")


def _temp_folders() -> set[str]:
    """The names in the system temp folder a test's process could have made, but for other runs still going."""
    return {
        entry.name
        for entry in SYSTEM_TEMP.iterdir()
        if TOOL_NAMES.match(entry.name) and not entry.name.startswith(OTHERS_PREFIXES) and not _another_run(entry.name)
    }


def _left_in_temp(started: float) -> list[str]:
    """The names :func:`_temp_folders` finds now that were not there at the start, made since (by this user).

    Another program's pip may be running right now: what goes within a few
    seconds was a process's working folder, not a leftover.
    """

    def new() -> list[str]:
        found = []
        for name in sorted(_temp_folders() - _TEMP_BEFORE):
            try:
                status = os.lstat(SYSTEM_TEMP / name)
            except OSError:
                continue
            if status.st_ctime >= started and status.st_uid == os.getuid():
                found.append(name)
        return found

    if new():
        wait_for(lambda: not new(), timeout=10, interval=0.5)
    return new()


def _another_run(name: str) -> bool:
    pid = name.removeprefix("venvlock-tests-").partition("-")[0]
    if not name.startswith("venvlock-tests-") or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


_USER_BEFORE: dict[Path, dict[str, int]] = {}
_LOCAL_BEFORE: set[str] = set()
_TEMP_BEFORE: set[str] = set()
_STARTED: list[float] = []


def pytest_configure(config: pytest.Config) -> None:
    """Once, before xdist's workers start (they inherit it all): the run's temp folder with the caches, the seeded
    app-data, the venv the tests' venvs copy, the tool links and the wheels; venvlock's bytecode.

    This machine sets ``PYTHONDONTWRITEBYTECODE``, so the editable venvlock
    would be compiled again by every pip-locked, hatch, nox and tox process the
    tests start; an installed venvlock has its bytecode from the install.
    """
    if hasattr(config, "workerinput"):
        return
    import compileall

    import venvlock

    _STARTED.append(time.time() - 1)  # the file system's clock may round down
    _USER_BEFORE.update((folder, _listing(folder)) for folder in _user_folders())
    _LOCAL_BEFORE.update(_listing(USER_LOCAL))
    _TEMP_BEFORE.update(_temp_folders())
    compileall.compile_dir(os.path.dirname(venvlock.__file__), quiet=1)
    app_data()
    venv_template()
    tools_path()
    wheels = run_root() / "wheels"
    wheels.mkdir(exist_ok=True)
    os.environ[WHEELHOUSE_VAR] = str(_build_wheelhouse(wheels))


def pytest_sessionstart(session: pytest.Session) -> None:
    _BEFORE.update(_running_distributions())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test installed into (or removed from) the interpreter running pytest, wrote under the
    user's HOME caches or added to ``~/.local``, or left anything in the system temp folder (:data:`TOOL_NAMES`:
    a pip killed mid-install leaves its ``pip-*`` folders where ``TMPDIR`` points).

    The run's own folder (:func:`support.run_root`) goes first: the tests are
    over (xdist's workers too, when this runs in the controller).
    """
    after = _running_distributions()
    if after != _BEFORE:
        added, removed = sorted(after - _BEFORE), sorted(_BEFORE - after)
        print(
            f"\nA test changed the environment running pytest ({sys.prefix}): added {added}, removed {removed}",
            file=sys.stderr,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if hasattr(session.config, "workerinput"):
        return
    shutil.rmtree(run_root(), ignore_errors=True)
    for folder, before in _USER_BEFORE.items():
        now = _listing(folder)
        changed = sorted(path for path in now.keys() | before.keys() if now.get(path) != before.get(path))
        if changed:
            print(f"\nThe run wrote under {folder} (outside its clone): {changed[:5]}", file=sys.stderr)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    added = sorted(_listing(USER_LOCAL).keys() - _LOCAL_BEFORE)
    if added:
        print(f"\nThe run added under {USER_LOCAL} (outside its clone): {added[:5]}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if _STARTED:
        left = _left_in_temp(_STARTED[0])
        if left:
            print(
                f"\nThe run left in {SYSTEM_TEMP}: {left} (a test's process without TMPDIR in its own temp folder?"
                " if another program made them, a run alone tells)",
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


@pytest.fixture(autouse=True)
def own_temp_folder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's processes get a temp folder of the test's own (:data:`support.TEMP_VARS`), in the run's folder.

    Every environment the tests build starts from this process's
    (:func:`support.offline_env` too): what a process the test kills leaves
    there (pip's ``pip-install-*``, ``pip-unpack-*``, ...) goes with the run's
    folder at the end, never into the system temp folder.  Not removed when the
    test ends: a process a shared fixture started (a pip oracle) may go on
    using the first temp folder it was given.  In-process :mod:`tempfile`
    keeps the one it read at import (:data:`SYSTEM_TEMP`).
    """
    name = re.sub(r"[^\w.-]+", "_", request.node.name)[:40]
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=run_root() / "tmp"))
    for variable in TEMP_VARS:
        monkeypatch.setenv(variable, str(folder))
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
def hatch_project(tmp_path: Path, offline: dict[str, str]):  # type: ignore[no-untyped-def]
    """A hatch project whose environment (type venvlock) depends on ``beta>=1``; skipped without hatch."""
    pytest.importorskip("hatch")
    from helpers.hatch_project import HatchProject

    project = HatchProject(tmp_path / "proj", offline)
    project.configure(project_dependencies=(), env_dependencies=("beta>=1",), hook=False)
    return project


@pytest.fixture
def killed() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes to kill (with their whole process group) when the test ends."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
