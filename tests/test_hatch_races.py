"""The hatch adapter between concurrent processes: uv environments sharing an editable project, removal of an
environment being installed into."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support import Gate, build_gated_project, pip_locked, run_many, venv_python, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


@pytest.mark.slow  # the same race on nox (test_nox_races) and pip-locked's uv installer (test_uv_installer) is default
def test_hatch_uv_envs_install_one_editable_project_at_once(offline: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("hatch")
    from helpers.hatch_project import HATCH, HatchProject
    from helpers.processes import failures

    hatch = HatchProject(tmp_path / "proj", offline)
    hatch.configure(
        project_dependencies=(),
        env_dependencies=(),
        options='installer = "uv"',
        extra='[tool.hatch.envs.one]\ntype = "venvlock"\ninstaller = "uv"\n'
        '[tool.hatch.envs.two]\ntype = "venvlock"\ninstaller = "uv"\n',
        hook=False,
    )
    for round_ in range(2):
        env = {**hatch.env, "UV_CACHE_DIR": str(tmp_path / f"uv-cache-{round_}")}
        commands = [[HATCH, "run", f"{name}:python", "-c", "import proj"] for name in ("one", "two")]
        results = run_many(commands, env=env, cwd=hatch.root)
        assert not failures(results), failures(results)
        for name in ("one", "two"):
            assert hatch.hatch("env", "remove", name).returncode == 0


@pytest.mark.slow  # hatch's env remove waiting is in test_hatch (a preparation in progress); this is pip-locked's side
def test_hatch_env_remove_waits_for_an_install_in_the_environment(
    hatch_project, tmp_path: Path, offline: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    """Before: `hatch env remove` deleted the folder while pip-locked (or uv) installed into it."""
    from helpers.processes import Lines

    assert hatch_project.hatch("env", "create").returncode == 0
    env_path = hatch_project.env_path()
    gate = Gate(tmp_path / "gate")
    project = build_gated_project(tmp_path / "projects")
    holder = subprocess.Popen(
        [pip_locked(), "--python", str(venv_python(env_path)), "install", str(project)],
        env={**offline, "VENVLOCK_TEST_GATE": str(gate.folder)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert wait_for(gate.started, timeout=120)
        remover = hatch_project.start("env", "remove")
        lines = Lines(remover)
        lines.wait_for("Waiting for lock on environment", f"pid {holder.pid}")
        assert env_path.is_dir() and remover.poll() is None
    finally:
        gate.open()
    assert holder.wait(timeout=120) == 0
    assert remover.wait(timeout=120) == 0, lines.text()
    assert not env_path.exists()


@pytest.mark.slow  # a gated pip-locked install like the test above
def test_hatch_env_remove_timing_out_on_an_install_says_so(hatch_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A lock timeout while removing is reported as a timeout (it is an OSError too), not as a removal error."""
    assert hatch_project.hatch("env", "create").returncode == 0
    env_path = hatch_project.env_path()
    gate = Gate(tmp_path / "gate")
    project = build_gated_project(tmp_path / "projects")
    holder = subprocess.Popen(
        [pip_locked(), "--python", str(venv_python(env_path)), "install", str(project)],
        env={**hatch_project.env, "VENVLOCK_TEST_GATE": str(gate.folder)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for(gate.started, timeout=120)
        removed = hatch_project.hatch("env", "remove", VENVLOCK_TIMEOUT="0")
    finally:
        gate.open()
    assert holder.wait(timeout=120) == 0
    assert removed.returncode == 1, removed.stderr
    assert "cannot remove environment" not in removed.stderr, removed.stderr
    assert "venvlock:" in removed.stderr and "pip-locked" in removed.stderr, removed.stderr
    assert env_path.is_dir()
