"""Review of the heal of interrupted syncs: what the next holder removes and puts back, and where.

* An upgrade interrupted while pip installs the new version leaves pip's ``~`` stashes of the old one (their
  names are not a project's: ``~eavy-1.0.dist-info``) beside the half-installed new one: the heal puts the
  project back at a version, never asks pip for ``~eavy==1.0``.
* The heal removes distributions only from the package folders of the environment's own install scheme, never
  from an interpreter's other site folders (Debian's ``dist-packages``, whose dist-infos apt writes without
  INSTALLER and sometimes with files of their RECORD left out).
* What it puts back goes into the environment or nowhere (``PIP_TARGET`` and the like are not followed), and
  ``venvlock run``'s put-back prints nothing on the command's standard output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import check_intact, pip_locked, run, scripts_dir, site_packages, venv_python, wait_for
from test_doctor import flock_shim, tmpfs
from test_journal import assert_interrupted, build_heavy_wheel, heavy_env, interrupt_install

__all__ = ["flock_shim", "heavy_env", "tmpfs"]  # the fixtures, for this module's tests


def _installed(venv: Path) -> list[str]:
    return sorted(entry for entry in os.listdir(site_packages(venv)) if entry.startswith(("heavy", "~")))


@pytest.mark.parametrize("signum", [signal.SIGKILL, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_an_upgrade_interrupted_while_pip_installs_is_put_back_whole(
    heavy_env: dict[str, str], venv: Path, signum: int
) -> None:
    """heavy 1.0 installed, ``install heavy==2.0`` interrupted while pip compiles 2.0 (1.0 stashed as ``~``
    folders): the next run, whatever it asks for, leaves heavy whole, at a version, and no stash."""
    build_heavy_wheel(Path(heavy_env["PIP_FIND_LINKS"]), "2.0")
    first = run([pip_locked(), "install", "heavy==1.0"], heavy_env)
    assert first.returncode == 0, first.stderr
    big = site_packages(venv) / "heavy" / "big.py"
    big.unlink()  # so that the wait below sees 2.0's
    returncode = interrupt_install([pip_locked(), "install", "heavy==2.0"], heavy_env, venv, signum)
    assert returncode != 0
    assert any(entry.startswith("~") for entry in _installed(venv)), _installed(venv)  # pip's stashes of 1.0

    again = run([pip_locked(), "install", "pip"], heavy_env)  # a request that does not name heavy
    assert again.returncode == 0, again.stderr
    assert "~eavy" not in again.stderr and "not reinstalled" not in again.stderr, again.stderr
    assert "repairing 1 distribution and 2 of pip's leftovers" in again.stderr
    assert _installed(venv) == ["heavy", "heavy-2.0.dist-info"]
    assert (site_packages(venv) / "heavy-2.0.dist-info" / "INSTALLER").is_file()
    assert check_intact(venv) == []
    assert (venv / "bin" / "heavy-cli").exists()


def _stash(site: Path, name: str, version: str) -> Path:
    """What pip's uninstall leaves of a dist-info it stashed: the folder renamed with its first letter a ``~``."""
    stash = site / f"~{name[1:]}-{version}.dist-info"
    stash.mkdir()
    (stash / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
    return stash


@pytest.mark.slow  # a real interrupted install: the default suite's budget
def test_a_stash_without_a_distribution_left_is_put_back_at_the_stashed_version(
    heavy_env: dict[str, str], venv: Path
) -> None:
    """pip killed between stashing heavy 1.0 and writing 2.0 leaves only the stash: heavy 1.0 comes back whole."""
    from venvlock.core import Environment
    from venvlock.core._journal import journal_path

    first = run([pip_locked(), "install", "heavy==1.0"], heavy_env)
    assert first.returncode == 0, first.stderr
    site = site_packages(venv)
    (site / "heavy-1.0.dist-info").rename(site / "~eavy-1.0.dist-info")  # as pip's StashedUninstallPathSet does
    (site / "heavy").rename(site / "~eavy")
    journal = journal_path(Environment.for_venv(str(venv)))
    began = time.time_ns()  # the interrupted sync began after heavy 1.0 was installed
    Path(journal).write_text(f"pid {_dead_pid()}\nstart 1\nbegan {began}\ncommand pip install heavy==2.0\n")

    again = run([pip_locked(), "install", "pip"], heavy_env)
    assert again.returncode == 0, again.stderr
    assert "repairing 2 of pip's leftovers" in again.stderr
    assert "not reinstalled" not in again.stderr, again.stderr
    assert _installed(venv) == ["heavy", "heavy-1.0.dist-info"] and check_intact(venv) == []
    assert (site / "heavy-1.0.dist-info" / "INSTALLER").is_file()


def test_an_uninstall_interrupted_between_its_stashes_is_put_back_whole(heavy_env: dict[str, str], venv: Path) -> None:
    """pip interrupted while it stashes heavy's files (its package folder moved to ``~eavy``, its dist-info not yet):
    the heal removed the stash, files and all, and left the dist-info, so heavy was judged installed and did not
    import; now the dist-info whose files were in the stash is removed and heavy put back at its version.  Other
    dist-infos that miss files of their RECORD (virtualenv's pip lists ``__pycache__`` folders) stay as they are."""
    from venvlock.core import Environment
    from venvlock.core._journal import journal_path

    first = run([pip_locked(), "install", "heavy"], heavy_env)
    assert first.returncode == 0, first.stderr
    site = site_packages(venv)
    pip_info = next(site.glob("pip-*.dist-info"))
    began = time.time_ns()
    (site / "heavy").rename(site / "~eavy")  # as pip's StashedUninstallPathSet names it
    journal = journal_path(Environment.for_venv(str(venv)))
    Path(journal).write_text(f"pid {_dead_pid()}\nstart 1\nbegan {began}\ncommand pip uninstall -y heavy\n")

    again = run([pip_locked(), "install", "heavy"], heavy_env)
    assert again.returncode == 0, again.stderr
    assert "repairing 1 distribution and 1 of pip's leftovers" in again.stderr, again.stderr
    assert _installed(venv) == ["heavy", "heavy-1.0.dist-info"] and check_intact(venv) == []
    imported = run([str(venv_python(venv)), "-c", "import heavy.big"], heavy_env)
    assert imported.returncode == 0, imported.stderr
    assert pip_info.is_dir()


@pytest.mark.parametrize("surface", ["pip-locked", pytest.param("run", marks=pytest.mark.slow)])
def test_an_interrupted_put_back_is_healed_in_turn(heavy_env: dict[str, str], venv: Path, surface: str) -> None:
    """The heal's reinstall of what it removed killed in turn (while pip compiles): the journal was cleared before
    it, so the third run took the half-installed heavy for installed; now it stays until the reinstall ends."""
    from test_journal import damage

    interrupt_install([pip_locked(), "install", "heavy"], heavy_env, venv, signal.SIGKILL)
    assert_interrupted(venv)
    (site_packages(venv) / "heavy" / "big.py").unlink()  # so that the wait below sees the reinstall's
    healing = [pip_locked(), "install", "pip"]
    if surface == "run":
        healing = [str(scripts_dir() / "venvlock"), "run", "-p", str(venv), "--", str(venv_python(venv)), "-c", ""]
    assert interrupt_install(healing, heavy_env, venv, signal.SIGKILL) == -signal.SIGKILL
    assert damage(venv), "the kill did not land while the reinstall compiled"

    third = run([pip_locked(), "install", "heavy"], heavy_env)
    assert third.returncode == 0, third.stderr
    assert "`put back heavy==1.0`); repairing 1 distribution" in third.stderr, third.stderr
    assert damage(venv) == []


def test_the_heal_never_removes_from_an_interpreters_other_site_folders(tmp_path: Path) -> None:
    """An interpreter outside any venv (Debian's /usr/bin/python3) reads /usr/lib/python3/dist-packages too,
    where apt writes dist-infos without INSTALLER (and some RECORD-listed files left out): not the heal's."""
    from venvlock.core import Environment, EnvironmentKind
    from venvlock.core._journal import heal, journal_path
    from venvlock.core._scheme import Scheme

    prefix = tmp_path / "usr"
    own = prefix / "local" / "lib" / "python3" / "dist-packages"
    apt = prefix / "lib" / "python3" / "dist-packages"
    for folder in (own, apt):
        folder.mkdir(parents=True)
    for site, name in ((own, "halfway"), (apt, "distro")):  # both: RECORD lists a file that is not there
        info = site / f"{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n\n")
        (info / "RECORD").write_text(f"{name}/__init__.py,,\n{info.name}/METADATA,,\n")
    (apt / "distro").mkdir()
    (apt / "distro" / "__init__.py").write_text("")
    (apt / "distro" / "gone.py").write_text("")  # RECORD lists __init__.py only: this stays whatever happens

    environment = Environment(str(prefix), kind=EnvironmentKind.INTERPRETER, python=sys.executable)
    environment._scheme = Scheme(str(prefix), str(prefix), [str(own)], [str(prefix / "local" / "bin")], [str(apt)])
    assert str(apt) in environment.site_folders()  # verify reads it
    os.environ.setdefault("VENVLOCK_CACHE_DIR", str(tmp_path / "cache"))
    os.makedirs(os.path.dirname(journal_path(environment)), exist_ok=True)
    Path(journal_path(environment)).write_text(f"pid {_dead_pid()}\nstart 1\nbegan 0\ncommand pip install x\n")

    assert heal(environment) == [("halfway", "1.0")]
    assert not (own / "halfway-1.0.dist-info").exists()
    assert (apt / "distro-1.0.dist-info" / "RECORD").is_file() and (apt / "distro" / "__init__.py").is_file()


