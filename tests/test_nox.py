"""The nox adapter (``venvlock.plugins.nox``), tested with real nox processes running at once.

Every scenario starts real ``nox`` subprocesses on a real noxfile, installing
from a local wheel folder (no network).  The same noxfile runs stock
``nox.session`` when ``TEST_PLAIN`` is set: those are the controls, which show
the scenario fails without venvlock on this machine (or say it could not be
provoked).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from helpers.nox_project import (
    build_nox_wheels,
    describe,
    nox_command,
    nox_env,
    other_python,
    provisioned_marker,
    run_nox,
    start_nox,
    venv_problems,
    write_project,
)
from support import install_probe, past, read_probe, run_many, site_packages, wait_for

nox = pytest.importorskip("nox")
pytest.importorskip("virtualenv")
pytestmark = pytest.mark.skipif(os.name == "nt", reason="kills process groups; POSIX only")

# the unit tests of the patch and of the install-argument parsers need the adapter's private modules
from venvlock._uv import changes_meaning  # noqa: E402
from venvlock.adapter import installs_elsewhere  # noqa: E402
from venvlock.plugins.nox import VenvlockNoxWarning, _patch, _state, apply_patch  # noqa: E402
from venvlock.plugins.nox import proxy as nox_proxy  # noqa: E402

Env = dict[str, str]
Killed = list[subprocess.Popen[str]]


# --------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nox_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_nox_wheels(tmp_path_factory.mktemp("nox-wheels"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project")


@pytest.fixture
def env(nox_wheels: Path, tmp_path: Path) -> dict[str, str]:
    return nox_env(nox_wheels, tmp_path)


def assert_all_ok(results: Sequence[subprocess.CompletedProcess[str]], venv: Path) -> None:
    assert [r.returncode for r in results] == [0] * len(results), describe(results)
    assert venv_problems(venv) == []
    assert provisioned_marker(venv).exists()


# --------------------------------------------------------------------------------------------------
# control: stock nox on the same scenarios
# --------------------------------------------------------------------------------------------------
@pytest.mark.slow  # a stock-tool control: CI runs it; the protected race is test_concurrent_reuse_runs
def test_control_stock_nox_concurrent_runs_break(project: Path, env: dict[str, str]) -> None:
    """8 concurrent ``nox -s tests -r`` with plain ``nox.session`` from a fresh ``.nox`` (no venvlock)."""
    results = run_many([nox_command("-s", "tests", "-r")] * 8, env={**env, "TEST_PLAIN": "1"}, cwd=project)
    failed = sum(r.returncode != 0 for r in results)
    problems = venv_problems(project / ".nox" / "tests")
    if not failed and not problems:
        pytest.skip("control: 8 concurrent stock nox runs all succeeded here; the race could not be provoked")
    assert failed or problems


@pytest.mark.slow  # a second control of this tool; the first stays in the default suite
def test_control_stock_nox_reuses_half_built_venv(project: Path, env: dict[str, str], killed: Killed) -> None:
    """A stock run killed during its installs leaves a venv that ``-R`` reuses, with installs skipped."""
    plain = {**env, "TEST_PLAIN": "1"}
    flag = project / "hanging"
    hang = {"TEST_HANG": str(flag), "TEST_HANG_AT": "install"}
    first = start_nox(project, {**plain, **hang}, "-s", "provision")
    killed.append(first)
    assert wait_for(flag.exists, timeout=120), first.communicate()[0] if first.poll() is not None else ""
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    rerun = run_nox(project, plain, "-s", "provision", "-R")
    if rerun.returncode == 0:
        pytest.skip("control: stock nox -R succeeded on the half-built venv; could not be provoked")
    assert "No module named" in rerun.stdout + rerun.stderr


# --------------------------------------------------------------------------------------------------
# concurrency, protected
# --------------------------------------------------------------------------------------------------
@pytest.mark.slow  # nox's race ended is test_concurrent_reuse_runs in the default suite
@pytest.mark.parametrize("processes", [4, 8])
def test_concurrent_plain_runs(project: Path, env: dict[str, str], processes: int) -> None:
    """Concurrent ``nox -s tests`` (each deletes and recreates the venv): they take turns."""
    results = run_many([nox_command("-s", "tests")] * processes, env={**env, "TEST_BACKEND": "uv"}, cwd=project)
    assert_all_ok(results, project / ".nox" / "tests")
    output = "".join(r.stdout + r.stderr for r in results)
    assert "held by pid" in output and ": nox -s tests" in output  # the waiting line names the holder


@pytest.mark.parametrize(
    "processes", [2, pytest.param(4, marks=pytest.mark.slow), pytest.param(8, marks=pytest.mark.slow)]
)
def test_concurrent_reuse_runs(project: Path, env: dict[str, str], processes: int) -> None:
    """Concurrent ``nox -s tests -r`` from a fresh ``.nox``: one creates, the others reuse and skip pip."""
    results = run_many([nox_command("-s", "tests", "-r")] * processes, env=env, cwd=project)
    assert_all_ok(results, project / ".nox" / "tests")
    output = "".join(r.stdout + r.stderr for r in results)
    assert output.count("Creating virtual environment") == 1
    assert "already satisfied, skipped by venvlock" in output


@pytest.mark.parametrize(
    "processes", [pytest.param(4, marks=pytest.mark.slow), pytest.param(8, marks=pytest.mark.slow)]
)
def test_plain_run_with_concurrent_reinstall_free_runs(project: Path, env: dict[str, str], processes: int) -> None:
    """From a fresh ``.nox``, 1 plain run (recreates the venv) and the other processes ``-R`` runs, at once."""
    commands = [nox_command("-s", "tests")] + [nox_command("-s", "tests", "-R")] * (processes - 1)
    results = run_many(commands, env=env, cwd=project)
    assert_all_ok(results, project / ".nox" / "tests")


# --------------------------------------------------------------------------------------------------
# provisioning completeness
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "moment", [pytest.param("install-step", marks=pytest.mark.slow), pytest.param("pip", marks=pytest.mark.slow)]
)
def test_run_killed_during_installs_is_rebuilt(project: Path, env: Env, killed: Killed, moment: str) -> None:
    """SIGKILL during the installs (between two, or inside pip); the next ``-R`` run rebuilds the venv."""
    venv = project / ".nox" / "provision"
    flag = project / "hanging"
    if moment == "install-step":  # uv: quick
        env = {**env, "TEST_BACKEND": "uv"}
        hang = {"TEST_HANG": str(flag), "TEST_HANG_AT": "install"}
    else:  # virtualenv and pip, which takes seconds to unpack "big"
        hang = {}
    first = start_nox(project, {**env, **hang}, "-s", "provision")
    killed.append(first)
    if moment == "install-step":
        started = flag.exists
    else:

        def started() -> bool:
            try:
                return (site_packages(venv) / "big").exists()
            except ValueError:  # no site-packages yet
                return False

    assert wait_for(started, timeout=120), first.communicate()[0] if first.poll() is not None else ""
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not provisioned_marker(venv).exists()

    rerun = run_nox(project, env, "-s", "provision", "-R")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "was not completely provisioned" in rerun.stderr
    assert venv_problems(venv, "import alpha, big, gamma") == []
    # now complete: the next -R reuses it as it is
    again = run_nox(project, env, "-s", "provision", "-R")
    assert again.returncode == 0 and "not completely provisioned" not in again.stderr
    assert "Reusing existing virtual environment" in again.stderr


def test_a_session_that_stops_itself_after_its_installs_leaves_a_reusable_venv(project: Path, env: Env) -> None:
    """``session.skip()`` or ``session.error()`` after the installs ends the session, as its commands would: the
    venv is provisioned and ``-r`` reuses it, as stock nox does.  Before, every rerun rebuilt it as "not completely
    provisioned"."""
    assert run_nox(project, {**env, "TEST_STOP": "skip"}, "-s", "stops").returncode == 0
    for stop, code in (("error", 1), ("skip", 0)):
        rerun = run_nox(project, {**env, "TEST_STOP": stop}, "-s", "stops", "-r")
        assert rerun.returncode == code, rerun.stderr
        assert "Reusing existing virtual environment" in rerun.stderr, rerun.stderr
        assert "already satisfied, skipped by venvlock" in rerun.stderr, rerun.stderr


