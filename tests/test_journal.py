"""The sync journal: an install interrupted for real (SIGKILL of the group, Ctrl-C) is healed by the next run.

The wheel ``heavy`` carries its dist-info first and a large module last, so
pip writes the metadata, then every file, then byte-compiles the large module
(the slow step), and only then writes the console script, INSTALLER and its
own RECORD.  The test kills when the large module is written in full: pip is
compiling.  What it leaves looks installed to pip and to the check (every
file RECORD lists is there) but is not whole (no console script, no
INSTALLER, the wheel's RECORD).  Plain pip and the code before the journal
take it as installed; the journal makes the next holder repair it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest

from helpers.wheel_writer import write_wheel
from support import check_intact, offline_env, pip_locked, run, scripts_dir, site_packages, venv_python, wait_for

#: lines in heavy's large module: enough that byte-compiling it takes a while
_LINES = 30_000


def build_heavy_wheel(dest: Path, version: str = "1.0") -> Path:
    """``heavy`` at *version*: dist-info first in the archive, a console script ``heavy-cli``, a large module
    last (its functions named by the version: each version's files differ)."""
    tag = version.replace(".", "_")
    big = "".join(f"def f{tag}_{i}(a, b=({i}, {i + 1})):\n    return [a, b, {i}]\n" for i in range(_LINES)).encode()
    files = [
        ("heavy/__init__.py", f'__version__ = "{version}"\n\ndef main():\n    return 0\n'.encode()),
        (f"heavy-{version}.dist-info/entry_points.txt", b"[console_scripts]\nheavy-cli = heavy:main\n"),
        ("heavy/big.py", big),
    ]
    built = Path(dest) / write_wheel(dest, "heavy", version, files)
    with zipfile.ZipFile(built) as archive:
        entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
    entries.sort(key=lambda entry: (".dist-info/" not in entry[0], entry[0] == "heavy/big.py"))
    built.unlink()
    with zipfile.ZipFile(built, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return built


@pytest.fixture
def heavy_env(tmp_path: Path, venv: Path) -> dict[str, str]:
    """An offline environment whose only wheel is ``heavy`` (pip byte-compiles: no PYTHONDONTWRITEBYTECODE)."""
    wheels = tmp_path / "heavy-wheels"
    wheels.mkdir()
    build_heavy_wheel(wheels)
    env = offline_env(wheels, VENVLOCK_CACHE_DIR=str(tmp_path / "cache"), VENVLOCK_TIMEOUT="120")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["VIRTUAL_ENV"] = str(venv)
    return env


def _big_written(venv: Path) -> bool:
    try:
        return (site_packages(venv) / "heavy" / "big.py").stat().st_size >= _LINES * 40
    except (OSError, ValueError):  # not there yet (nor, for an environment a tool creates, its site-packages)
        return False


def _children(pid: int) -> list[int]:
    try:
        return [int(word) for word in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def interrupt_install(
    command: list[str], env: dict[str, str], venv: Path, signum: int, *, child_alone: bool = False
) -> int:
    """Run *command* in a new process group, send *signum* to the group while pip compiles; its exit code.

    *child_alone*: to the installer child alone (the process *command* started), not the group.
    """
    process = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: _big_written(venv) or process.poll() is not None, timeout=240)
        assert process.poll() is None, "the install ended before it could be interrupted"
        if child_alone:
            (child,) = _children(process.pid)
            os.kill(child, signum)
        else:
            os.killpg(process.pid, signum)
        process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def damage(venv: Path) -> list[str]:
    """What an interrupted install of heavy left: besides check_intact's, no INSTALLER and no console script."""
    site = site_packages(venv)
    problems = check_intact(venv)
    info = site / "heavy-1.0.dist-info"
    if info.is_dir() and not (info / "INSTALLER").is_file():
        problems.append("heavy-1.0.dist-info: no INSTALLER (the install did not end)")
    if info.is_dir() and not (venv / "bin" / "heavy-cli").exists():
        problems.append("heavy-cli: console script missing")
    return problems


def assert_interrupted(venv: Path) -> None:
    site = site_packages(venv)
    assert (site / "heavy-1.0.dist-info" / "METADATA").is_file()
    assert damage(venv), "the kill did not land while pip was compiling"
    assert (venv / ".venvlock" / "journal").is_file()


@pytest.mark.parametrize(
    ("signum", "child_alone"),
    [
        (signal.SIGKILL, False),
        pytest.param(signal.SIGINT, False, marks=pytest.mark.slow),
        pytest.param(signal.SIGKILL, True, marks=pytest.mark.slow),
    ],
    ids=["SIGKILL", "SIGINT", "SIGKILL-installer-alone"],
)
def test_pip_locked_interrupted_install_is_healed_by_the_next_run(
    heavy_env: dict[str, str], venv: Path, signum: int, child_alone: bool
) -> None:
    command = [pip_locked(), "install", "heavy"]
    returncode = interrupt_install(command, heavy_env, venv, signum, child_alone=child_alone)
    assert returncode != 0
    assert_interrupted(venv)

    again = run(command, heavy_env)
    assert again.returncode == 0, again.stderr
    assert damage(venv) == []
    assert f"venvlock: the last sync of {venv} was interrupted (pid " in again.stderr
    assert "`pip install heavy`); repairing 1 distribution" in again.stderr
    assert not (venv / ".venvlock" / "journal").exists()
    verify = run([str(scripts_dir() / "venvlock"), "verify", str(venv)], heavy_env)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    third = run(command, heavy_env)  # healed: the next run is a no-op again, and says nothing about it
    assert third.returncode == 0 and "interrupted" not in third.stderr


@pytest.mark.slow  # pip-locked's case is the default one; venvlock run's journal is in the fault matrix sample
def test_venvlock_run_interrupted_install_is_healed_by_the_next_run(heavy_env: dict[str, str], venv: Path) -> None:
    command = [str(scripts_dir() / "venvlock"), "run", "-p", str(venv), "--", str(venv_python(venv)), "-m", "pip"]
    returncode = interrupt_install([*command, "install", "heavy"], heavy_env, venv, signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    assert_interrupted(venv)

    again = run([*command, "install", "heavy"], heavy_env)
    assert again.returncode == 0, again.stderr
    assert damage(venv) == []
    assert "was interrupted" in again.stderr and "repairing 1 distribution" in again.stderr
    assert not (venv / ".venvlock" / "journal").exists()


def test_a_failed_install_leaves_a_journal_that_heals_silently(heavy_env: dict[str, str], venv: Path) -> None:
    """pip failing by itself (no such project) leaves nothing half-done: the next run clears the journal quietly."""
    failed = run([pip_locked(), "install", "no-such-project"], heavy_env)
    assert failed.returncode == 1
    assert (venv / ".venvlock" / "journal").is_file()
    again = run([pip_locked(), "install", "pip"], heavy_env)
    assert again.returncode == 0, again.stderr
    assert "interrupted" not in again.stderr
    assert damage(venv) == [] and not (venv / ".venvlock" / "journal").exists()


@pytest.mark.slow
def test_tox_interrupted_install_is_healed_by_the_next_run(
    heavy_env: dict[str, str], wheelhouse: Path, tmp_path: Path
) -> None:
    """tox interrupted by Ctrl-C while pip installs an added dependency: the next ``tox`` repairs, then runs.

    tox's plugin marks the environment half-built around any install of it, so the next run recreates it (the
    journal's heal is the second line of defence there); slow: it runs tox three times.
    """
    from helpers.tox_project import TOX, problems_of, tox_env, write_project

    wheels = Path(heavy_env["PIP_FIND_LINKS"])
    for wheel in wheelhouse.glob("*.whl"):
        if not wheel.name.startswith("heavy"):
            shutil.copy(wheel, wheels / wheel.name)
    env = tox_env(wheels, tmp_path)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    project = write_project(tmp_path / "project", deps=("alpha",))
    first = subprocess.run([TOX, "-e", "py"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    write_project(project, deps=("alpha", "heavy"))  # a dependency added: tox installs it into the existing env
    venv = project / ".tox" / "py"
    process = subprocess.Popen(
        [TOX, "-e", "py"],
        cwd=project,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for(lambda: ((venv / "lib").is_dir() and _big_written(venv)) or process.poll() is not None, 240)
        assert process.poll() is None, "tox ended before it could be interrupted"
        os.killpg(process.pid, signal.SIGINT)
        process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert_interrupted(venv)

    again = subprocess.run([TOX, "-e", "py"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert problems_of(project) == [] and damage(venv) == []
    said = again.stderr + again.stdout  # tox's plugin recreates a half-built env; else the journal heals it
    assert "half-built; recreating it" in said or "was interrupted" in said


@pytest.mark.slow
def test_what_the_heal_removes_is_put_back_at_its_version_whatever_the_next_request(
    heavy_env: dict[str, str], venv: Path
) -> None:
    """The next request does not name the half-installed project: the heal reinstalls it at its version anyway."""
    interrupt_install([pip_locked(), "install", "heavy"], heavy_env, venv, signal.SIGKILL)
    assert_interrupted(venv)
    again = run([pip_locked(), "install", "pip"], heavy_env)  # satisfied: no installer of its own would run
    assert again.returncode == 0, again.stderr
    assert damage(venv) == []
    assert (site_packages(venv) / "heavy-1.0.dist-info" / "INSTALLER").is_file()
    assert "repairing 1 distribution" in again.stderr and "not reinstalled" not in again.stderr


def test_a_sync_nested_in_venvlock_run_leaves_the_outer_journal_alone(heavy_env: dict[str, str], venv: Path) -> None:
    """``venvlock run -- pip-locked install``: the inner sync goes on under the outer hold, its journal too."""
    venvlock = str(scripts_dir() / "venvlock")
    nested = run([venvlock, "run", "-p", str(venv), "--", pip_locked(), "install", "--no-compile", "heavy"], heavy_env)
    assert nested.returncode == 0, nested.stderr
    assert "interrupted" not in nested.stderr
    assert damage(venv) == [] and not (venv / ".venvlock" / "journal").exists()


def test_a_journal_is_left_behind_only_by_a_process_that_is_gone(venv: Path) -> None:
    """A live holder's journal is its own (an outer holder); a dead or reused pid's, or this process's, is left."""
    import sys

    from venvlock.core import Environment
    from venvlock.core._journal import journal_path, process_start, read

    environment = Environment.for_venv(str(venv))
    (venv / ".venvlock").mkdir(exist_ok=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert wait_for(lambda: process_start(sleeper.pid) != "")
        for start, left in ((process_start(sleeper.pid), False), ("1", True)):  # "1": the pid was reused
            Path(journal_path(environment)).write_text(f"pid {sleeper.pid}\nstart {start}\nbegan 0\ncommand x\n")
            entry = read(environment)
            assert entry is not None and entry.left_behind() is left
    finally:
        sleeper.communicate(b"")
    entry = read(environment)
    assert entry is not None and entry.left_behind()  # the holder is gone
    Path(journal_path(environment)).write_text(f"pid {os.getpid()}\nstart {process_start(os.getpid())}\n")
    entry = read(environment)
    assert entry is not None and entry.ours() and entry.left_behind()


NOXFILE = """
import nox
from venvlock.plugins.nox import session


@session(venv_backend="virtualenv", reuse_venv=True)
def heavy(session):
    session.install("heavy")
    session.run("python", "-c", "import heavy")
"""


@pytest.mark.slow
def test_nox_interrupted_install_is_healed_by_the_next_run(heavy_env: dict[str, str], tmp_path: Path) -> None:
    """nox (reused environment) interrupted by SIGKILL of its group while pip compiles: the next nox is whole.

    nox's plugin marks an environment provisioned only once its session's installs ended, so the next run
    recreates it; the journal is the second line of defence there.
    """
    import sys

    project = tmp_path / "project"
    project.mkdir()
    (project / "noxfile.py").write_text(NOXFILE)
    env = {key: value for key, value in heavy_env.items() if key != "VIRTUAL_ENV"}
    command = [sys.executable, "-m", "nox", "-s", "heavy"]
    venv = project / ".nox" / "heavy"
    process = subprocess.Popen(
        command, cwd=project, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert wait_for(lambda: _big_written(venv) or process.poll() is not None, 240)
        assert process.poll() is None, "nox ended before it could be interrupted"
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert damage(venv)

    again = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert damage(venv) == []
    said = again.stderr + again.stdout  # the plugin's provisioned marker recreates it; else the journal heals it
    assert "not completely provisioned" in said or "was interrupted" in said, said


@pytest.mark.slow
def test_hatch_interrupted_install_is_healed_by_the_next_run(heavy_env: dict[str, str], tmp_path: Path) -> None:
    """hatch (``type = "venvlock"``) killed with its group while pip compiles an env dependency: the next run is whole.

    The environment's creation has ended (its half-built marker is cleared) when hatch syncs its dependencies, so
    it is the journal that makes the next run repair the half-installed distribution; slow: it runs hatch twice.
    """
    pytest.importorskip("hatch")
    from helpers.hatch_project import HatchProject

    offline = {key: value for key, value in heavy_env.items() if key != "VIRTUAL_ENV"}
    project = HatchProject(tmp_path / "proj", offline)
    project.configure(project_dependencies=(), env_dependencies=("heavy",), hook=False)
    data = project.base / "hatch-data"

    def big_written() -> bool:
        try:  # pip adds and removes folders while the tree is walked
            return any(path.stat().st_size >= _LINES * 40 for path in data.glob("env/**/site-packages/heavy/big.py"))
        except FileNotFoundError:
            return False

    process = project.start("run", "python", "-c", "import heavy")
    try:
        assert wait_for(lambda: big_written() or process.poll() is not None, 240)
        assert process.poll() is None, "hatch ended before it could be interrupted"
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    (big,) = data.glob("env/**/site-packages/heavy/big.py")
    venv = next(parent for parent in big.parents if (parent / "pyvenv.cfg").is_file())
    assert_interrupted(venv)

    again = project.hatch("run", "python", "-c", "import heavy")
    assert again.returncode == 0, again.stdout + again.stderr
    assert damage(venv) == []
    assert "was interrupted" in again.stderr and "repairing 1 distribution" in again.stderr, again.stderr
    assert not (venv / ".venvlock" / "journal").exists()
    verify = run([str(scripts_dir() / "venvlock"), "verify", str(venv)], offline)
    assert verify.returncode == 0, verify.stdout + verify.stderr
