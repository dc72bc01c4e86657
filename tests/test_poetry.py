"""The poetry plugin, between real ``poetry`` processes: concurrent installs that never race.

Every test makes its own project (``package-mode = false``) whose only source
is the session's wheelhouse served as a PEP 503 index on 127.0.0.1
(:mod:`helpers.pep503`); poetry runs offline with private cache, config and
data folders and an in-project ``.venv`` (:mod:`helpers.poetry_project`).
poetry runs from a venv the tests make (:func:`helpers.poetry_project.make_poetry_venv`),
with venvlock beside it: it finds venvlock's plugin through its entry point;
``VENVLOCK_POETRY=0`` makes it stock poetry (the control).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.pep503 import Index
from helpers.poetry_project import (
    installed,
    make_poetry_venv,
    poetry,
    poetry_env,
    problems_of,
    run_poetry,
    use_poetry,
    write_project,
)
from helpers.processes import Lines, finish
from support import Gate, build_gated_project, pip_locked, run_many, scripts_dir, wait_for

#: dependencies with many files, whose concurrent installs break environments
HEAVY_DEPS = ("alpha", "heavy0", "heavy1", "heavy2")
#: ``poetry add --lock`` arguments after the fresh installs: a new heavy dependency, and the heavy ones moved
#: from 2.0 to 1.0 (poetry updates a package by uninstalling it with pip, then installing the other version)
ADDED = ("heavy5", "heavy0@1.0", "heavy1@1.0", "heavy2@1.0")
#: a command that holds a lock for the test: says so in <folder>/started, lets go when <folder>/release exists
HOLD = """\
import os, sys, time
folder = sys.argv[1]
open(os.path.join(folder, "started"), "w").close()
deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(folder, "release")) and time.monotonic() < deadline:
    time.sleep(0.02)
"""
#: run by ``poetry run``: whether <env>/.lock and the creation lock can be had exclusively right now
PROBE_LOCKS = """\
import fcntl, os, sys
results = []
for path in sys.argv[2:]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        results.append("free")
    except OSError:
        results.append("held")
    finally:
        os.close(fd)
with open(sys.argv[1], "w") as file:
    file.write(" ".join(results))
"""
#: test-only fault point in the poetry the tests run (imported by a ``.pth`` of its venv): with
#: ``VENVLOCK_TEST_POETRY_FAULT=<path suffix>:<SIGNAL>``, the moment poetry opens a file whose path ends with
#: the suffix for writing (poetry's installer reaching that file of a wheel), <SIGNAL> goes to poetry's
#: process group, as a ``kill -9`` of the job or a Ctrl-C in its terminal would
FAULT_MODULE = """\
import os
import sys

_SPEC = os.environ.get("VENVLOCK_TEST_POETRY_FAULT")
if _SPEC:
    import signal

    _SUFFIX, _, _NAME = _SPEC.rpartition(":")
    _FIRED = []

    def _fault(event, args):
        if event != "open" or _FIRED or not isinstance(args[0], str) or "w" not in str(args[1] or ""):
            return
        if args[0].endswith(_SUFFIX):
            _FIRED.append(args[0])
            os.killpg(os.getpgrp(), getattr(signal, _NAME))

    sys.addaudithook(_fault)
"""


def add_fault_point(script: Path) -> Path:
    """Give the poetry venv of *script* (:func:`make_poetry_venv`) the test-only fault point :data:`FAULT_MODULE`."""
    (site,) = (script.parent.parent / "lib").glob("python*/site-packages")
    (site / "_venvlock_test_poetry_fault.py").write_text(FAULT_MODULE)
    (site / "_venvlock_test_poetry_fault.pth").write_text("import _venvlock_test_poetry_fault\n")
    return script


@pytest.fixture(scope="module")
def index(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The wheelhouse as a PEP 503 index on 127.0.0.1 (and poetry's own venv, made once per module)."""
    use_poetry(add_fault_point(make_poetry_venv(tmp_path_factory.mktemp("poetry-venv") / "venv")))
    with Index(wheelhouse) as served:
        yield served.url


@pytest.fixture
def env(wheelhouse: Path, tmp_path: Path) -> dict[str, str]:
    return poetry_env(wheelhouse, tmp_path)


@pytest.fixture
def stock(env: dict[str, str]) -> dict[str, str]:
    return {**env, "VENVLOCK_POETRY": "0"}


def assert_all_ok(results: list[subprocess.CompletedProcess[str]], project: Path) -> None:
    failed = [r for r in results if r.returncode != 0]
    assert not failed, "\n".join(f"exit {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}" for r in failed[:2])
    assert problems_of(project) == []


