"""The uv installer: pip-locked's hand-off of <env>/.lock to uv, uv's own cache locks, `venvlock run -- uv`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support import (
    Gate,
    build_editable_project,
    build_gated_project,
    make_venv,
    pip_locked,
    run,
    run_many,
    scripts_dir,
    site_packages,
    uv,
    venv_python,
    wait_for,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


def started_pid(gate: Gate) -> int:
    return int(next(p.name for p in gate.folder.iterdir() if p.name.startswith("started-")).split("-")[1])


def child_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw if item)


def test_uv_installer_builds_one_editable_project_into_two_venvs_at_once(
    offline: dict[str, str], tmp_path: Path
) -> None:
    """Before: UV_LOCK_TIMEOUT=0 made uv's cache lock fail ("Timeout (0s) ... sdists-v11/editable")."""
    project = build_editable_project(tmp_path / "projects")
    venvs = [tmp_path / "one", tmp_path / "two"]
    for venv in venvs:
        make_venv(venv)
    for round_ in range(3):
        env = {**offline, "VENVLOCK_INSTALLER": "uv", "UV_CACHE_DIR": str(tmp_path / f"uv-cache-{round_}")}
        commands = [
            [pip_locked(), "--python", str(venv_python(venv)), "install", "--reinstall", "-e", str(project)]
            for venv in venvs
        ]
        results = run_many(commands, env=env)
        for result in results:
            assert result.returncode == 0, result.stderr
            assert "Timeout" not in result.stderr
    for venv in venvs:
        assert (site_packages(venv) / "_local_editable.pth").exists()


def test_uv_hand_off_keeps_venvlock_and_uv_apart(env: dict[str, str], venv: Path, tmp_path: Path, gate: Gate) -> None:
    """While uv installs for pip-locked, uv holds <env>/.lock itself and venvlock keeps its sync lock."""
    project = build_gated_project(tmp_path / "projects")
    holder = subprocess.Popen(
        [pip_locked(), "install", str(project)], env={**env, "VENVLOCK_INSTALLER": "uv"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert wait_for(gate.started, timeout=120), "uv never reached the gated build"
        build = child_environ(started_pid(gate))
        assert "UV_LOCK_TIMEOUT" not in build  # uv's own waits (its cache locks too) are left alone
        assert (venv / ".lock.sync.holder").read_text().startswith(f"{holder.pid}\n")
        assert not (venv / ".lock.holder").exists()  # lent to uv, which holds it now
        # another venvlock process waits for the sync lock and names the holder
        waiter = subprocess.Popen([pip_locked(), "install", "beta"], env=env, stderr=subprocess.PIPE, text=True)
        assert waiter.stderr is not None
        line = waiter.stderr.readline()
        assert line.startswith("Waiting for lock on environment") and f"pid {holder.pid}" in line, line
        # plain uv waits for the uv that holds <env>/.lock
        other = subprocess.Popen(
            [uv(), "pip", "install", "-v", "--python", str(venv_python(venv)), "gamma"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert other.stderr is not None
        assert any("Waiting to acquire exclusive lock" in line for line in other.stderr), "uv did not wait"
        assert waiter.poll() is None
    finally:
        gate.open()
    assert holder.wait(timeout=120) == 0
    assert waiter.wait(timeout=120) == 0
    other.communicate(timeout=120)
    assert other.returncode == 0


def test_venvlock_run_lends_the_environment_lock_to_uv(env: dict[str, str], venv: Path) -> None:
    """`venvlock run -- uv ...`: uv takes <env>/.lock itself at once (no UV_LOCK_TIMEOUT is changed)."""
    command = [str(scripts_dir() / "venvlock"), "run", "--env", str(venv), "--"]
    command += [uv(), "pip", "install", "-v", "--python", str(venv_python(venv)), "beta"]
    result = run(command, {**env, "UV_LOCK_TIMEOUT": "3"})
    assert result.returncode == 0, result.stderr
    # without the hand-off uv waits for the lock held around it, then warns and installs unlocked
    assert "Failed to acquire environment lock" not in result.stderr, result.stderr
    assert "Waiting to acquire exclusive lock" not in result.stderr
    assert not (venv / ".lock.sync.holder").exists() and not (venv / ".lock.holder").exists()  # released