def test_a_venv_folder_that_is_a_symbolic_link_is_never_replaced(project: Path, env: Env, tmp_path: Path) -> None:
    """``.nox/tests`` a link to a venv elsewhere, left half-built: venvlock cannot rebuild it without deleting
    through the link, so it says so and leaves it to nox, which reuses it as stock nox does.  Before, it removed
    the link and built a new venv in ``.nox``, leaving the linked one stale."""
    from venvlock.adapter import Marker

    assert run_nox(project, {**env, "TEST_PLAIN": "1"}, "-s", "tests").returncode == 0
    elsewhere, link = tmp_path / "elsewhere", project / ".nox" / "tests"
    link.rename(elsewhere)
    link.symlink_to(elsewhere, target_is_directory=True)
    Marker.incomplete(link, tool="nox").set()
    rerun = run_nox(project, env, "-s", "tests", "-r")
    assert rerun.returncode == 0, rerun.stderr
    assert link.is_symlink() and "is a symbolic link" in rerun.stderr, rerun.stderr
    assert "Reusing existing virtual environment" in rerun.stderr
    assert venv_problems(elsewhere) == []


def test_a_venv_built_without_venvlock_is_reused_as_stock_nox_reuses_it(project: Path, env: Env) -> None:
    """A venv made by stock nox (no venvlock marker of any kind), reused with ``-R`` when the installer cannot
    reach the packages: stock nox reuses it and passes; so does venvlock, touching nothing.  Before, venvlock
    deleted it to rebuild it "once to be sure", and the rebuild's installs failed."""
    assert run_nox(project, {**env, "TEST_PLAIN": "1"}, "-s", "tests").returncode == 0
    venv = project / ".nox" / "tests"
    offline_nowhere = {**env, "PIP_FIND_LINKS": str(project / "no-wheels-here")}
    for flag in ("-R", "-r"):  # -r: the installs are judged, all satisfied
        rerun = run_nox(project, offline_nowhere, "-s", "tests", flag)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert "recreating" not in rerun.stderr and "Reusing existing virtual environment" in rerun.stderr
    assert venv_problems(venv) == []