def install_fresh_then_added(
    project: Path, index: str, env: dict[str, str], processes: int
) -> tuple[list[subprocess.CompletedProcess[str]], list[str], list[subprocess.CompletedProcess[str]]]:
    """*processes* concurrent ``poetry install`` of a fresh project, then as many after ``poetry add --lock ADDED``.

    Returns the first round's results, what was wrong with ``.venv`` after it, and the second round's results.
    """
    write_project(project, index, deps=HEAVY_DEPS)
    fresh = run_many([poetry("install")] * processes, env=env, cwd=project)
    damage = problems_of(project)
    added = run_poetry(project, env, "add", "--lock", *ADDED)  # pyproject.toml and poetry.lock, not the env
    assert added.returncode == 0, added.stderr
    return fresh, damage, run_many([poetry("install")] * processes, env=env, cwd=project)


def site_of(project: Path) -> Path:
    (site,) = (project / ".venv" / "lib").glob("python*/site-packages")
    return site


def verify_clean(project: Path, env: dict[str, str]) -> str:
    """``venvlock verify`` of the project's ``.venv``: no damage, no warning (its report)."""
    command = [str(scripts_dir() / "venvlock"), "verify", "--no-cache", str(project / ".venv")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0 and "No damage found" in result.stdout, result.stdout + result.stderr
    assert "(0 warnings)" in result.stdout, result.stdout
    return result.stdout


def start_holder(project: Path, env: dict[str, str], flags: Path) -> subprocess.Popen[str]:
    """``venvlock run --env .venv`` holding the environment lock until ``flags/release`` exists."""
    flags.mkdir(parents=True, exist_ok=True)
    (project / "hold.py").write_text(HOLD)
    command = [str(scripts_dir() / "venvlock"), "run", "--env", ".venv", "--", sys.executable, "hold.py", str(flags)]
    holder = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: (flags / "started").exists(), timeout=120), holder.stderr
    return holder


# --------------------------------------------------------------------------------------------------
# the control: stock poetry on the same scenario
# --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_control_stock_poetry_concurrent_installs_break(tmp_path: Path, index: str, stock: dict[str, str]) -> None:
    """Stock poetry on the scenario of :func:`test_concurrent_fresh_installs_then_added_dependency`: it breaks.

    Fresh, the 8 creations of ``.venv`` and installs race only sometimes here (7 of 8 failed in one trial of
    five, their pip left without files); once poetry updates packages, 8 concurrent runs uninstall the same
    distributions at once (poetry runs ``pip uninstall`` for each) and 1 to 8 of them failed in every trial
    ("Cannot install heavy0."), with 2, 3 or 8 packages moved.  One CI run saw a trial without a failure: up to
    three trials, each on a project of its own, before the control counts as void.
    """
    for trial in range(3):
        project = tmp_path / f"project-{trial}"
        fresh, damage, after = install_fresh_then_added(project, index, stock, 8)
        failed = sum(r.returncode != 0 for r in (*fresh, *after))
        if failed or damage or problems_of(project):
            return
    pytest.fail("stock poetry did not race in 3 trials: the control is void")


# --------------------------------------------------------------------------------------------------
# concurrency, with venvlock
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "processes", [2, pytest.param(4, marks=pytest.mark.slow), pytest.param(8, marks=pytest.mark.slow)]
)
def test_concurrent_fresh_installs_then_added_dependency(
    tmp_path: Path, index: str, env: dict[str, str], processes: int
) -> None:
    """Concurrent ``poetry install`` on a fresh project, then as many after ``poetry add --lock``: all pass, intact.

    The second round installs a new heavy dependency and moves three to another version; the env ends with
    one version of every package and ``venvlock verify`` finds nothing wrong.
    """
    project = tmp_path / "project"
    fresh, damage, after = install_fresh_then_added(project, index, env, processes)
    assert_all_ok(fresh, project)
    assert damage == []
    output = "".join(r.stderr for r in fresh)
    assert "Waiting for lock on environment .venv (held by pid" in output
    assert ": poetry install" in output  # the waiting lines name the holder
    assert not (project / ".venv.incomplete").exists()
    assert sum("Installing heavy0" in r.stdout for r in fresh) == 1  # one installed, the others found it done

    assert_all_ok(after, project)
    assert sum("Installing heavy5" in r.stdout for r in after) == 1
    assert sum("Downgrading heavy0" in r.stdout for r in after) == 1
    assert installed(project, "heavy5") and (site_of(project) / "heavy0-1.0.dist-info").exists()
    verify_clean(project, env)


