"""The fault-injection matrix: a run killed or failed at each named point; the next run leaves a whole environment.

Rows: the adapters (``pip-locked``, ``venvlock run``, nox with a reused
environment, tox, hatch with ``type = "venvlock"``, ``venvlock repair``).
Columns: the phases each reaches, in order (:data:`REACHED`):

* ``create`` -- the adapter created the environment's folder, still marked half-built (nox, tox, hatch);
* ``marker`` -- a marker (half-built, provisioned) about to be written;
* ``locked`` -- the environment lock taken;
* ``journal`` -- the sync journal written (for errors: its write);
* ``install`` -- the installer mid-run: pip byte-compiling the large module of ``heavy`` (see
  ``tests/test_journal.py``), an added requirement of an environment synced before;
* ``installed`` -- the installer ended with success, nothing recorded;
* ``record`` -- the record about to be written; ``recorded`` -- written, the journal not cleared;
* ``heal`` -- the next holder repairing what a sync killed at ``journal`` left;
* ``repair`` -- ``venvlock repair``'s removals done, nothing reinstalled.

Faults (:func:`faults`): SIGKILL, SIGINT and SIGTERM to the process group
(``kill -9`` of a job, a terminal's Ctrl-C, a CI runner's timeout) at every
phase; at ``install`` also SIGKILL of the installer child alone and ENOSPC
from a full filesystem (a small tmpfs mounted for the test: root only,
skipped elsewhere); at the points that write (``create``, ``marker``,
``journal``, ``record``) the errors ENOSPC and EACCES, raised by the
test-only hook where the write is (root ignores permissions, so EACCES is
injected, not provoked).  The named points are the hook
``VENVLOCK_TEST_FAULT=<phase>:<fault>`` (:func:`venvlock._faults.inject_fault`,
:func:`venvlock.adapter.fault_point` for adapters), which logs each fault it
injects to ``VENVLOCK_TEST_FAULT_LOG``: a case counts as injected only when
its fault landed.

After each fault the same command runs again without it; it must exit 0,
``venvlock verify`` must find no damage, the environment must hold what was
asked for, its locks must be free, and nothing outside the tool's folders
(the environment, ``.nox``, ``.tox``, hatch's data) may have changed.

A **timed variant** (:func:`test_a_fault_at_a_random_instant_leaves_a_whole_environment`)
kills at a random instant of a cold sync, drawn from a seed that the test
prints (``VENVLOCK_CHAOS_SEED`` replays it).

The default suite runs :data:`SAMPLE`; ``nox -s chaos`` runs every case
(they are marked slow) and prints the table (``python tests/test_fault_matrix.py TABLE-FILE``).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from support import check_intact, make_venv, pip_locked, run, scripts_dir, site_packages, venv_python, versions
from venvlock.adapter import Adapter

ADAPTERS = ("pip-locked", "run", "nox", "tox", "hatch", "repair")
SIGNALS = ("SIGKILL", "SIGINT", "SIGTERM")
#: SIGKILL of the installer's own process, not of its group
INSTALLER_ALONE = "SIGKILL-installer"
ERRORS = ("ENOSPC", "EACCES")
FAULTS = (*SIGNALS, INSTALLER_ALONE, *ERRORS)
#: the points that create or write a file: errors are injected there
WRITES = ("create", "marker", "journal", "record")
_SYNC = ("locked", "journal", "install", "installed", "record", "recorded")
#: the phases each adapter's run reaches.  nox and tox never reach ``heal``: a run killed before its installs
#: ended leaves the environment marked half-built (unprovisioned), and the next run recreates it, journal and all
REACHED = {
    "pip-locked": (*_SYNC, "heal"),
    "run": ("locked", "journal", "install", "heal"),
    "nox": ("create", "marker", *_SYNC),
    "tox": ("create", "marker", *_SYNC),
    "hatch": ("create", "marker", *_SYNC, "heal"),
    "repair": ("locked", "repair", "install"),
}
PHASES = ("create", "marker", "locked", "journal", "install", "installed", "record", "recorded", "heal", "repair")
#: the cases the default suite runs (a few seconds); the rest are marked slow
SAMPLE = {("pip-locked", "journal", "SIGKILL"), ("run", "journal", "SIGTERM")}
#: where ``nox -s chaos`` collects one line per case
TABLE_VAR = "VENVLOCK_CHAOS_TABLE"
#: the seed of the timed variant (default: a new one, printed)
SEED_VAR = "VENVLOCK_CHAOS_SEED"
#: what every run asks for; the ``install`` phase adds ``heavy`` (slow to install: pip byte-compiles it)
WANTED = ("alpha",)
HEAVY = "heavy"


def faults(phase: str) -> tuple[str, ...]:
    if phase == "install":
        return (*SIGNALS, INSTALLER_ALONE, "ENOSPC")  # ENOSPC: the filesystem fills while pip writes
    if phase in WRITES:
        return (*SIGNALS, *ERRORS)
    return SIGNALS


NOXFILE = """
import nox
from venvlock.plugins.nox import session