# --------------------------------------------------------------------------------------------------
# skipping satisfied installs
# --------------------------------------------------------------------------------------------------
def pip_installs(log: Path) -> int:
    return len(read_probe(log))


@pytest.mark.slow
def test_reuse_rerun_starts_no_pip_until_changed(project: Path, env: dict[str, str], tmp_path: Path) -> None:
    venv = project / ".nox" / "tests"
    assert run_nox(project, env, "-s", "tests").returncode == 0
    install_probe(venv)
    log = tmp_path / "probe.log"
    probed = {**env, "VENVLOCK_PROBE_LOG": str(log)}

    rerun = run_nox(project, probed, "-s", "tests", "-r")
    assert rerun.returncode == 0, rerun.stderr
    assert pip_installs(log) == 0
    assert rerun.stderr.count("already satisfied, skipped by venvlock") == 2

    (project / "requirements.txt").write_text("alpha==2.0\ngamma\nzeta\n")  # the -r file's content changed
    rerun = run_nox(project, probed, "-s", "tests", "-r")
    assert rerun.returncode == 0, rerun.stderr
    assert pip_installs(log) == 1
    assert rerun.stderr.count("already satisfied, skipped by venvlock") == 1

    log.unlink()
    rerun = run_nox(project, {**probed, "TEST_SPEC": "alpha==1.0"}, "-s", "tests", "-r")  # a changed spec
    assert rerun.returncode == 0, rerun.stderr
    assert pip_installs(log) == 1
    assert venv_problems(venv) == []