#: hatch's environment on poetry's ``.venv``: the venvlock type, the project not installed (poetry's job)
HATCH_ON_POETRY_VENV = """
[tool.hatch.envs.default]
type = "venvlock"
path = ".venv"
skip-install = true
dependencies = [{gated}]
"""


@pytest.mark.parametrize(
    "installer",
    [("pip-locked", "install"), ("uv", "pip", "install"), ("hatch", "run", "python", "-c", "pass")],
    ids=["pip-locked", "uv", "hatch"],
)
@pytest.mark.slow
def test_poetry_and_other_installers_take_turns(
    tmp_path: Path, index: str, env: dict[str, str], installer: tuple[str, ...]
) -> None:
    """A ``poetry install`` waits while ``pip-locked``, uv or hatch installs into the same ``.venv``; both are done.

    hatch shares poetry's ``.venv`` as an environment of type ``venvlock`` with ``path = ".venv"`` and
    ``skip-install``: it adopts the folder poetry made and syncs its own dependencies into it.
    """
    project = write_project(tmp_path / "project", index)
    assert run_poetry(project, env, "install").returncode == 0
    gate = Gate(tmp_path / "gate")
    gated = build_gated_project(tmp_path)
    extra = HATCH_ON_POETRY_VENV.format(gated=json.dumps(f"gated @ {gated.as_uri()}"))
    write_project(project, index, deps=("alpha", "heavy3"), extra=extra if installer[0] == "hatch" else "")
    (project / "poetry.lock").unlink()  # poetry installs only from a lock file that matches pyproject.toml
    other_env = {**env, "VIRTUAL_ENV": str(project / ".venv"), "VENVLOCK_TEST_GATE": str(gate.folder)}
    command = [pip_locked() if installer[0] == "pip-locked" else str(scripts_dir() / installer[0]), *installer[1:]]
    if installer[0] == "hatch":
        pytest.importorskip("hatch")
        (tmp_path / "hatch-config.toml").write_text("")
        del other_env["VIRTUAL_ENV"]
        other_env.update(
            HATCH_DATA_DIR=str(tmp_path / "hatch-data"),
            HATCH_CACHE_DIR=str(tmp_path / "hatch-cache"),
            HATCH_CONFIG=str(tmp_path / "hatch-config.toml"),
            HATCH_PYTHON=sys.executable,
        )
    else:
        command.append(str(gated))
    other = subprocess.Popen(
        command, cwd=project, env=other_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert wait_for(gate.started, timeout=240), other.stderr
        waiting = subprocess.Popen(
            poetry("install"), cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        lines = Lines(waiting)
        names = {"pip-locked": ["pip-locked install"], "hatch": ["hatch run"]}  # uv does not name itself
        lines.wait_for("Waiting for lock on environment .venv", *names.get(installer[0], []))
        assert waiting.poll() is None
    finally:
        gate.open()
    code, _, err = finish(other)
    assert code == 0, err
    assert waiting.wait(timeout=300) == 0, lines.text()
    assert problems_of(project) == []
    assert installed(project, "gated") and installed(project, "heavy3")
    if installer[0] == "hatch":  # each finds the other's work done: hatch's dependencies are there, poetry's too
        again = subprocess.run(command, cwd=project, env=other_env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and "Waiting" not in again.stderr, again.stderr
        assert "No dependencies to install or update" in run_poetry(project, env, "install").stdout
    verify_clean(project, env)


@pytest.mark.slow
def test_busy_lock_past_timeout_exits_75(tmp_path: Path, index: str, env: dict[str, str]) -> None:
    """``VENVLOCK_TIMEOUT`` passed while another process holds ``.venv``: exit 75, holder and setting named.

    ``install --dry-run`` and ``show`` meanwhile go on without waiting.
    """
    project = write_project(tmp_path / "project", index)
    assert run_poetry(project, env, "install").returncode == 0
    flags = tmp_path / "flags"
    holder = start_holder(project, env, flags)
    try:
        result = run_poetry(project, {**env, "VENVLOCK_TIMEOUT": "1"}, "install")
        # commands that change nothing in the environment do not wait for it
        for args in (("install", "--dry-run"), ("show",)):
            looking = run_poetry(project, {**env, "VENVLOCK_TIMEOUT": "1"}, *args)
            assert looking.returncode == 0 and "Waiting" not in looking.stderr, (args, looking.stderr)
    finally:
        (flags / "release").touch()
    assert finish(holder)[0] == 0
    assert result.returncode == 75, result.stderr
    assert "VENVLOCK_TIMEOUT" in result.stderr and ".venv" in result.stderr and "hold.py" in result.stderr
    assert run_poetry(project, env, "install").returncode == 0  # nothing was left held


@pytest.mark.slow
def test_ctrl_c_while_waiting_exits_130(
    tmp_path: Path, index: str, env: dict[str, str], killed: list[subprocess.Popen[str]]
) -> None:
    """A Ctrl-C (SIGINT to its process group) while ``poetry install`` waits for the lock: 130, nothing held."""
    project = write_project(tmp_path / "project", index)
    assert run_poetry(project, env, "install").returncode == 0
    flags = tmp_path / "flags"
    holder = start_holder(project, env, flags)
    try:
        waiting = subprocess.Popen(
            poetry("install"),
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        killed.append(waiting)
        lines = Lines(waiting)
        lines.wait_for("Waiting for lock on environment .venv", "hold.py")
        os.killpg(waiting.pid, signal.SIGINT)
        assert waiting.wait(timeout=120) == 130, lines.text()
        assert "venvlock: interrupted" in lines.text()
    finally:
        (flags / "release").touch()
    assert finish(holder)[0] == 0
    assert not (project / ".venv" / ".venvlock" / "journal").exists()  # it never began a sync
    assert run_poetry(project, {**env, "VENVLOCK_TIMEOUT": "5"}, "install").returncode == 0


@pytest.mark.slow
def test_nested_under_venvlock_run(tmp_path: Path, index: str, env: dict[str, str]) -> None:
    """``venvlock run --env .venv -- poetry install``: the install goes on under the hold around it."""
    project = write_project(tmp_path / "project", index)
    assert run_poetry(project, env, "install").returncode == 0
    write_project(project, index, deps=("alpha", "heavy4"))
    (project / "poetry.lock").unlink()
    command = [str(scripts_dir() / "venvlock"), "run", "--env", ".venv", "--", *poetry("install")]
    result = subprocess.run(
        command, cwd=project, env={**env, "VENVLOCK_TIMEOUT": "2"}, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "Waiting" not in result.stderr
    assert installed(project, "heavy4") and problems_of(project) == []


@pytest.mark.parametrize("fresh", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["existing", "fresh"])
def test_poetry_run_holds_nothing_while_its_command_runs(
    tmp_path: Path, index: str, env: dict[str, str], fresh: bool
) -> None:
    """The program of ``poetry run`` can take ``.venv/.lock`` and the creation lock itself (fresh: after creating)."""
    project = write_project(tmp_path / "project", index)
    (project / "probe.py").write_text(PROBE_LOCKS)
    locks = [str(project / ".venv" / ".lock"), str(project / ".venv.create.lock")]
    if not fresh:  # a poetry install (creation and install) released both locks when it ended
        assert run_poetry(project, env, "install").returncode == 0
        assert (project / ".venv" / ".lock").exists()  # the plugin took it
        subprocess.run([sys.executable, "probe.py", str(tmp_path / "seen"), *locks], cwd=project, check=True)
        assert (tmp_path / "seen").read_text() == "free free"
        assert not (project / ".venv.incomplete").exists()
        (tmp_path / "seen").unlink()
    result = run_poetry(project, env, "run", "python", "probe.py", str(tmp_path / "seen"), *locks)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "seen").read_text() == "free free"


@pytest.mark.slow  # the killed-while-creating test covers the rebuild in the default suite, with a real signal
def test_half_built_environment_is_rebuilt(tmp_path: Path, index: str, env: dict[str, str]) -> None:
    """A ``.venv`` marked half-built (a creation killed midway) is removed and made again, not reused."""
    project = write_project(tmp_path / "project", index)
    (project / ".venv" / "lib").mkdir(parents=True)
    (project / ".venv" / "leftover").write_text("from a killed creation\n")
    (project / ".venv.incomplete").write_text("1\npoetry install\n")
    result = run_poetry(project, env, "install")
    assert result.returncode == 0, result.stderr
    assert "half-built" in result.stderr
    assert not (project / ".venv" / "leftover").exists()
    assert not (project / ".venv.incomplete").exists()
    assert installed(project, "alpha") and problems_of(project) == []


@pytest.mark.slow
def test_poetry_killed_while_creating_is_healed_by_the_next_run(
    tmp_path: Path, index: str, env: dict[str, str], killed: list[subprocess.Popen[str]]
) -> None:
    """SIGKILL to a ``poetry install`` in the middle of creating ``.venv``: the next run rebuilds it and passes."""
    project = write_project(tmp_path / "project", index)
    first = subprocess.Popen(
        poetry("install"),
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    killed.append(first)
    marker, venv = project / ".venv.incomplete", project / ".venv"
    assert wait_for(lambda: marker.exists() and (venv / "pyvenv.cfg").exists(), timeout=240)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    assert marker.exists()  # killed before its creation finished
    result = run_poetry(project, env, "install")
    assert result.returncode == 0, result.stderr
    assert "half-built" in result.stderr
    assert not marker.exists()
    assert installed(project, "alpha") and problems_of(project) == []


@pytest.mark.slow
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGINT"])
def test_poetry_killed_while_installing_is_healed_by_the_next_run(
    tmp_path: Path, index: str, env: dict[str, str], killed: list[subprocess.Popen[str]], signal_name: str
) -> None:
    """A ``kill -9`` (or a Ctrl-C) of poetry's process group while its installer writes: the next run heals.

    The signal goes the moment poetry's installer opens heavy1's INSTALLER (:data:`FAULT_MODULE`), the other
    heavy wheels being written by poetry's other threads meanwhile.  Killed, poetry leaves heavy1's metadata
    without RECORD (a distribution importlib, pip and poetry take for installed, which nothing can uninstall)
    and half-written packages: the next ``poetry install`` says it repairs, removes the unrecorded distribution,
    and poetry's installer puts it back from the project's source and lock file (not pip from its own config).
    Interrupted, poetry finishes the wheels it is writing and stops with 1: the journal it leaves is cleared.
    """
    project = write_project(tmp_path / "project", index, deps=HEAVY_DEPS)
    assert run_poetry(project, env, "lock").returncode == 0
    fault = {**env, "VENVLOCK_TEST_POETRY_FAULT": f"heavy1-2.0.dist-info/INSTALLER:{signal_name}"}
    first = subprocess.Popen(
        poetry("install"),
        cwd=project,
        env=fault,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    killed.append(first)
    out, err = first.communicate(timeout=300)
    journal = project / ".venv" / ".venvlock" / "journal"
    assert first.returncode == (-signal.SIGKILL if signal_name == "SIGKILL" else 1), out + err
    assert journal.exists()  # a sync that did not end by itself with success
    heavy1 = site_of(project) / "heavy1-2.0.dist-info"
    if signal_name == "SIGKILL":
        assert (heavy1 / "METADATA").exists() and not (heavy1 / "RECORD").exists()

    result = run_poetry(project, env, "install")
    assert result.returncode == 0, result.stderr
    if signal_name == "SIGKILL":
        assert "the last sync of .venv was interrupted" in result.stderr and "repairing" in result.stderr
        assert "Installing heavy1 (2.0)" in result.stdout  # put back by poetry, from its source and lock file
        assert (heavy1 / "INSTALLER").read_text().startswith("Poetry")
    assert not journal.exists()
    verify_clean(project, env)
    assert problems_of(project) == []
    assert all(installed(project, name) for name in HEAVY_DEPS)
    assert run_poetry(project, env, "install").stdout.count("Installing") == 1  # "from lock file": nothing to do


@pytest.mark.slow
@pytest.mark.parametrize("how", ["environment", "pyproject"])
def test_opt_out(tmp_path: Path, index: str, env: dict[str, str], how: str) -> None:
    """``VENVLOCK_POETRY=0`` or ``[tool.venvlock] poetry = false``: stock poetry, no lock file made."""
    extra = "\n[tool.venvlock]\npoetry = false\n" if how == "pyproject" else ""
    project = write_project(tmp_path / "project", index, extra=extra)
    run_env = {**env, "VENVLOCK_POETRY": "0"} if how == "environment" else env
    result = run_poetry(project, run_env, "install")
    assert result.returncode == 0, result.stderr
    assert installed(project, "alpha")
    assert not (project / ".venv" / ".lock").exists()
    assert not (project / ".venv.create.lock").exists()


@pytest.mark.parametrize(
    ("extra", "variable", "named"),
    [
        ('\n[tool.venvlock]\npoetry = "maybe"\n', "", "[tool.venvlock] poetry"),
        ("", "flase", "VENVLOCK_POETRY='flase'"),  # a typo is never taken for off (nor for on): before, it was on
    ],
    ids=["pyproject", "environment"],
)
def test_bad_setting_exits_2(
    tmp_path: Path, index: str, env: dict[str, str], extra: str, variable: str, named: str
) -> None:
    project = write_project(tmp_path / "project", index, extra=extra)
    result = run_poetry(project, {**env, "VENVLOCK_POETRY": variable}, "install")
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert not (project / ".venv").exists()