def _dead_pid() -> int:
    """The pid of a process that has ended (and was reaped)."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


@pytest.mark.parametrize("setting", ["PIP_TARGET", pytest.param("PIP_PREFIX", marks=pytest.mark.slow)])
def test_the_put_back_never_installs_outside_the_environment(
    heavy_env: dict[str, str], venv: Path, tmp_path: Path, setting: str
) -> None:
    """``venvlock run -p VENV -- CMD`` after an interrupted sync, with pip told to install elsewhere: the heal
    removes the half-installed distribution, installs nothing elsewhere, and says so; CMD's output is its own."""
    returncode = interrupt_install([pip_locked(), "install", "heavy"], heavy_env, venv, signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    assert_interrupted(venv)
    elsewhere = tmp_path / "elsewhere"
    command = [str(scripts_dir() / "venvlock"), "run", "-p", str(venv), "--", str(venv_python(venv)), "-c", "print(1)"]
    again = run(command, {**heavy_env, setting: str(elsewhere)})
    assert again.returncode == 0, again.stderr
    assert again.stdout == "1\n"
    assert not elsewhere.exists() or not any(elsewhere.rglob("heavy*")), list(elsewhere.rglob("*"))
    assert f"heavy==1.0: removed (the interrupted sync left it half-installed), not reinstalled ({setting} is set" in (
        again.stderr
    )
    assert check_intact(venv) == [] and not (venv / ".venvlock" / "journal").exists()


@pytest.mark.slow  # the put-back test above checks the output too, with nothing reinstalled
def test_venvlock_runs_put_back_keeps_the_commands_output_its_own(heavy_env: dict[str, str], venv: Path) -> None:
    """The heal's reinstall before ``venvlock run``'s command prints nothing on the command's standard output."""
    interrupt_install([pip_locked(), "install", "heavy"], heavy_env, venv, signal.SIGKILL)
    assert_interrupted(venv)
    command = [str(scripts_dir() / "venvlock"), "run", "-p", str(venv), "--", str(venv_python(venv)), "-c", "print(1)"]
    again = run(command, heavy_env)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "1\n"
    assert "repairing 1 distribution" in again.stderr
    assert (site_packages(venv) / "heavy-1.0.dist-info" / "INSTALLER").is_file() and check_intact(venv) == []


@pytest.mark.slow  # a real interrupted install: the default suite's budget
def test_the_heal_judges_file_times_by_the_file_systems_clock(heavy_env: dict[str, str], venv: Path) -> None:
    """The half-installed dist-info's time comes from the file system's clock (a network one's: the server's,
    here a minute behind this host's), as does the journal's: the heal compares the two, not the process's clock
    with the file's (it took the dist-info for one older than the sync, and the next run for satisfied)."""
    from test_journal import damage
    from venvlock.core import Environment
    from venvlock.core._journal import journal_path

    interrupt_install([pip_locked(), "install", "heavy"], heavy_env, venv, signal.SIGKILL)
    assert_interrupted(venv)
    behind = 60 * 10**9  # every time in the environment as that server stamped it
    assert Path(journal_path(Environment.for_venv(str(venv)))).is_relative_to(venv)
    for folder, _names, files in os.walk(venv):
        for path in [Path(folder), *(Path(folder) / name for name in files)]:
            stamp = path.lstat().st_mtime_ns - behind
            os.utime(path, ns=(stamp, stamp), follow_symlinks=False)

    again = run([pip_locked(), "install", "heavy"], heavy_env)
    assert again.returncode == 0, again.stderr
    assert "repairing 1 distribution" in again.stderr, again.stderr
    assert damage(venv) == []


# ---------------------------------------------------------------------------------------------------------------
# venvlock doctor: its verdict on a lock file is the one a sync meets
# ---------------------------------------------------------------------------------------------------------------
def _venvlock(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run([str(scripts_dir() / "venvlock"), *args], env if env is not None else dict(os.environ))


@pytest.mark.parametrize("present", [(".lock",), ()], ids=["uv-lock-only", "none"])
def test_doctor_names_every_lock_file_a_read_only_environment_cannot_have(
    tmpfs: Path, present: tuple[str, ...]
) -> None:
    """A read-only environment with uv's ``.lock`` but not venvlock's ``.lock.sync`` (or neither): every sync warns
    "cannot lock ... going on unlocked", so the doctor says so and exits 1 (it said "problems: none", exit 0)."""
    env_dir = tmpfs / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=False)
    assert made.returncode == 0
    for name in present:
        (env_dir / name).touch(mode=0o666)
    if subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=False).returncode != 0:
        pytest.skip("cannot remount the tmpfs read-only")
    synced = _venvlock("run", "-p", str(env_dir), "--", sys.executable, "-c", "")
    assert synced.returncode == 0 and "going on unlocked" in synced.stderr, synced.stderr  # what a sync meets

    done = _venvlock("doctor", "-p", str(env_dir), "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    problems = json.loads(done.stdout)["problems"]
    named = {problem.split(" ", 1)[0] for problem in problems}
    expected = {".lock.sync", ".venv.create.lock"} | ({".lock"} if not present else set())
    assert {os.path.basename(name) for name in named} == expected, problems
    assert all("does not exist and cannot be made (the file system is read-only)" in p for p in problems)
    text = _venvlock("doctor", "-p", str(env_dir))
    assert text.returncode == 1 and "problems:         none" not in text.stdout
    assert sorted(os.listdir(env_dir)) == sorted(["bin", "include", "lib", "lib64", "pyvenv.cfg", *present])


# ---------------------------------------------------------------------------------------------------------------
# venvlock verify and repair after an interrupted sync, and repair interrupted itself
# ---------------------------------------------------------------------------------------------------------------
def test_verify_and_repair_see_what_an_interrupted_sync_left(heavy_env: dict[str, str], venv: Path) -> None:
    """pip killed while it compiles leaves heavy looking whole: verify said "No damage found" (exit 0) and repair
    "Nothing to repair"; the journal says otherwise, so verify reports it (exit 1), repair --dry-run names it and
    changes nothing, and repair heals it."""
    from test_journal import damage

    interrupt_install([pip_locked(), "install", "heavy"], heavy_env, venv, signal.SIGKILL)
    assert_interrupted(venv)
    verified = _venvlock("verify", "--json", str(venv), env=heavy_env)
    assert verified.returncode == 1, verified.stdout + verified.stderr
    kinds = [problem["kind"] for problem in json.loads(verified.stdout)["problems"]]
    assert kinds[0] == "interrupted", kinds  # first; and what a look at the files sees, if the kill landed early

    before = sorted(str(path) for path in venv.rglob("*"))
    dry = _venvlock("repair", "--dry-run", str(venv), env=heavy_env)
    assert dry.returncode == 0 and "Would repair what an interrupted sync left half-done" in dry.stdout, dry.stdout
    assert sorted(str(path) for path in venv.rglob("*")) == before

    repaired = _venvlock("repair", str(venv), env=heavy_env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "was interrupted" in repaired.stderr and "repairing 1 distribution" in repaired.stderr
    assert damage(venv) == [] and not (venv / ".venvlock" / "journal").exists()
    assert _venvlock("verify", str(venv), env=heavy_env).returncode == 0


@pytest.mark.slow  # a real interrupted install: the default suite's budget
def test_a_repair_interrupted_while_it_reinstalls_is_healed_by_the_next_run(
    heavy_env: dict[str, str], venv: Path
) -> None:
    """``venvlock repair`` killed while pip compiles its reinstall of heavy: it wrote no journal, so the next run
    took the half-installed heavy for installed; now the repair's journal makes the next holder heal it."""
    from test_journal import damage

    first = run([pip_locked(), "install", "heavy"], heavy_env)
    assert first.returncode == 0, first.stderr
    (site_packages(venv) / "heavy" / "__init__.py").write_text("# changed\n")  # damage repair reinstalls
    (site_packages(venv) / "heavy" / "big.py").unlink()  # so that the wait sees the reinstall's
    killed = interrupt_install([str(scripts_dir() / "venvlock"), "repair", str(venv)], heavy_env, venv, signal.SIGKILL)
    assert killed == -signal.SIGKILL
    assert damage(venv)

    again = run([pip_locked(), "install", "heavy"], heavy_env)
    assert again.returncode == 0, again.stderr
    assert "`venvlock repair`); repairing" in again.stderr, again.stderr
    assert damage(venv) == []


def test_doctor_stopped_while_it_probes_leaves_no_file_and_no_process(flock_shim: Path, tmp_path: Path) -> None:
    """SIGTERM while the probe waits on a lock try that blocks: the doctor ended at once (status -15), leaving its
    probe file in the environment and the blocked probe process running; now it removes both and exits 143.  A
    probe file a killed (SIGKILL) doctor left is removed by the next one."""
    env_dir = tmp_path / "venv"
    assert subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=False).returncode == 0
    stale = env_dir / f".venvlock-doctor-{_dead_pid()}-0badf00d.lock"
    stale.touch()
    shimmed = {**os.environ, "LD_PRELOAD": str(flock_shim), "VENVLOCK_TEST_FLOCK": "hang"}
    doctor = subprocess.Popen(
        [str(scripts_dir() / "venvlock"), "doctor", "-p", str(env_dir)],
        env=shimmed,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:

        def probing() -> list[int]:
            found = []
            for child in Path(f"/proc/{doctor.pid}/task/{doctor.pid}/children").read_text().split():
                try:
                    if b"venvlock_os_lock" in Path(f"/proc/{child}/cmdline").read_bytes():
                        found.append(int(child))
                except OSError:
                    pass
            return found

        assert wait_for(lambda: len(probing()) == 3 or doctor.poll() is not None, 60)
        children = probing()
        assert not stale.exists()
        probe_files = list(env_dir.glob(".venvlock-doctor-*.lock"))
        assert len(probe_files) == 1
        doctor.send_signal(signal.SIGTERM)
        doctor.communicate(timeout=30)
    finally:
        if doctor.poll() is None:
            doctor.kill()
            doctor.wait()
    assert doctor.returncode == 128 + signal.SIGTERM
    assert list(env_dir.glob(".venvlock-doctor-*")) == []
    assert wait_for(lambda: not any(Path(f"/proc/{child}").exists() for child in children), 30)


def test_a_probe_file_of_another_host_is_left_alone(tmp_path: Path) -> None:
    """A doctor on another host sharing the folder (NFS) probes under a pid that means nothing here: its probe
    file, which names its host, is never removed as stale; this host's, and an unnamed one, are."""
    from venvlock.cli.doctor import _host, _remove_stale_probe_files

    dead = _dead_pid()
    other = tmp_path / f".venvlock-doctor-{dead}-00000001.lock"
    other.write_text("another-host.example\n")
    mine = tmp_path / f".venvlock-doctor-{dead}-00000002.lock"
    mine.write_text(_host() + "\n")
    unnamed = tmp_path / f".venvlock-doctor-{dead}-00000003.lock"
    unnamed.touch()
    _remove_stale_probe_files(str(tmp_path))
    assert other.exists() and not mine.exists() and not unnamed.exists()
