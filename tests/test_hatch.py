"""The hatch environment plugin (``venvlock.plugins.hatch``), tested with real hatch processes at once.

Every scenario runs real ``hatch`` subprocesses (the hatch installed beside
the test interpreter, which finds venvlock's plugin through its entry point)
on a real project that installs from a local wheel folder: no network, with
HATCH_DATA_DIR, HATCH_CACHE_DIR and HATCH_CONFIG private to each test.  The
project builds with a tiny in-tree backend, so nothing needs downloading.
The control runs the same scenario with hatch's stock ``virtual`` type.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from helpers.hatch_project import HATCH, IMPORTS, PIP_GATE, HatchProject, incomplete_marker
from helpers.processes import TIMEOUT, Lines, failures, finish, kill_group
from support import (
    Gate,
    build_gated_project,
    check_intact,
    install_probe,
    overlapping,
    pip_locked,
    read_probe,
    scripts_dir,
    site_packages,
    wait_for,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups and venv layout")
pytest.importorskip("hatch")
if not os.path.exists(HATCH):  # pragma: no cover
    pytest.skip("no hatch beside the test interpreter", allow_module_level=True)

from venvlock.plugins.hatch.plugin import VenvlockEnvironmentCollector  # noqa: E402


@pytest.fixture
def project(tmp_path: Path, offline: dict[str, str]) -> HatchProject:
    created = HatchProject(tmp_path / "proj", offline)
    created.configure()
    return created


# ---------------------------------------------------------------------------------------------------
# the control: hatch's own `virtual` type, same scenario
# ---------------------------------------------------------------------------------------------------
@pytest.mark.slow  # a stock-tool control: CI runs it; the protected race is test_concurrent_fresh_runs_...
@pytest.mark.parametrize("processes", [6, 16])
def test_control_stock_virtual_type_fails_concurrent_fresh_runs(project: HatchProject, processes: int) -> None:
    project.configure(type_="virtual")
    results = project.many(processes, "run", "python", "-c", IMPORTS)
    failed = failures(results)
    if not failed:
        pytest.skip(f"could not provoke a failure of stock hatch (type virtual) with {processes} concurrent fresh runs")
    assert len(failed) >= 1


# ---------------------------------------------------------------------------------------------------
# concurrency
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variant", "processes"),
    [
        ("pip", 2),
        pytest.param("pip", 4, marks=pytest.mark.slow),
        pytest.param("uv", 6, marks=pytest.mark.slow),  # uv-backed hatch stays in test_hardening's cold-cache test
        pytest.param("pip", 16, marks=pytest.mark.slow),
        pytest.param("uv", 16, marks=pytest.mark.slow),
        pytest.param("dot-venv", 16, marks=pytest.mark.slow),
    ],
)
def test_concurrent_fresh_runs_create_the_environment_once(project: HatchProject, variant: str, processes: int) -> None:
    options = {"pip": "", "uv": 'installer = "uv"', "dot-venv": 'path = ".venv"'}[variant]
    project.configure(options=options)
    results = project.many(processes, "run", "python", "-c", IMPORTS)
    assert not failures(results), failures(results)
    assert project.creations() == 1
    env_path = project.env_path()
    if variant == "dot-venv":
        assert env_path == project.root / ".venv"
    assert check_intact(env_path) == []
    assert not incomplete_marker(env_path).exists()
    waiting = [r.stderr for r in results if "Waiting for lock on environment" in r.stderr]
    # the waiting line names the holder by its hatch command line (a waiter that looks in the instant
    # between the holder's lock and its note of who it is says it does not know)
    assert not waiting or any("(held by pid" in t and "hatch run python -c" in t for t in waiting), waiting[:1]
    assert all("hatch run python -c" in text or "did not say who it is" in text for text in waiting)
    # the pre-install command ran under the creation lock; the command itself did not
    assert all(line != "''" for line in project.held_during_hooks())


@pytest.mark.slow
@pytest.mark.parametrize("processes", [4, 16])
def test_concurrent_runs_after_a_dependency_change_sync_once(project: HatchProject, processes: int) -> None:
    created = project.hatch("env", "create")
    assert created.returncode == 0, created.stderr
    env_path = project.env_path()
    install_probe(env_path)
    project.configure(env_dependencies=["beta>=1", "heavy1"])
    results = project.many(processes, "run", "python", "-c", IMPORTS + ", heavy1")
    assert not failures(results), failures(results)
    runs = read_probe(Path(project.env["VENVLOCK_PROBE_LOG"]))
    assert len(runs) == 1, runs
    assert overlapping(runs) == []
    assert check_intact(env_path) == []
    assert project.creations() == 1


# a variant of the fresh runs above through `hatch env create`: in the slow set only
@pytest.mark.parametrize(
    "processes", [pytest.param(4, marks=pytest.mark.slow), pytest.param(10, marks=pytest.mark.slow)]
)
def test_concurrent_env_create(project: HatchProject, processes: int) -> None:
    results = project.many(processes, "env", "create")
    assert not failures(results), failures(results)
    assert project.creations() == 1
    env_path = project.env_path()
    assert check_intact(env_path) == []
    ran = project.hatch("run", "python", "-c", IMPORTS)
    assert ran.returncode == 0, ran.stderr


@pytest.mark.slow
def test_options_of_the_virtual_type_keep_working(project: HatchProject) -> None:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    project.configure(
        project_dependencies=["beta"],
        env_dependencies=[],
        options=f'python = "{python}"\ndev-mode = false\nfeatures = ["fast"]',
        extra='[project.optional-dependencies]\nfast = ["gamma[fast]"]',
    )
    ran = project.hatch("run", "python", "-c", "import proj, beta, gamma, delta; print(proj.__file__)")
    assert ran.returncode == 0, ran.stderr
    env_path = project.env_path()
    assert str(site_packages(env_path)) in ran.stdout  # installed, not editable: dev-mode = false
    assert check_intact(env_path) == []


# ---------------------------------------------------------------------------------------------------
# interrupted preparations
# ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_creation_killed_midway_is_rebuilt_by_the_next_run(project: HatchProject, tmp_path: Path) -> None:
    gate = Gate(tmp_path / "gate")
    creator = project.start("env", "create", HOOK_GATE=str(gate.folder))
    assert wait_for(gate.started, timeout=TIMEOUT), "the creation never reached its pre-install command"
    kill_group(creator)
    env_path = project.env_path()
    assert env_path.is_dir() and incomplete_marker(env_path).exists()

    ran = project.hatch("run", "python", "-c", IMPORTS)
    assert ran.returncode == 0, ran.stderr
    assert project.creations() == 2  # built again, not reused
    assert not incomplete_marker(env_path).exists()
    assert check_intact(env_path) == []


@pytest.mark.slow
def test_sync_killed_midway_leaves_no_in_sync_but_missing_state(project: HatchProject, tmp_path: Path) -> None:
    created = project.hatch("env", "create")
    assert created.returncode == 0, created.stderr
    env_path = project.env_path()
    (site_packages(env_path) / "zz_pip_gate.py").write_text(PIP_GATE)
    (site_packages(env_path) / "zz_pip_gate.pth").write_text("import zz_pip_gate\n")
    project.configure(env_dependencies=["beta>=1", "heavy1"])
    gate = Gate(tmp_path / "gate")
    syncer = project.start("run", "python", "-c", "import heavy1", PIP_GATE=str(gate.folder))
    assert wait_for(gate.started, timeout=TIMEOUT), "the sync never started pip"
    kill_group(syncer)

    ran = project.hatch("run", "python", "-c", IMPORTS + ", heavy1")
    assert ran.returncode == 0, ran.stderr
    again = project.hatch("run", "python", "-c", "import heavy1")
    assert again.returncode == 0, again.stderr
    assert project.creations() == 1
    assert check_intact(env_path) == []


@pytest.mark.slow
def test_failed_post_install_command_leaves_nothing_that_counts_as_created(project: HatchProject) -> None:
    project.configure(options='post-install-commands = ["python -c \\"raise SystemExit(3)\\""]')
    failed = project.hatch("run", "python", "-c", "1")
    assert failed.returncode != 0
    env_path = project.env_path()
    assert not env_path.exists() and not incomplete_marker(env_path).exists()
    project.configure()
    ran = project.hatch("run", "python", "-c", IMPORTS)
    assert ran.returncode == 0, ran.stderr


@pytest.mark.slow
def test_failed_sync_keeps_the_environment_and_records_nothing(project: HatchProject) -> None:
    created = project.hatch("env", "create")
    assert created.returncode == 0, created.stderr
    env_path = project.env_path()
    project.configure(env_dependencies=["beta>=1", "no-such-package"])
    failed = project.hatch("run", "python", "-c", "1")
    assert failed.returncode != 0
    assert "no-such-package" in failed.stdout + failed.stderr
    assert not (env_path / ".lock.holder").exists()  # released
    failed_again = project.hatch("run", "python", "-c", "1")  # no "in sync" was recorded
    assert failed_again.returncode != 0
    project.configure(env_dependencies=["beta>=1", "heavy1"])
    ran = project.hatch("run", "python", "-c", IMPORTS + ", heavy1")
    assert ran.returncode == 0, ran.stderr
    assert project.creations() == 1


# ---------------------------------------------------------------------------------------------------
# the lock is held around the preparation only
# ---------------------------------------------------------------------------------------------------
def test_lock_is_not_held_while_the_command_runs(project: HatchProject, tmp_path: Path) -> None:
    from filelock import FileLock

    created = project.hatch("env", "create")
    assert created.returncode == 0, created.stderr
    env_path = project.env_path()
    gate = Gate(tmp_path / "gate")
    command = project.start("run", "python", str(project.root / "tools" / "long.py"), str(gate.folder))
    try:
        assert wait_for(gate.started, timeout=TIMEOUT), "the command never started"
        # neither lock file is locked by the running command
        for lock_path in (env_path / ".lock", env_path.parent / f".{env_path.name}.create.lock"):
            lock = FileLock(str(lock_path), timeout=0, thread_local=False)
            lock.acquire()
            lock.release()
        # a second hatch run that has to sync (both locks) and a pip-locked install: neither may wait
        project.configure(env_dependencies=["beta>=1", "heavy2"])
        second = project.hatch("run", "python", "-c", "import heavy2", VENVLOCK_TIMEOUT="0")
        assert second.returncode == 0, second.stderr
        installed = subprocess.run(
            [pip_locked(), "--python", str(env_path), "install", "heavy3"],
            env={**project.env, "VENVLOCK_TIMEOUT": "0"},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert installed.returncode == 0, installed.stderr
        assert command.poll() is None, "the long command ended early"
    finally:
        gate.open()
    returncode, _, err = finish(command)
    assert returncode == 0, err
    started = next(p for p in gate.folder.iterdir() if p.name.startswith("started-"))
    assert started.read_text() == "", "VENVLOCK_HELD leaked into the user's command"


# hatch and pip-locked taking turns is in the default suite (test_pip_locked_waits_for_hatch_and_names_it)
@pytest.mark.parametrize(
    "holder", [pytest.param("pip-locked", marks=pytest.mark.slow), pytest.param("uv", marks=pytest.mark.slow)]
)
def test_hatch_waits_for_pip_locked_and_uv_on_the_same_dot_venv(
    project: HatchProject, tmp_path: Path, holder: str
) -> None:
    project.configure(options='path = ".venv"')
    created = project.hatch("env", "create")
    assert created.returncode == 0, created.stderr
    gate = Gate(tmp_path / "gate")
    gated = build_gated_project(tmp_path / "gated")
    dot_venv = str(project.root / ".venv")
    uv = shutil.which("uv", path=str(scripts_dir())) or "uv"
    command = [pip_locked(), "install"] if holder == "pip-locked" else [uv, "pip", "install"]
    holding = subprocess.Popen(
        [*command, "--python", dot_venv, str(gated)],
        env={**project.env, "VENVLOCK_TEST_GATE": str(gate.folder)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        reached = wait_for(lambda: gate.started() or holding.poll() is not None, timeout=TIMEOUT)
        assert reached and holding.poll() is None, f"{holder} never reached the gate: {holding.communicate()[1]}"
        project.configure(options='path = ".venv"', env_dependencies=["beta>=1", "heavy1"])
        waiter = project.start("run", "python", "-c", "import heavy1")
        waiter_lines = Lines(waiter)
        # hatch says that it waits and for whom (uv does not say who it is), then waits
        waiter_lines.wait_for("Waiting for lock on environment", "pip-locked" if holder == "pip-locked" else "(uv")
        assert waiter.poll() is None
    finally:
        gate.open()
    assert holding.wait(timeout=TIMEOUT) == 0
    assert waiter.wait(timeout=TIMEOUT) == 0, waiter_lines.text()


@pytest.mark.slow
def test_pip_locked_waits_for_hatch_and_names_it(project: HatchProject, tmp_path: Path) -> None:
    gated = build_gated_project(tmp_path / "gated")
    project.configure(options='path = ".venv"', env_dependencies=["beta>=1", f"gated @ {gated.as_uri()}"])
    gate = Gate(tmp_path / "gate")
    syncing = project.start("run", "python", "-c", "import gated", VENVLOCK_TEST_GATE=str(gate.folder))
    try:
        assert wait_for(gate.started, timeout=TIMEOUT), "hatch's sync never reached the gate"
        waiter = subprocess.run(
            [pip_locked(), "--python", str(project.root / ".venv"), "install", "heavy1"],
            env={**project.env, "VENVLOCK_TIMEOUT": "1"},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        gate.open()
    assert finish(syncing)[0] == 0
    assert waiter.returncode == 75, waiter.stderr  # pip-locked's "lock busy past the timeout"
    assert "hatch run python -c 'import gated'" in waiter.stderr  # quoted as a shell takes it back


def test_env_remove_waits_for_a_preparation_in_progress(project: HatchProject, tmp_path: Path) -> None:
    gate = Gate(tmp_path / "gate")
    creator = project.start("env", "create", HOOK_GATE=str(gate.folder))
    try:
        assert wait_for(gate.started, timeout=TIMEOUT), "the creation never reached its pre-install command"
        remover = project.start("env", "remove")
        remover_lines = Lines(remover)
        remover_lines.wait_for("Waiting for lock on environment", "hatch env create")
        assert remover.poll() is None
    finally:
        gate.open()
    assert finish(creator)[0] == 0
    assert remover.wait(timeout=TIMEOUT) == 0, remover_lines.text()
    assert not project.env_path().exists()


@pytest.mark.slow
def test_nested_hatch_in_a_post_install_command_goes_through_the_parents_lock(project: HatchProject) -> None:
    nested = json.dumps(f'{HATCH} run python -c "import alpha"')
    project.configure(options=f"post-install-commands = [{nested}]")
    ran = project.hatch("run", "python", "-c", IMPORTS, VENVLOCK_TIMEOUT="30")
    assert ran.returncode == 0, ran.stderr
    assert "Waiting for lock" not in ran.stderr
    assert project.creations() == 1


@pytest.mark.slow
def test_lock_timeout_is_reported_cleanly(project: HatchProject, tmp_path: Path) -> None:
    gate = Gate(tmp_path / "gate")
    creator = project.start("env", "create", HOOK_GATE=str(gate.folder))
    try:
        assert wait_for(gate.started, timeout=TIMEOUT)
        start = time.monotonic()
        timed_out = project.hatch("run", "python", "-c", "1", VENVLOCK_TIMEOUT="1")
        assert time.monotonic() - start < 60
    finally:
        gate.open()
    assert finish(creator)[0] == 0
    assert timed_out.returncode == 1
    assert "timed out after 1s waiting for lock" in timed_out.stderr
    assert "hatch env create" in timed_out.stderr  # names the holder
    assert "Traceback" not in timed_out.stderr


# ---------------------------------------------------------------------------------------------------
# the dependency check
# ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_check_sees_a_missing_transitive_dependency(project: HatchProject) -> None:
    """Hatch's own check looks at the named dependencies only; the core's walks the whole tree."""
    created = project.hatch("env", "create")
    assert created.returncode == 0, created.stderr
    site = site_packages(project.env_path())
    for entry in os.listdir(site):  # delta is needed by gamma[fast], needed by alpha, needed by the project
        if entry.startswith("delta"):
            shutil.rmtree(site / entry)
    project.configure(env_dependencies=["beta>=1", "heavy1"])
    ran = project.hatch("run", "python", "-c", IMPORTS + ", heavy1")
    assert ran.returncode == 0, ran.stderr


# ---------------------------------------------------------------------------------------------------
# the collector
# ---------------------------------------------------------------------------------------------------
def test_collector_gives_every_virtual_environment_the_venvlock_type() -> None:
    config: dict[str, dict[str, Any]] = {
        "default": {"type": "virtual"},
        "hatch-test.py3.11": {"type": "virtual"},
        "docs": {"type": "virtual"},
        "lint": {"type": "system"},
        "other": {},
    }
    VenvlockEnvironmentCollector(Path("."), {"exclude": ["docs"]}).finalize_environments(config)
    assert config["default"]["type"] == "venvlock"
    assert config["hatch-test.py3.11"]["type"] == "venvlock"
    assert config["other"]["type"] == "venvlock"
    assert config["docs"]["type"] == "virtual"
    assert config["lint"]["type"] == "system"
    with pytest.raises(TypeError):
        VenvlockEnvironmentCollector(Path("."), {"exclude": "docs"}).finalize_environments(config)


def test_collector_covers_internal_environments(project: HatchProject) -> None:
    project.configure(type_="", extra="[tool.hatch.env.collectors.venvlock]\n")
    shown = project.hatch("env", "show", "--internal", "--json")
    assert shown.returncode == 0, shown.stderr
    types = {name: data["type"] for name, data in json.loads(shown.stdout).items()}
    assert types["default"] == "venvlock"
    for name in ("hatch-build", "hatch-test.py3.11", "hatch-static-analysis", "hatch-uv"):
        assert types[name] == "venvlock", types


@pytest.mark.slow  # a race of many hatch processes; the collector's default test: test_collector_covers_internal_...
@pytest.mark.parametrize("processes", [4, 12])
def test_collector_protects_hatch_test_under_concurrency(project: HatchProject, processes: int) -> None:
    hook = json.dumps(f'python "{project.root / "tools" / "hook.py"}"')
    project.configure(
        type_="",
        extra=f"""\
[tool.hatch.env.collectors.venvlock]

[tool.hatch.envs.hatch-test]
dependencies = ["beta>=1"]
pre-install-commands = [{hook}]

[tool.hatch.envs.hatch-test.scripts]
run = "python -c \\"{IMPORTS}\\""
""",
    )
    results = project.many(processes, "test")
    assert not failures(results), failures(results)
    assert project.creations() == 1
    env_path = project.env_path("hatch-test.py3.11")
    assert f"{os.sep}venvlock{os.sep}" in str(env_path)
    assert check_intact(env_path) == []
