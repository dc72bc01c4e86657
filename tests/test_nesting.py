"""Threads of one process: a lock another thread holds is waited for, never taken as nested; syncs never overlap."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support import overlapping, read_probe, run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


THREADS = """
import os, sys, threading, time
from venvlock.core import Environment, hooks
environment = Environment.for_venv(sys.argv[1])
events = []
first_in = threading.Event()

def lock(name):
    if sys.argv[2] == "create":
        return hooks().venvlock_creation_lock(environment=environment, purpose=name, quiet=True, default_timeout=None)
    return hooks().venvlock_environment_lock(environment=environment, purpose=name, quiet=True)

def worker(name, hold_for):
    with lock(name) as hold:
        events.append(("in", name, time.monotonic(), hold.nested, os.environ.get("VENVLOCK_HELD", "")))
        first_in.set()
        time.sleep(hold_for)
        events.append(("out", name, time.monotonic(), None, ""))

a = threading.Thread(target=worker, args=("a", 1.0))
a.start()
first_in.wait()
b = threading.Thread(target=worker, args=("b", 0.0))
b.start()
a.join(); b.join()
seen = {(kind, name): (at, nested, held) for kind, name, at, nested, held in events}
(a_in, a_nested, a_held), (b_in, b_nested, b_held) = seen["in", "a"], seen["in", "b"]
assert b_in >= seen["out", "a"][0], "thread b entered while thread a held the lock"
assert not a_nested and not b_nested, events
assert os.path.dirname(sys.argv[1]) in a_held and os.path.dirname(sys.argv[1]) in b_held, (a_held, b_held)
assert "VENVLOCK_HELD" not in os.environ, os.environ.get("VENVLOCK_HELD")
print("ok")
"""


@pytest.mark.parametrize("kind", ["env", "create"])
def test_a_second_thread_waits_for_the_lock_another_thread_holds(env: dict[str, str], venv: Path, kind: str) -> None:
    """Before: the second thread went through as "nested" at once."""
    result = run([sys.executable, "-c", THREADS, str(venv), kind], {**env, "VENVLOCK_TIMEOUT": "30"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


SYNC_THREADS = """
import sys, threading, time
from venvlock.core import Environment, SyncRequest, hooks
environment = Environment.for_venv(sys.argv[1])
codes = []

def sync(requirement):
    result = hooks().venvlock_sync(environment=environment, request=SyncRequest([requirement], quiet=True))
    codes.append(result.returncode)

threads = [threading.Thread(target=sync, args=(name,)) for name in ("heavy0==1.0", "heavy1==1.0", "heavy2==1.0")]
for thread in threads:  # one after the other: each next one arrives while the one before installs
    thread.start()
    time.sleep(0.4)
for thread in threads:
    thread.join()
print(codes)
"""


def test_syncs_from_threads_of_one_process_never_overlap(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    result = run([sys.executable, "-c", SYNC_THREADS, str(venv)], env)
    assert result.returncode == 0 and result.stdout.strip().endswith("[0, 0, 0]"), result.stderr
    runs = read_probe(tmp_path / "probe.log")
    assert len(runs) == 3 and not overlapping(runs), runs