@session(venv_backend="virtualenv", reuse_venv=True)
def env(session):
    session.install({requirements})
"""


#: files the test's own steps write: the tox command's stamps, the full disk's filler, the hook's log
SKIPPED_FILES = ("stamps.log", "filler", "fault.log")


class Project:
    """One adapter's project in *folder*: how to run it, its environment, the folders that are the tool's own."""

    def __init__(self, adapter: str, folder: Path, wheels: Path, offline: dict[str, str]) -> None:
        self.adapter = adapter
        self.folder = folder
        self.cwd = folder
        env = {**offline, "PIP_FIND_LINKS": str(wheels), "UV_FIND_LINKS": str(wheels)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # pip byte-compiles: heavy's install takes a while
        self.cache = Path(env["VENVLOCK_CACHE_DIR"])
        self.hatch = None
        if adapter == "nox":
            self.venv = folder / ".nox" / "env"
            self.own = [folder / ".nox"]
        elif adapter == "tox":
            from helpers.tox_project import tox_env

            self.venv = folder / ".tox" / "py"
            self.own = [folder / ".tox"]
            env = {**tox_env(wheels, folder), "VENVLOCK_CACHE_DIR": str(self.cache), **_cache_vars(offline)}
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        elif adapter == "hatch":
            pytest.importorskip("hatch")
            from helpers.hatch_project import HatchProject

            self.hatch = HatchProject(folder / "proj", env)
            env = self.hatch.env
            self.cwd = self.hatch.root
            self.venv = folder / "hatch-data"  # until the first run says where (env_path)
            self.own = [folder / "hatch-data", folder / "hatch-cache", folder / "uv-cache"]
        else:
            self.venv = folder / "env"
            self.own = [self.venv, Path(Adapter.creation_lock_path(Adapter.environment(str(self.venv))))]
            make_venv(self.venv)
            env["VIRTUAL_ENV"] = str(self.venv)
        self.env = env
        self.requirements: tuple[str, ...] = ()

    def want(self, *requirements: str) -> None:
        """Write the project's requirements (the tools read them from their files; pip-locked from its command)."""
        self.requirements = requirements
        if self.adapter == "nox":
            (self.folder / "noxfile.py").write_text(NOXFILE.format(requirements=", ".join(map(repr, requirements))))
        elif self.adapter == "tox":
            from helpers.tox_project import write_project

            write_project(self.folder, deps=requirements)
        elif self.hatch is not None:
            self.hatch.configure(project_dependencies=(), env_dependencies=requirements, hook=False)

    def command(self) -> list[str]:
        venvlock = str(scripts_dir() / "venvlock")
        if self.adapter == "pip-locked":
            return [pip_locked(), "install", *self.requirements]
        if self.adapter == "run":
            return [venvlock, "run", "-p", str(self.venv), "--", str(venv_python(self.venv)), "-m", "pip", "install"]
        if self.adapter == "repair":
            return [venvlock, "repair", str(self.venv)]
        if self.adapter == "tox":
            from helpers.tox_project import TOX

            return [TOX, "-e", "py"]
        if self.adapter == "hatch":
            from helpers.hatch_project import HATCH

            return [HATCH, "run", "python", "-c", "import alpha"]
        return [sys.executable, "-m", "nox", "-f", str(self.folder / "noxfile.py"), "-s", "env"]

    def full_command(self) -> list[str]:
        command = self.command()
        return [*command, *self.requirements] if self.adapter == "run" else command

    def run(self, **extra: str) -> subprocess.CompletedProcess[str]:
        return run(self.full_command(), {**self.env, **extra}, cwd=self.cwd)

    def prepare(self) -> None:
        """What the faulted run starts from: for ``venvlock repair``, an environment with damage to repair."""
        if self.adapter != "repair":
            return
        done = run([pip_locked(), "install", *self.requirements], self.env)
        assert done.returncode == 0, done.stderr
        for name in self.requirements:  # every distribution asked for loses its module: repair reinstalls them
            (site_packages(self.venv) / name / "__init__.py").unlink()

    def settle(self) -> None:
        """After a run: the hatch environment's path, now that hatch made it."""
        if self.hatch is not None and not (self.venv / "pyvenv.cfg").exists():
            found = sorted((self.folder / "hatch-data" / "env").glob("**/pyvenv.cfg"))
            if found:
                self.venv = found[0].parent

    def outside(self) -> dict[str, int]:
        """Every path under the folder but the tool's own folders and venvlock's cache, with its size."""
        skipped = {*self.own, self.cache}
        found = {}
        for root, dirs, files in os.walk(self.folder):
            dirs[:] = [d for d in dirs if Path(root, d) not in skipped and d != "__pycache__"]  # the noxfile's
            for name in files:
                path = Path(root, name)
                if path in skipped or name in SKIPPED_FILES:
                    continue
                found[str(path)] = path.lstat().st_size
        return found


