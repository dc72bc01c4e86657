"""Running the installer under the lock: Ctrl-C releases the lock only once the installer child has ended."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from support import wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


CTRL_C = """
import sys
from venvlock.core import Environment, hooks, run_installer
environment = Environment.for_venv(sys.argv[1])
child = "import os, pathlib, sys, time; pathlib.Path(sys.argv[1]).write_text(str(os.getpid())); time.sleep(60)"
with hooks().venvlock_environment_lock(environment=environment, purpose="ctrl-c", quiet=True) as hold:
    run_installer([sys.executable, "-c", child, sys.argv[2]], hold)
"""


def test_ctrl_c_keeps_the_lock_until_the_installer_child_has_ended(
    env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    """Before: SIGINT to the holder alone released the lock while its installer still ran."""
    pid_file = tmp_path / "child.pid"
    holder = subprocess.Popen(
        [sys.executable, "-c", CTRL_C, str(venv), str(pid_file)], env=env, stderr=subprocess.PIPE, text=True
    )
    assert wait_for(pid_file.exists, timeout=60) and wait_for(lambda: pid_file.read_text() != "", timeout=10)
    child = int(pid_file.read_text())
    holder.send_signal(signal.SIGINT)  # to the holder alone, as `kill -INT` does
    holder.communicate(timeout=30)
    assert holder.returncode != 0
    assert not Path(f"/proc/{child}").exists() or "State:\tZ" in Path(f"/proc/{child}/status").read_text(), (
        "the lock was released while the installer child still ran"
    )
