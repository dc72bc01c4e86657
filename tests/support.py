"""Test helpers: real wheels, real venvs, real processes; nothing mocked.

* :func:`build_wheel` writes a small but real wheel (RECORD with hashes, many
  files, ``.data/data/share/...`` entries like the packages whose concurrent
  installs broke environments) with :mod:`helpers.wheel_writer`, the one
  wheel writer, which the generated build backends here use too.
* :func:`make_venv` creates a venv with real pip (virtualenv's bundled wheel,
  offline), seeded from :func:`app_data`, whose pip carries its bytecode.
* :func:`check_intact` verifies an environment the way the races broke them:
  one dist-info per project, no ``~`` leftovers, every file matching RECORD.
* :func:`install_probe` puts a ``.pth`` probe into a venv that logs each pip
  process's start and end, so tests can count installs and prove none
  overlapped.
"""

from __future__ import annotations

import atexit
import compileall
import csv
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from helpers.wheel_writer import copy_into, record_hash, write_wheel

ROOT = Path(__file__).resolve().parent.parent


def build_wheel(
    dest: Path,
    name: str,
    version: str = "1.0",
    *,
    requires: Sequence[str] = (),
    files: int = 2,
    data_files: int = 0,
    payload: int = 0,
    extras: dict[str, Sequence[str]] | None = None,
) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` into *dest* and return its path.

    The module ``<name>`` (dashes become underscores) has ``__version__``;
    *files* extra modules, *data_files* files under ``.data/data/share/<name>/``,
    each padded with *payload* bytes.
    """
    module = name.replace("-", "_")
    dist = f"{module}-{version}"
    entries: list[tuple[str, bytes]] = [(f"{module}/__init__.py", f'__version__ = "{version}"\n'.encode())]
    pad = b"#" * payload
    for i in range(files):
        entries.append((f"{module}/part_{i}.py", f"VALUE = {i}  # {version}\n".encode() + pad))
    for i in range(data_files):
        entries.append((f"{dist}.data/data/share/{module}/notebook.d/file_{i}.json", f'{{"n": {i}}}\n'.encode() + pad))
    return dest / write_wheel(dest, name, version, entries, requires=requires, extras=extras)


def build_wheelhouse(dest: Path, specs: Iterable[tuple[str, str, Sequence[str]]], **kwargs: int) -> Path:
    """Build one wheel per ``(name, version, requires)`` into *dest*."""
    for name, version, requires in specs:
        build_wheel(dest, name, version, requires=requires, **kwargs)  # type: ignore[arg-type]
    return dest


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


#: the run's own temp folder (app-data, wheelhouse, tool links, HOME-derived caches), made once by the process that
#: starts the run (conftest, before xdist's workers start, and they inherit it) and removed when that run ends
RUN_ROOT_VAR = "VENVLOCK_TESTS_ROOT"


def run_root() -> Path:
    """The temp folder everything the run shares lives in; nothing the tests start writes under ``$HOME``.

    Made on first use by a process with no :data:`RUN_ROOT_VAR` (the pytest
    controller, or a benchmark), which removes it: conftest at the end of the
    session, :mod:`atexit` otherwise.
    """
    existing = os.environ.get(RUN_ROOT_VAR)
    if existing:
        return Path(existing)
    folder = Path(tempfile.mkdtemp(prefix=f"venvlock-tests-{os.getpid()}-"))  # the pid: whose run it is
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # gone when the process that made it ends
    os.environ[RUN_ROOT_VAR] = str(folder)
    # every subprocess of the run, with offline_env or without, keeps its caches (uv, nox, virtualenv, pip, hatch,
    # venvlock's own) in the run's folder: platformdirs and uv read these
    os.environ["XDG_CACHE_HOME"] = str(folder / "cache")
    os.environ["XDG_DATA_HOME"] = str(folder / "data")
    # and its temporary files: what a pip killed mid-install leaves (pip-install-*, pip-unpack-*, ...) goes with the
    # run's folder, never into the system temp folder (conftest points each test's processes at a folder of its own)
    (folder / "tmp").mkdir()
    os.environ.update(dict.fromkeys(TEMP_VARS, str(folder / "tmp")))
    return folder


#: the variables Python's :mod:`tempfile` (and so pip, virtualenv, tox, hatch, nox, poetry) and uv read for the
#: temp folder, first found first: all three, so no tool falls back to the system's
TEMP_VARS = ("TMPDIR", "TEMP", "TMP")


def cache_home() -> dict[str, str]:
    """The variables that send every HOME-derived cache and data folder of the tools into :func:`run_root`."""
    root = run_root()
    return {
        "XDG_CACHE_HOME": str(root / "cache"),
        "XDG_DATA_HOME": str(root / "data"),
        "UV_CACHE_DIR": str(root / "cache" / "uv"),
        "VIRTUALENV_OVERRIDE_APP_DATA": str(app_data()),
    }


def app_data() -> Path:
    """virtualenv's app-data folder for every venv the tests make, its pip image carrying compiled bytecode.

    Without bytecode (``PYTHONDONTWRITEBYTECODE`` is set on this machine, and pip
    is seeded as sources) each pip process compiles pip in memory again, which
    more than doubles its start-up; a user's venv has the bytecode from pip's
    first run.  The bytecode is ``unchecked-hash`` because virtualenv copies the
    sources with new timestamps.  Hatch's and nox's venvs are seeded from it too
    (``VIRTUALENV_OVERRIDE_APP_DATA`` in :func:`offline_env`); tox's keep a cold
    one of their own.
    """
    folder = run_root() / "app-data"
    if folder.is_dir():
        return folder
    building = Path(tempfile.mkdtemp(prefix="app-data-", dir=run_root()))
    seed = building / "seed-venv"
    _virtualenv(seed, building)
    # wheel/<python>/image/<n>/<installer>/<pip-* or a hash>: every image, whatever its name
    for image in [found for found in building.glob("wheel/*/image/*/*/*") if found.is_dir()]:
        compileall.compile_dir(str(image), quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    shutil.rmtree(seed)
    try:
        building.rename(folder)  # whole or not at all
    except OSError:  # another process of the run was quicker
        shutil.rmtree(building, ignore_errors=True)
    return folder


def _virtualenv(path: Path, app_data_folder: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "virtualenv",
            "-q",
            "--no-download",
            "--no-setuptools",
            "--no-periodic-update",
            "--app-data",
            str(app_data_folder),
            str(path),
        ],
        check=True,
    )


def make_venv(path: Path) -> Path:
    """Create a venv at *path* with real pip, offline; return its python.

    The venv is a copy of one virtualenv made once per run (:func:`venv_template`),
    with the template's path replaced by *path* wherever virtualenv wrote it (the
    scripts' shebangs, the activation scripts, ``pyvenv.cfg``): the same files
    virtualenv writes at *path*, for a sixth of the CPU of running it (the suite
    makes a hundred venvs); pip's bytecode is linked (:func:`_copy_or_link`).
    """
    if os.name == "nt":  # scripts there are launchers with the path inside an executable: let virtualenv write them
        _virtualenv(path, app_data())
        return venv_python(path)
    template = venv_template()
    target = Path(os.path.abspath(path)).resolve()  # as virtualenv spells the folder
    shutil.copytree(template, target, symlinks=True, copy_function=_copy_or_link)
    old, new = str(template).encode(), str(target).encode()
    for file in [target / "pyvenv.cfg", *(target / "bin").iterdir()]:
        if file.is_symlink() or not file.is_file():
            continue
        content = file.read_bytes()
        if old in content:
            file.write_bytes(content.replace(old, new))
    return venv_python(path)


def _copy_or_link(source: str, target: str) -> None:
    """Copy a venv's file, but link its bytecode: half the bytes, and nothing writes into a ``.pyc`` in place
    (Python replaces it whole; venvlock's checks pass over bytecode)."""
    if source.endswith(".pyc"):
        try:
            os.link(source, target)
            return
        except OSError:
            pass
    shutil.copy2(source, target)


def venv_template() -> Path:
    """The venv :func:`make_venv` copies: virtualenv's, seeded from :func:`app_data`, made once per run.

    ``<run root>/venv-template`` names the finished template's folder (its path is in its files).
    """
    pointer = run_root() / "venv-template"
    if pointer.is_file():
        return Path(pointer.read_text())
    template = Path(tempfile.mkdtemp(prefix="venv-template-", dir=run_root())).resolve() / "venv"
    _virtualenv(template, app_data())
    unique = pointer.with_name(f"{pointer.name}.{os.getpid()}")
    unique.write_text(str(template))
    unique.replace(pointer)  # whole or not at all; a template another process made at the same time stays usable
    return template


def built_once(name: str, build: Callable[[Path], object]) -> Path:
    """``<run root>/<name>``, made by *build* once per run, whichever xdist worker asks first (the others wait).

    For what tests only read (a synced venv to judge, say); it goes with the run's folder.
    """
    from filelock import FileLock

    folder = run_root() / name
    with FileLock(str(run_root() / f"{name}.building")):
        if not (folder / ".built").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


def site_packages(venv: Path) -> Path:
    (found,) = (venv / "lib").glob("python*/site-packages")
    return found


def offline_env(wheelhouse: Path, **extra: str) -> dict[str, str]:
    """An environment for subprocesses: pip and uv read only *wheelhouse*, no network, no user config.

    The tools' caches (uv, nox, virtualenv, pip, hatch) are the run's (:func:`cache_home`), never the user's; their
    temp folder (:data:`TEMP_VARS`) is the running test's (conftest sets it), else the run's.
    """
    run_root()  # first: it sets the run's temp folder in this process's environment, which the copy takes
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV", "VENVLOCK_"))}
    env.update(
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_CACHE_DIR="1",
        UV_NO_INDEX="1",
        UV_FIND_LINKS=str(wheelhouse),
        UV_OFFLINE="1",
        UV_NO_CONFIG="1",
        PYTHONDONTWRITEBYTECODE="1",
        **cache_home(),
    )
    env.update(extra)
    return env


def scripts_dir() -> Path:
    """The folder with the test interpreter's console scripts (pip-locked, hatch, nox, uv)."""
    return Path(sys.executable).parent


def pip_locked() -> str:
    return str(scripts_dir() / "pip-locked")


def uv() -> str:
    return str(scripts_dir() / "uv")


#: credentials the tests put into command lines, to prove they never reach files or other processes
SECRET = "s3cret-pa55"
TOKEN = "t0ken-abc"


def run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run *args* to the end (at most 300 s), its output captured as text."""
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload,no-any-return]


def versions(venv: Path) -> dict[str, str]:
    """``{name: version}`` of every dist-info in *venv*'s site-packages, as its folder names spell them."""
    found = {}
    for entry in os.listdir(site_packages(venv)):
        if entry.endswith(".dist-info"):
            name, _, version = entry[: -len(".dist-info")].rpartition("-")
            found[name] = version
    return found


def pip_install(venv: Path, env: dict[str, str], *args: str) -> None:
    """Install *args* into *venv* with its own plain pip (no venvlock), quietly; fail the test if pip fails."""
    result = run([str(venv_python(venv)), "-m", "pip", "install", "-q", *args], env)
    assert result.returncode == 0, result.stderr


def tools_path(path: str | None = None) -> str:
    """A PATH for tool subprocesses: the test venv's console scripts, but no ``python`` or ``pip`` at all.

    A racing stock tool that runs ``python -m pip`` from a half-built
    environment finds the next ``python`` on PATH; with the test interpreter's
    folder (or a global python) there, it would install into that interpreter.
    This PATH has the tools (hatch, nox, tox, uv, pip-locked, venvlock)
    through links in a folder of their own (in :func:`run_root`, made once),
    followed by *path* (default: this process's PATH) without the folders that
    hold a ``python``.
    """
    tools = run_root() / "tools"
    if not tools.is_dir():
        building = Path(tempfile.mkdtemp(prefix="tools-", dir=run_root()))
        for script in scripts_dir().iterdir():
            name = script.name
            if name.startswith(("python", "activate")) or name in ("pip", "pip3") or name.startswith("pip3."):
                continue
            (building / name).symlink_to(script)
        try:
            building.rename(tools)
        except OSError:  # another process of the run was quicker
            shutil.rmtree(building, ignore_errors=True)
    kept = [entry for entry in (path or os.environ.get("PATH", os.defpath)).split(os.pathsep) if entry]
    kept = [entry for entry in kept if not (Path(entry) / "python").exists() and Path(entry) != scripts_dir()]
    return os.pathsep.join([str(tools), *kept])


def check_intact(venv: Path) -> list[str]:
    """Problems with *venv*'s site-packages: duplicate dist-info, ``~`` leftovers, files not matching RECORD."""
    site = site_packages(venv)
    problems: list[str] = []
    projects: dict[str, list[str]] = {}
    for entry in sorted(os.listdir(site)):
        if entry.startswith("~"):
            problems.append(f"leftover {entry}")
        if entry.endswith(".dist-info"):
            project = entry[: -len(".dist-info")].rpartition("-")[0].lower().replace("_", "-")
            projects.setdefault(project, []).append(entry)
    for project, folders in projects.items():
        if len(folders) > 1:
            problems.append(f"{project}: {len(folders)} dist-info folders {folders}")
        for folder in folders:
            record = site / folder / "RECORD"
            if not record.exists():
                problems.append(f"{folder}: no RECORD")
                continue
            for row in csv.reader(record.read_text().splitlines()):
                if len(row) < 2 or not row[1]:
                    continue
                file = (site / row[0]).resolve()
                if not file.exists():
                    problems.append(f"{folder}: missing {row[0]}")
                elif record_hash(file.read_bytes()) != row[1]:
                    problems.append(f"{folder}: hash mismatch {row[0]}")
    return problems


#: a process that blocks on the lock file argv[1] as uv does (a blocking ``flock``), touches argv[2] once it has
#: it, and keeps it until argv[3] exists
FLOCK_TAKER = """
import fcntl, os, sys, time
lock = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(lock, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.01)
"""


PROBE = """\
import os, sys, atexit, time
if os.environ.get("VENVLOCK_PROBE_LOG") and "pip" in " ".join(getattr(sys, "orig_argv", sys.argv)):
    def _probe_write(kind, _log=os.environ["VENVLOCK_PROBE_LOG"]):
        with open(_log, "a") as f: f.write(f"{kind} {os.getpid()} {time.time():.6f} {' '.join(sys.orig_argv[1:])}\\n")
    _probe_write("start"); atexit.register(_probe_write, "end")
"""


def install_probe(venv: Path) -> None:
    """Log each pip process in *venv* (start/end lines) to ``$VENVLOCK_PROBE_LOG``."""
    (site_packages(venv) / "zz_venvlock_probe.py").write_text(PROBE)
    (site_packages(venv) / "zz_venvlock_probe.pth").write_text("import zz_venvlock_probe\n")


def read_probe(log: Path, *, command: str = "install") -> list[tuple[int, float, float | None]]:
    """``(pid, start, end)`` of each logged pip process running *command*."""
    runs: dict[int, list[float | None]] = {}
    if not log.exists():
        return []
    for line in log.read_text().splitlines():
        kind, pid, stamp, *argv = line.split(" ")
        if command not in argv:
            continue
        entry = runs.setdefault(int(pid), [None, None])
        entry[0 if kind == "start" else 1] = float(stamp)
    return [(pid, s or 0.0, e) for pid, (s, e) in runs.items()]


def overlapping(runs: list[tuple[int, float, float | None]]) -> list[tuple[int, int]]:
    """Pairs of runs whose intervals overlap (a run with no end is taken to run until now)."""
    pairs = []
    now = time.time()
    ordered = sorted(runs, key=lambda r: r[1])
    for i, (pid_a, _start_a, end_a) in enumerate(ordered):
        for pid_b, start_b, _ in ordered[i + 1 :]:
            if start_b < (end_a if end_a is not None else now):
                pairs.append((pid_a, pid_b))
    return pairs


def run_many(
    commands: Sequence[Sequence[str]], *, env: dict[str, str], cwd: Path | None = None, timeout: float = 300
) -> list[subprocess.CompletedProcess[str]]:
    """Start all *commands* at once and wait for all; return their results in order."""
    procs = [
        subprocess.Popen(list(c), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    results = []
    deadline = time.monotonic() + timeout
    for proc, command in zip(procs, commands, strict=False):
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        results.append(subprocess.CompletedProcess(list(command), proc.returncode, out, err))
    return results


def past(*paths: Path, seconds: float = 10) -> None:
    """Date *paths* back: what a test just wrote is then old enough for the fast path to trust."""
    when = time.time() - seconds
    for path in paths:
        os.utime(path, (when, when))


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.02) -> bool:  # type: ignore[no-untyped-def]
    """Poll *predicate* until true or *timeout*; for waiting on real events, not as a sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


GATED_BACKEND = '''\
"""A PEP 517 backend whose build waits at a gate: lets tests hold an installer mid-run, for real."""
import os, time

from wheel_writer import write_wheel

NAME = {name!r}
VERSION = {version!r}


def _gate():
    gate = os.environ.get("VENVLOCK_TEST_GATE")
    if not gate:
        return
    open(os.path.join(gate, "started-%d" % os.getpid()), "w").close()
    deadline = time.time() + 600
    while not os.path.exists(os.path.join(gate, "open")) and time.time() < deadline:
        time.sleep(0.02)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _gate()
    module = NAME.replace("-", "_")
    files = [(module + "/__init__.py", b"GATED = True\\n")]
    return write_wheel(wheel_directory, NAME, VERSION, files, generator="gated")


def get_requires_for_build_wheel(config_settings=None):
    return []
'''


def build_gated_project(dest: Path, name: str = "gated", version: str = "1.0") -> Path:
    """A local project whose build waits until ``$VENVLOCK_TEST_GATE/open`` exists.

    Installing it (``pip-locked install ./gated``, ``uv pip install ./gated``)
    holds the environment lock at a point the test controls: the build writes
    ``$VENVLOCK_TEST_GATE/started-<pid>`` when it reaches the gate.
    """
    project = dest / name
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "gated_backend"\nbackend-path = ["."]\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    (project / "gated_backend.py").write_text(GATED_BACKEND.format(name=name, version=version))
    copy_into(project)
    return project


class Gate:
    """The folder a gated build waits on: ``started()`` tells it reached the gate, ``open()`` lets it on."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def started(self) -> bool:
        return any(p.name.startswith("started-") for p in self.folder.iterdir())

    def open(self) -> None:
        (self.folder / "open").touch()


EDITABLE_BACKEND = '''\
"""A PEP 517/660 backend with no build dependencies: wheels and editable wheels, offline."""
import os

from wheel_writer import write_wheel

NAME = {name!r}
VERSION = {version!r}
ROOT = os.path.dirname(os.path.abspath(__file__))


def _wheel(directory, editable):
    module = NAME.replace("-", "_")
    if editable:
        files = [("_%s_editable.pth" % module, (os.path.join(ROOT, "src") + "\\n").encode())]
    else:
        files = [(module + "/__init__.py", b"")]
    return write_wheel(directory, NAME, VERSION, files, generator="editable")


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, True)
'''


def build_editable_project(dest: Path, name: str = "local", version: str = "0.1") -> Path:
    """A local project that pip and uv can install editable (``-e``) offline: its backend lives in the project."""
    project = dest / name
    (project / "src" / name.replace("-", "_")).mkdir(parents=True, exist_ok=True)
    (project / "src" / name.replace("-", "_") / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "editable_backend"\nbackend-path = ["."]\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    (project / "editable_backend.py").write_text(EDITABLE_BACKEND.format(name=name, version=version))
    copy_into(project)
    return project