def test_a_repeated_reuse_noop_is_proved_in_a_few_stats_and_a_change_steps_aside(
    project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """The fast path's entries (``venvlock._fast``) serve nox's installs too: once a reuse found them in sync, the
    next identical one is proved by stats, without reading the request (before: every reuse parsed it anew)."""
    venv = project / ".nox" / "tests"
    assert run_nox(project, env, "-s", "tests").returncode == 0
    install_probe(venv)
    log, modules = tmp_path / "probe.log", tmp_path / "modules.txt"
    probed = {**env, "VENVLOCK_PROBE_LOG": str(log), "TEST_MODULES": str(modules)}
    # what a reading looks at, dated back: a file changed within 2 s of a reading proves nothing yet
    past(project, project / "requirements.txt", venv / "pyvenv.cfg", site_packages(venv))
    reading = "venvlock._pip.requirements"

    for proved in (False, True):  # the first reuse reads and writes the entries, the second is proved by them
        rerun = run_nox(project, probed, "-s", "tests", "-r")
        assert rerun.returncode == 0, rerun.stderr
        assert rerun.stderr.count("already satisfied, skipped by venvlock") == 2, rerun.stderr
        assert (reading not in modules.read_text().split()) is proved
    assert pip_installs(log) == 0

    (project / "requirements.txt").write_text("alpha==2.0\ngamma\nzeta\n")
    past(project / "requirements.txt")
    rerun = run_nox(project, probed, "-s", "tests", "-r")
    assert rerun.returncode == 0, rerun.stderr
    assert pip_installs(log) == 1  # the changed file: read, judged, installed
    assert reading in modules.read_text().split()
    assert rerun.stderr.count("already satisfied, skipped by venvlock") == 1
    assert venv_problems(venv) == []


def test_an_install_pip_sends_elsewhere_runs_every_time(project: Path, env: dict[str, str], tmp_path: Path) -> None:
    """``session.install("--target", folder, ...)``: pip's options are read only when no fast-path entry proves an
    install, and an install they send elsewhere is never judged against the venv, nor proved by an entry."""
    venv, target = project / ".nox" / "tests", tmp_path / "target"
    elsewhere = {**env, "TEST_TARGET": str(target)}
    assert run_nox(project, elsewhere, "-s", "tests").returncode == 0
    past(project, project / "requirements.txt", venv / "pyvenv.cfg", site_packages(venv))
    for _ in range(2):  # the second: the venv's two installs proved by their entries, the target's run again
        shutil.rmtree(target)
        rerun = run_nox(project, elsewhere, "-s", "tests", "-r")
        assert rerun.returncode == 0, rerun.stderr
        assert rerun.stderr.count("already satisfied, skipped by venvlock") == 2, rerun.stderr
        assert (target / "eta").is_dir(), rerun.stderr  # pip installed it there


def test_protect_all_and_install_and_run_script(project: Path, env: dict[str, str]) -> None:
    """``protect_all()`` covers plain ``@nox.session`` functions; PEP 723 script installs are skipped too."""
    uv = {**env, "TEST_BACKEND": "uv", "TEST_PROTECT_ALL": "1"}
    for session in ("unmarked", "script"):
        assert run_nox(project, uv, "-s", session).returncode == 0
        marker = provisioned_marker(project / ".nox" / session)
        written = marker.stat()
        rerun = run_nox(project, uv, "-s", session, "-r")
        assert rerun.returncode == 0, rerun.stderr
        assert "already satisfied, skipped by venvlock" in rerun.stderr
        again = marker.stat()  # the no-op rerun kept the marker and wrote nothing
        assert (again.st_ino, again.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert "script ran" in rerun.stdout + rerun.stderr
    # without protect_all(), a plain @nox.session is left alone
    rerun = run_nox(project, {**env, "TEST_BACKEND": "uv"}, "-s", "unmarked", "-r")
    assert rerun.returncode == 0 and "skipped by venvlock" not in rerun.stderr


def test_local_paths_go_to_the_installer(project: Path, env: Env, nox_wheels: Path) -> None:
    """A wheel path is for the installer to judge: it runs every time; a plain specifier is skipped."""
    local = {**env, "TEST_BACKEND": "uv", "TEST_WHEEL": str(next(nox_wheels.glob("delta-*.whl")))}
    assert run_nox(project, local, "-s", "local").returncode == 0
    rerun = run_nox(project, local, "-s", "local", "-r")
    assert rerun.returncode == 0, rerun.stderr
    lines = [line for line in rerun.stderr.splitlines() if "pip install" in line]
    assert len(lines) == 2 and "skipped" not in lines[0] and "skipped by venvlock" in lines[1]


def test_uv_settings_that_change_a_request_go_to_the_installer(tmp_path: Path) -> None:
    system = tmp_path / "xdg"
    config = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CONFIG_DIRS": str(system)}
    project = tmp_path / "project"
    project.mkdir()
    assert not changes_meaning({**config, "UV_FIND_LINKS": "x", "UV_PYTHON": ".nox/tests"}, str(project))
    assert changes_meaning({**config, "UV_CONSTRAINT": "c.txt"}, str(project))
    # before: a system configuration in $XDG_CONFIG_DIRS (uv reads it before /etc/uv) was never looked at
    (system / "uv").mkdir(parents=True)
    (system / "uv" / "uv.toml").write_text("[pip]\nupgrade = true\n")
    assert changes_meaning(config, str(project))
    (system / "uv" / "uv.toml").unlink()
    (project / "pyproject.toml").write_text("[tool.uv.pip]\nreinstall = true\n")
    assert changes_meaning(config, str(project))
    assert not changes_meaning({**config, "UV_NO_CONFIG": "1"}, str(project))


def test_pip_settings_seen_by_the_check_are_the_installers(monkeypatch: Any) -> None:
    monkeypatch.setenv("PIP_CONSTRAINT", "outer.txt")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    effective = nox_proxy._effective_env({"PIP_CONSTRAINT": "session.txt", "PIP_NO_INDEX": None}, {})
    with nox_proxy._pip_settings_as(effective):
        assert os.environ.get("PIP_CONSTRAINT") == "session.txt" and "PIP_NO_INDEX" not in os.environ
    assert os.environ["PIP_CONSTRAINT"] == "outer.txt" and os.environ["PIP_NO_INDEX"] == "1"


@pytest.mark.slow  # a variant: nox's default backend (virtualenv) is in every other test here; venv runs ensurepip
def test_venv_backend(project: Path, env: dict[str, str]) -> None:
    venv_env = {**env, "TEST_BACKEND": "venv"}
    first = run_nox(project, venv_env, "-s", "tests")
    assert first.returncode == 0, first.stderr
    rerun = run_nox(project, venv_env, "-s", "tests", "-r")
    assert rerun.returncode == 0 and rerun.stderr.count("already satisfied, skipped by venvlock") == 2
    assert venv_problems(project / ".nox" / "tests") == []


def test_reusing_runs_share_the_venv_while_commands_run(project: Path, env: Env, killed: Killed) -> None:
    """The creation lock is held exclusively only to create, reuse and provision: a session's commands run under the
    shared side, so ``-r`` runs of one session run their commands side by side (as with stock nox), and a run that
    recreates the venv waits for them.  Before: every run held it exclusively to its end, so a second ``-r`` run
    waited for all of the first one's commands."""
    from venvlock.adapter import Adapter

    creation_lock = Adapter.creation_lock_path(Adapter.environment(project / ".nox" / "tests"))
    hanging = []
    for number, args in enumerate([("-s", "tests"), ("-s", "tests", "-r")]):  # creates (then shares); reuses sharing
        flag = project / f"hanging-{number}"
        run = start_nox(project, {**env, "TEST_HANG": str(flag), "TEST_HANG_AT": "run"}, *args)
        killed.append(run)
        hanging.append(run)
        assert wait_for(flag.exists, timeout=120), run.communicate()[0] if run.poll() is not None else ""
        assert Adapter.lock_state(creation_lock).state == "shared"

    reuse = run_nox(project, {**env, "VENVLOCK_TIMEOUT": "30"}, "-s", "tests", "-r")
    assert reuse.returncode == 0, reuse.stderr
    assert "Waiting for lock" not in reuse.stderr and "Reusing existing virtual environment" in reuse.stderr
    assert reuse.stderr.count("already satisfied, skipped by venvlock") == 2, reuse.stderr

    recreate = run_nox(project, {**env, "VENVLOCK_TIMEOUT": "1"}, "-s", "tests")  # would delete the venv in use
    assert recreate.returncode != 0 and "timed out" in recreate.stderr, recreate.stderr
    assert all(run.poll() is None for run in hanging)
    assert venv_problems(project / ".nox" / "tests") == []
    assert provisioned_marker(project / ".nox" / "tests").exists()


def test_a_reusing_run_that_waited_for_a_creation_shares_the_venv_once_it_is_provisioned(
    project: Path, env: Env, killed: Killed, tmp_path: Path
) -> None:
    """``nox -s provision -r`` twice from a fresh ``.nox``: the second waits while the first creates and provisions
    the venv, then reuses it beside the first one's commands.  Before, it queued for the exclusive side and waited
    for all of the first one's commands too."""
    paused, resume, hanging, output = project / "paused", project / "resume", project / "hanging", tmp_path / "out"
    pause = {"TEST_PAUSE": str(paused), "TEST_RESUME": str(resume), "TEST_HANG": str(hanging), "TEST_HANG_AT": "run"}
    first = start_nox(project, {**env, **pause}, "-s", "provision", "-r")
    killed.append(first)
    assert wait_for(paused.exists, timeout=120), first.communicate()[0] if first.poll() is not None else ""
    with output.open("w") as out:
        second = subprocess.Popen(
            nox_command("-s", "provision", "-r"), cwd=project, env={**env, "VENVLOCK_TIMEOUT": "30"},
            stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
    killed.append(second)
    assert wait_for(lambda: "Waiting for lock" in output.read_text(), timeout=120), output.read_text()
    resume.touch()
    assert second.wait(timeout=120) == 0, output.read_text()
    assert "Reusing existing virtual environment" in output.read_text()
    assert hanging.exists() and first.poll() is None  # the first one's commands still run


@pytest.mark.slow  # four nox runs, two of them creations: about 20 s on two busy cores
def test_a_sharing_run_killed_in_its_installs_is_rebuilt_though_another_marked_the_venv(
    project: Path, env: Env, killed: Killed
) -> None:
    """Runs sharing a venv: one is killed inside an install after another, going on to its commands, marked the
    venv provisioned.  The killed install's journal outlives it, so the next ``-R`` rebuilds the venv; before, it
    reused it as complete."""
    venv = project / ".nox" / "provision"
    assert run_nox(project, env, "-s", "provision").returncode == 0
    paused, resume, hanging = project / "paused", project / "resume", project / "hanging"
    marking = start_nox(
        project, {**env, "TEST_PAUSE": str(paused), "TEST_RESUME": str(resume)}, "-s", "provision", "-R"
    )
    killed.append(marking)
    assert wait_for(paused.exists, timeout=120)
    installing = start_nox(
        project, {**env, "TEST_HANG": str(hanging), "TEST_HANG_AT": "install"}, "-s", "provision", "-r"
    )
    killed.append(installing)
    assert wait_for(hanging.exists, timeout=120), installing.communicate()[0] if installing.poll() else ""
    assert not provisioned_marker(venv).exists()  # the install under way took it away
    resume.touch()
    assert marking.wait(timeout=120) == 0, marking.communicate()[0]
    assert provisioned_marker(venv).exists()  # the other run went on to its commands: marked again
    os.killpg(installing.pid, signal.SIGKILL)
    installing.wait()

    rerun = run_nox(project, env, "-s", "provision", "-R")
    assert "was not completely provisioned" in rerun.stderr, rerun.stderr


# --------------------------------------------------------------------------------------------------
# nesting, matrices, parallel
# --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_pip_locked_inside_session_commands(project: Path, env: dict[str, str]) -> None:
    """``pip-locked install`` from ``session.run`` and from ``session.run_install`` (which holds the lock)."""
    done = run_nox(project, {**env, "VENVLOCK_TIMEOUT": "30"}, "-s", "nested", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr  # a nested pip-locked that waited would exit 75 at 30 s
    assert "Waiting for lock" not in done.stderr


@pytest.mark.slow
def test_matrix_variants_have_separate_locks_and_run_in_parallel(
    project: Path, env: dict[str, str], killed: Killed
) -> None:
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    second = other_python()
    pythons = [running] + ([os.path.basename(second)[len("python") :]] if second else [])
    matrix = {**env, "TEST_PYTHONS": ",".join(pythons)}
    if second:
        matrix["PATH"] = os.path.dirname(second) + os.pathsep + env["PATH"]

    done = run_nox(project, matrix, "-s", "matrix", "-j", "4", "--download-python", "never")
    assert done.returncode == 0, done.stdout + done.stderr
    variants = 2 * len(pythons)
    assert done.stderr.count("): success") == variants
    venvs = [p for p in (project / ".nox").iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(venvs) == variants  # one venv per variant (nox may hash long names)...
    assert len(list((project / ".nox").glob(".*.create.lock"))) == variants  # ...and one lock each
    for venv in venvs:
        assert venv_problems(venv, "import alpha") == []

    # a run of one variant holds its lock for its whole run; another variant does not wait for it
    flag = project / "hanging"
    holder = start_nox(
        project, {**matrix, "TEST_HANG": str(flag), "TEST_HANG_AT": "run-1"}, "-s", f"matrix-{running}(n='1')"
    )
    killed.append(holder)
    assert wait_for(flag.exists, timeout=120)
    other = run_nox(project, {**matrix, "VENVLOCK_TIMEOUT": "20"}, "-s", f"matrix-{running}(n='2')", "-r")
    assert other.returncode == 0 and "Waiting for lock" not in other.stderr, other.stderr
    same = run_nox(project, {**matrix, "VENVLOCK_TIMEOUT": "1"}, "-s", f"matrix-{running}(n='1')")  # recreates
    assert same.returncode != 0 and "nox -s 'matrix-" in same.stderr, same.stderr  # waited, named the holder


# --------------------------------------------------------------------------------------------------
# the patch: idempotent, fails open
# --------------------------------------------------------------------------------------------------
def test_patch_is_applied_once(project: Path, env: dict[str, str]) -> None:
    from nox.sessions import SessionRunner

    import venvlock.plugins.nox as adapter

    patched = SessionRunner.execute
    original = getattr(patched, _patch.ORIGINAL_ATTRIBUTE)
    assert not hasattr(original, _patch.ORIGINAL_ATTRIBUTE)
    assert adapter.apply_patch() and _patch.apply_patch()
    assert SessionRunner.execute is patched

    # a noxfile that imports the adapter a second time (fresh module objects): still one patch,
    # one creation lock taken once (a second would wait for the first), and one shared state
    twice = {**env, "TEST_BACKEND": "uv", "TEST_IMPORT_TWICE": "1", "VENVLOCK_TIMEOUT": "5"}
    done = run_nox(project, twice, "-s", "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    rerun = run_nox(project, twice, "-s", "tests", "-r")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert rerun.stderr.count("already satisfied, skipped by venvlock") == 2
    assert "not completely provisioned" not in rerun.stderr


def test_changed_nox_fails_open_in_a_real_run(project: Path, env: Env) -> None:
    """Against a nox whose internals differ, a noxfile still runs: one warning, sessions unprotected."""
    changed = {**env, "TEST_BACKEND": "uv", "TEST_CHANGED_NOX": "1"}
    done = run_nox(project, changed, "-s", "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.count("VenvlockNoxWarning") == 1 and "run unprotected" in done.stderr
    assert not (project / ".nox" / ".tests.create.lock").exists()
    rerun = run_nox(project, changed, "-s", "tests", "-r")  # installs still go through venvlock
    assert rerun.returncode == 0 and "skipped by venvlock" in rerun.stderr


class _ChangedRunner:
    """A stand-in for a future nox whose SessionRunner no longer has ``_create_venv``."""

    def execute(self) -> str:
        return "ran"


class _OddRunner:
    """Has the expected methods but not the expected attributes at run time."""

    envdir = property(lambda self: ".nox/odd")
    friendly_name = property(lambda self: "odd")

    def execute(self) -> str:
        return "ran"

    def _create_venv(self) -> None:
        pass

    def reuse_existing_venv(self) -> bool:
        return False


def test_patch_fails_open_with_one_warning_on_changed_internals() -> None:
    _state.state.warned.clear()
    with pytest.warns(VenvlockNoxWarning, match="_create_venv") as caught:
        assert apply_patch(_ChangedRunner) is False
        assert apply_patch(_ChangedRunner) is False
    assert len(caught) == 1
    assert _ChangedRunner().execute() == "ran"
    assert not hasattr(_ChangedRunner.execute, _patch.ORIGINAL_ATTRIBUTE)

    assert apply_patch(_OddRunner) is True
    with pytest.warns(VenvlockNoxWarning, match="unprotected"):
        assert _OddRunner().execute() == "ran"  # no .func: warned, nox's own execute ran
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _OddRunner().execute() == "ran"  # warned once only


class _Func:
    def __init__(self, python: object = None, venv_backend: str | None = None, protect: bool = True) -> None:
        self.python = python
        self.venv_backend = venv_backend
        if protect:
            setattr(self, _state.PROTECT_ATTRIBUTE, True)


class _Config:
    force_venv_backend = None
    default_venv_backend = "virtualenv"


class _Runner:
    envdir = ".nox/x"
    friendly_name = "x"
    global_config = _Config()

    def __init__(self, func: _Func) -> None:
        self.func = func


@pytest.mark.parametrize(
    ("func", "protected"),
    [
        (_Func(), True),
        (_Func(venv_backend="uv"), True),
        (_Func(venv_backend="venv"), True),
        (_Func(venv_backend="uv|virtualenv"), True),
        (_Func(protect=False), False),
        (_Func(venv_backend="conda"), False),
        (_Func(venv_backend="mamba|conda"), False),
        (_Func(venv_backend="none"), False),
        (_Func(python=False), False),
    ],
)
def test_which_sessions_are_protected(func: _Func, protected: bool) -> None:
    assert (_patch.ProtectedRun.for_runner(_Runner(func)) is not None) is protected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["pip", "install", "-r", "r.txt"], ["-r", "r.txt"]),
        (["python", "-m", "pip", "install", "six"], ["six"]),
        (["/x/bin/pip3.12", "install", "six"], ["six"]),
        (["uv", "pip", "install", "six"], ["six"]),
        (["pip", "download", "six"], None),
        (["uv", "sync"], None),
        (["maturin", "develop"], None),
    ],
)
def test_run_install_commands_recognised(words: list[str], expected: list[str] | None) -> None:
    assert nox_proxy._pip_install_args(words) == expected


def test_installs_elsewhere_go_to_the_installer() -> None:
    assert installs_elsewhere(["--target", "x", "six"])
    assert installs_elsewhere(["--python=/usr/bin/python3", "six"])
    assert not installs_elsewhere(["-r", "requirements.txt", "six"])


def test_decorator_is_a_drop_in_for_nox_session() -> None:
    """Bare, called, with ``python=``/``name=``/``tags=``, under ``@nox.parametrize``: registered with nox."""
    import inspect

    from nox import registry

    from venvlock.plugins.nox import Session, session

    registry.reset()
    try:

        @session
        def bare(session: Session) -> None:
            session.log("bare")

        @session(python=["3.11", "3.12"], name="named", tags=["t"], reuse_venv=True)
        @nox.parametrize("x", ["1", "2"])  # type: ignore[untyped-decorator]
        def matrix(session: Session, x: str) -> None:
            session.log(x)

        found = registry.get()
        assert set(found) == {"bare", "named"}
        for func in found.values():
            assert getattr(func, _state.PROTECT_ATTRIBUTE) is True
        assert found["named"].python == ["3.11", "3.12"] and found["named"].tags == ["t"]
        assert found["named"].reuse_venv is True
        assert list(inspect.signature(found["named"].func).parameters) == ["session", "x"]
        assert getattr(found["named"], "parametrize", None)
    finally:
        registry.reset()


#: what a noxfile's ``import venvlock.plugins.nox`` loads beyond nox itself: no venvlock core, pip reader or pluggy
NOX_PLUGIN_LOAD = """\
import json, sys
import nox, nox.command, nox.logger, nox.sessions, nox.virtualenv
before = set(sys.modules)
import venvlock.plugins.nox
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_plugin_import_loads_only_the_adapter_layer() -> None:
    """Importing the adapter (every noxfile that uses it, every nox command) loads no core, pip reader or pluggy."""
    import json

    result = subprocess.run([sys.executable, "-c", NOX_PLUGIN_LOAD], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    allowed = {"venvlock", "venvlock.errors", "venvlock.adapter", "venvlock.adapter._marker", "venvlock.plugins"}
    allowed |= {f"venvlock.plugins.nox{part}" for part in ("", "._patch", "._state", ".proxy")}
    assert loaded - allowed == set(), sorted(loaded - allowed)