def _cache_vars(offline: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in offline.items() if key.startswith("XDG_")}


@pytest.fixture(scope="module")
def chaos_wheels(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test wheels and ``heavy`` (dist-info first, a large module last), in one folder."""
    from test_journal import build_heavy_wheel

    folder = tmp_path_factory.mktemp("chaos-wheels")
    for wheel in wheelhouse.glob("*.whl"):
        if not wheel.name.startswith("heavy"):
            shutil.copy(wheel, folder / wheel.name)
    build_heavy_wheel(folder)
    return folder


class Disk:
    """A small tmpfs mounted for the test (root only), to be filled up: a real ENOSPC."""

    def __init__(self, mount: Path) -> None:
        self.mount = mount
        self.filler = mount / "filler"

    def fill(self, leave: int) -> None:
        """Fill the filesystem but for about *leave* bytes."""
        chunk = b"\0" * (1 << 20)
        with open(self.filler, "wb") as file:
            try:
                while True:
                    file.write(chunk)
                    file.flush()
            except OSError:
                pass
            size = self.filler.stat().st_size
        os.truncate(self.filler, max(0, size - leave))

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def disk(tmp_path: Path) -> object:
    """A mounted 160 MB tmpfs in the test's folder; skipped where it cannot be mounted (not root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a tmpfs for a real ENOSPC needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", str(mount)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield Disk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def _start(project: Project, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the project's command in a process group of its own (a fault signals the group)."""
    return subprocess.Popen(
        project.full_command(),
        env={**project.env, **extra},
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=project.cwd,
    )


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Wait for *process* to end; its exit code and output."""
    out, err = b"", b""
    try:
        out, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode, (out + err).decode(errors="replace")


def _big_written(project: Project) -> bool:
    try:  # settle() walks hatch's data folder while pip adds and removes folders in it
        project.settle()
        return (site_packages(project.venv) / "heavy" / "big.py").stat().st_size >= 1_000_000
    except (OSError, ValueError, StopIteration):
        return False


def _group(pgid: int) -> dict[int, tuple[int, str]]:
    """The processes of group *pgid*: pid -> (parent pid, command line)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes().rpartition(b")")[2].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat[2]) == pgid:
            found[int(entry)] = (int(stat[1]), cmdline)
    return found


def _installer(pgid: int) -> int | None:
    """The pip process of group *pgid* that does the install (the deepest one running ``pip ... install``)."""
    group = _group(pgid)
    pips = {
        pid
        for pid, (_, cmdline) in group.items()
        if pid != pgid and " install" in cmdline and ("-m pip" in cmdline or "/pip " in cmdline)
    }
    deepest = [pid for pid in pips if not any(group[other][0] == pid for other in pips)]
    return deepest[0] if deepest else None


class Outcome(NamedTuple):
    injected: bool
    survived: bool
    details: str


def _judge(project: Project, before: dict[str, int], wanted: tuple[str, ...]) -> Outcome:
    """Run the command again without a fault; whether everything after it is as it must be."""
    again = project.run()
    project.settle()
    verify = run([str(scripts_dir() / "venvlock"), "verify", str(project.venv)], project.env)
    environment = Adapter.environment(str(project.venv))
    locks = {
        Adapter.lock_state(Adapter.lock_path(environment)).state,
        Adapter.lock_state(Adapter.creation_lock_path(environment)).state,
    }
    problems = check_intact(project.venv) if (project.venv / "pyvenv.cfg").exists() else ["no environment"]
    after = project.outside()
    have = set(versions(project.venv)) if not problems else set()
    missing = {*wanted, "beta", "gamma", "delta"} - have
    checks = {
        "the next run failed": again.returncode != 0,
        "verify found damage": verify.returncode != 0,
        "the environment is not whole": bool(problems),
        "a lock is held": not locks <= {"free", "missing"},
        "something outside changed": after != before,
        "something asked for is missing": bool(missing),
    }
    failed = [what for what, bad in checks.items() if bad]
    details = "; ".join(failed)
    if failed:
        details += (
            f"\n--- next run ({again.returncode}):\n{again.stdout[-2000:]}{again.stderr[-3000:]}"
            f"\n--- verify:\n{verify.stdout[-1500:]}{verify.stderr[-500:]}\nproblems {problems}, missing {missing}, "
            f"locks {locks}, outside {set(after.items()) ^ set(before.items())}"
        )
    return Outcome(True, not failed, details)


def _write_row(adapter: str, phase: str, fault: str, injected: bool, survived: bool) -> None:
    table = os.environ.get(TABLE_VAR)
    if table:
        with open(table, "a", encoding="utf-8") as file:
            file.write(f"{adapter} {phase} {fault} {int(injected)} {int(survived)}\n")


def _project(adapter: str, folder: Path, wheels: Path, offline: dict[str, str]) -> Project:
    folder.mkdir(exist_ok=True)
    return Project(adapter, folder, wheels, offline)


CASES = [
    pytest.param(adapter, phase, fault, marks=() if (adapter, phase, fault) in SAMPLE else pytest.mark.slow)
    for adapter in ADAPTERS
    for phase in REACHED[adapter]
    for fault in faults(phase)
]


@pytest.mark.parametrize(("adapter", "phase", "fault"), CASES)
def test_the_run_after_a_fault_leaves_a_whole_environment(
    offline: dict[str, str],
    chaos_wheels: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    adapter: str,
    phase: str,
    fault: str,
) -> None:
    real_disk = phase == "install" and fault == "ENOSPC"
    disk = request.getfixturevalue("disk") if real_disk else None
    folder = disk.mount / "work" if isinstance(disk, Disk) else tmp_path / "work"
    project = _project(adapter, folder, chaos_wheels, offline)
    log = tmp_path / "fault.log"
    wanted = (*WANTED, HEAVY) if phase == "install" else WANTED
    if phase == "install" and adapter != "repair":  # an environment synced before, a requirement added
        project.want(*WANTED)
        first = project.run()
        assert first.returncode == 0, first.stdout + first.stderr
        project.settle()
    project.want(*wanted)
    project.prepare()
    before = project.outside()
    if phase == "heal":  # a sync to heal first: one killed with its journal written
        _finish(_start(project, {"VENVLOCK_TEST_FAULT": "journal:SIGKILL"}))
    extra = {"VENVLOCK_TEST_FAULT_LOG": str(log)}
    if phase != "install":
        extra["VENVLOCK_TEST_FAULT"] = f"{phase}:{fault}"
    if isinstance(disk, Disk):
        disk.fill(leave=512 * 1024)  # heavy's large module is about 1.5 MB
    process = _start(project, extra)
    if phase == "install" and fault != "ENOSPC":
        if not wait_until(lambda: _big_written(project) or process.poll() is not None, 240):
            pytest.fail("the install never reached heavy's large module")
        if process.poll() is None:
            target: int | None = process.pid
            if fault == INSTALLER_ALONE:
                found: list[int | None] = [None]
                wait_until(lambda: (found.__setitem__(0, _installer(process.pid)) or found[0]) or process.poll(), 60)
                target = found[0]
                assert target is not None or process.poll() is not None, _group(process.pid)
            if target is not None and process.poll() is None:
                with open(log, "a") as file:
                    file.write(f"install {fault} {target}\n")
                if fault == INSTALLER_ALONE:
                    os.kill(target, signal.SIGKILL)
                else:
                    os.killpg(target, getattr(signal, fault))
    returncode, output = _finish(process)
    if isinstance(disk, Disk):
        injected = returncode != 0 and "No space left on device" in output
        disk.free()
    else:
        injected = log.exists() and log.read_text().strip() != ""
    outcome = _judge(project, before, wanted) if injected else Outcome(False, False, "")
    _write_row(adapter, phase, fault, injected, outcome.survived)
    assert injected, f"the fault {fault} never landed at {phase} (exit {returncode}):\n{output[-3000:]}"
    assert outcome.survived, outcome.details


#: how many timed cases each adapter gets (a signal and an instant drawn from the seed each)
TIMED_CASES = 3


@pytest.fixture(scope="session")
def chaos_seed() -> int:
    """The timed variant's seed: ``VENVLOCK_CHAOS_SEED``, else a new one; printed (``-s``, or in a failure)."""
    given = os.environ.get(SEED_VAR, "")
    seed = int(given) if given.isdigit() else random.SystemRandom().randrange(1 << 32)
    print(f"\nfault matrix: the timed variant's seed is {seed} (replay it with {SEED_VAR}={seed})")
    return seed


@pytest.mark.slow
@pytest.mark.parametrize(("adapter", "index"), [(a, i) for a in ADAPTERS if a != "repair" for i in range(TIMED_CASES)])
def test_a_fault_at_a_random_instant_leaves_a_whole_environment(
    offline: dict[str, str], chaos_wheels: Path, tmp_path: Path, chaos_seed: int, adapter: str, index: int
) -> None:
    """A cold sync (``alpha`` and ``heavy``) signalled at an instant drawn from the seed within its duration.

    The duration is that of the same cold sync, run first in a folder of its own; when the machine was slower
    then than now (the faulted run ended before the instant), the faulted run's own duration is the next
    attempt's, in a new folder (three attempts).
    """
    rng = random.Random(f"{chaos_seed}-{adapter}-{index}")
    fault = rng.choice(SIGNALS)
    fraction = rng.uniform(0.02, 0.95)
    wanted = (*WANTED, HEAVY)
    reference = _project(adapter, tmp_path / "reference", chaos_wheels, offline)
    reference.want(*wanted)
    started = time.monotonic()
    done = reference.run()
    duration = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    for attempt in range(3):
        project = _project(adapter, tmp_path / f"work-{attempt}", chaos_wheels, offline)
        project.want(*wanted)
        before = project.outside()
        instant = fraction * duration
        said = f"seed {chaos_seed}, case {adapter}-{index}: {fault} at {instant:.2f} s of {duration:.2f} s"
        print(said)
        process = _start(project, {})
        started = time.monotonic()
        injected = not wait_until(lambda run=process: run.poll() is not None, instant - (time.monotonic() - started))
        if injected:
            os.killpg(process.pid, getattr(signal, fault))
        _finish(process)
        if injected:
            break
        duration = time.monotonic() - started
    outcome = _judge(project, before, wanted) if injected else Outcome(False, False, "")
    _write_row(adapter, "timed", fault, injected, outcome.survived)
    if not injected:
        pytest.skip(f"{said}: the run ended before the instant, three times")
    assert outcome.survived, f"{said}: {outcome.details}"


def wait_until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    """Poll *predicate* (an event: a file written) until true or *timeout*."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def print_table(path: str) -> None:
    """The table of a ``nox -s chaos`` run: per adapter and phase, faults injected / survived for each fault."""
    cells: dict[tuple[str, str], dict[str, list[int]]] = {}
    totals = [0, 0, 0]
    with open(path, encoding="utf-8") as file:
        for line in file:
            adapter, phase, fault, injected, survived = line.split()
            counts = cells.setdefault((adapter, phase), {}).setdefault(fault, [0, 0])
            counts[0] += int(injected)
            counts[1] += int(injected) and int(survived)
            totals[0] += 1
            totals[1] += int(injected)
            totals[2] += int(injected) and int(survived)
    columns = [fault for fault in (*FAULTS, "timed") if any(fault in row for row in cells.values())]
    print(f"| adapter | phase | {' | '.join(columns)} |")
    print("|---|---|" + "---|" * len(columns))
    order = {name: index for index, name in enumerate((*PHASES, "timed"))}
    for (adapter, phase), row in sorted(cells.items(), key=lambda cell: _position(cell[0], order)):
        shown = [f"{row[fault][0]}/{row[fault][1]}" if fault in row else "" for fault in columns]
        print(f"| {adapter} | {phase} | {' | '.join(shown)} |")
    print(f"\n{totals[0]} cases, {totals[1]} faults injected, {totals[2]} survived (cells: injected/survived)")


def _position(key: tuple[str, str], order: dict[str, int]) -> tuple[int, int]:
    return ADAPTERS.index(key[0]), order[key[1]]


if __name__ == "__main__":
    print_table(sys.argv[1])
