"""The waiting line (holder named and redacted, a change of holder said) and pip-locked's "Checked" line, wait apart."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import SECRET, Gate, build_gated_project, pip_locked, run, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


def test_checked_line_reports_the_lock_wait_apart(env: dict[str, str], venv: Path, tmp_path: Path, gate: Gate) -> None:
    assert run([pip_locked(), "install", "beta"], env).returncode == 0
    import shutil

    shutil.rmtree(venv / ".venvlock")  # no record: the waiter checks, after the holder is done
    project = build_gated_project(tmp_path / "projects")
    holder = subprocess.Popen([pip_locked(), "install", str(project)], env=env, stderr=subprocess.DEVNULL)
    assert wait_for(gate.started, timeout=120)
    waiter = subprocess.Popen([pip_locked(), "install", "beta"], env=env, stderr=subprocess.PIPE, text=True)
    assert waiter.stderr is not None
    assert waiter.stderr.readline().startswith("Waiting for lock")
    time.sleep(1.5)
    gate.open()
    assert holder.wait(timeout=120) == 0
    assert waiter.wait(timeout=120) == 0
    line = waiter.stderr.read().strip().splitlines()[-1]
    assert line.startswith("Checked 1 package in ") and "(waited " in line and "s for the lock)" in line, line
    checked_ms = int(line.split(" in ")[1].split("ms")[0])
    waited = float(line.split("(waited ")[1].split("s ")[0])
    assert waited >= 1.0 and checked_ms < waited * 1000, line


def test_waiting_line_says_when_the_holder_changed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from venvlock.core import Environment, Holder, hooks

    venvlock_waiting = hooks().venvlock_waiting  # the default implementation prints the waiting line

    environment = Environment.for_venv(str(tmp_path / "env"))
    lock = str(tmp_path / "env" / ".lock")
    first = Holder(101, f"pip-locked install -i https://user:{SECRET}@index.invalid/simple x", True)
    second = Holder(202, "hatch run test", True)
    venvlock_waiting(environment=environment, lock_path=lock, holder=first, waited=0.0, quiet=False)
    venvlock_waiting(environment=environment, lock_path=lock, holder=first, waited=5.0, quiet=False)
    venvlock_waiting(environment=environment, lock_path=lock, holder=second, waited=15.0, quiet=False)
    lines = capsys.readouterr().err.splitlines()
    assert "pid 101" in lines[0] and SECRET not in lines[0] and "user:****@" in lines[0]
    assert "after 5s (held by pid 101" in lines[1]
    assert "after 15s (now held by pid 202: hatch run test; before by pid 101)" in lines[2], lines[2]
