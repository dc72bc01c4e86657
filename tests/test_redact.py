"""Credentials in a command line never reach the holder file, the waiting line or another process's timeout error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support import SECRET, TOKEN, Gate, build_gated_project, pip_locked, run, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


def test_credentials_never_reach_holder_files_or_other_processes(
    env: dict[str, str], venv: Path, tmp_path: Path, gate: Gate
) -> None:
    project = build_gated_project(tmp_path / "projects")
    index = f"https://user:{SECRET}@index.invalid/simple"
    extra = f"https://{TOKEN}@index.invalid/extra"
    holder = subprocess.Popen(
        [pip_locked(), "install", "-i", index, f"--extra-index-url={extra}", str(project)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for(gate.started, timeout=120)
        held = (venv / ".lock.holder").read_text()
        assert SECRET not in held and TOKEN not in held, held
        assert "https://user:****@index.invalid/simple" in held and "https://****@index.invalid/extra" in held
        assert (venv / ".lock.holder").stat().st_mode & 0o777 == 0o644
        waiting = run([pip_locked(), "install", "beta"], {**env, "VENVLOCK_TIMEOUT": "1"})
        timed_out = run([pip_locked(), "install", "beta"], {**env, "VENVLOCK_TIMEOUT": "0"})
    finally:
        gate.open()
    assert holder.wait(timeout=120) == 0
    assert waiting.returncode == 75 and timed_out.returncode == 75
    for output in (waiting.stderr, timed_out.stderr):
        assert SECRET not in output and TOKEN not in output, output
        assert "user:****@" in output
    assert waiting.stderr.startswith("Waiting for lock")
    assert "Waiting" not in timed_out.stderr  # VENVLOCK_TIMEOUT=0: the error alone
