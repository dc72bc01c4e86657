"""What waiting for a lock costs: CPU of many waiters, and how fast a released lock passes on.

    python benchmarks/bench_lock_wait.py [--waiters 50] [--seconds 3] [--handovers 20]

Rows:

1. CPU-seconds used by *--waiters* processes waiting *--seconds* for a held
   environment lock, against the same processes while nothing is held
   (they only start and exit): the difference is the cost of waiting.
   Target: about zero (the wait is a blocking lock call in a thread).
2. Hand-over: a holder releases; the median milliseconds until the waiter
   holds it (each side stamps ``time.time()``).  Target: under 20 ms.

Each process is a real Python that takes the lock through the hooks.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WAITER = """
import sys, time
from venvlock.core import Environment, hooks
environment = Environment.for_venv(sys.argv[1])
with hooks().venvlock_environment_lock(environment=environment, purpose="bench waiter", quiet=True):
    print(f"{time.time():.6f}", flush=True)
"""

HOLDER = """
import os, sys, time
from venvlock.core import Environment, hooks
environment = Environment.for_venv(sys.argv[1])
with hooks().venvlock_environment_lock(environment=environment, purpose="bench holder", quiet=True):
    open(sys.argv[2], "w").close()
    while not os.path.exists(sys.argv[3]):
        time.sleep(0.001)
    stamp = time.time()
print(f"{stamp:.6f}", flush=True)
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.005)


def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("VENVLOCK_")}, "VENVLOCK_TIMEOUT": "120"}


def waiters_cpu(folder: Path, count: int, seconds: float, held: bool) -> float:
    """CPU-seconds of *count* waiter processes, waiting *seconds* behind a holder when *held*."""
    ready, go = folder / "ready", folder / "go"
    for path in (ready, go):
        path.unlink(missing_ok=True)
    holder = None
    if held:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(folder), str(ready), str(go)], env=_env(), stdout=subprocess.PIPE
        )
        _wait_for(ready)
    before = _children_cpu()
    waiters = [
        subprocess.Popen([sys.executable, "-c", WAITER, str(folder)], env=_env(), stdout=subprocess.DEVNULL)
        for _ in range(count)
    ]
    if held:
        time.sleep(seconds)  # the waiters wait this long: their CPU in this time is what is measured
        go.touch()
    for waiter in waiters:
        waiter.wait()
    if holder is not None:
        holder.wait()
    return _children_cpu() - before


def handover_ms(folder: Path) -> float:
    ready, go = folder / "ready", folder / "go"
    for path in (ready, go):
        path.unlink(missing_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), str(ready), str(go)],
        env=_env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    _wait_for(ready)
    waiter = subprocess.Popen(
        [sys.executable, "-c", WAITER, str(folder)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert waiter.stderr is not None
    time.sleep(0.5)  # into its wait
    go.touch()
    released = float(holder.communicate()[0])
    taken = float(waiter.communicate()[0])
    return (taken - released) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiters", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--handovers", type=int, default=20)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="venvlock-bench-lock-") as temporary:
        folder = Path(temporary) / "env"
        folder.mkdir()
        (folder / "pyvenv.cfg").write_text(f"home = {os.path.dirname(sys.executable)}\n")
        unheld = waiters_cpu(folder, options.waiters, options.seconds, held=False)
        held = waiters_cpu(folder, options.waiters, options.seconds, held=True)
        handovers = [handover_ms(folder) for _ in range(options.handovers)]
    print(
        f"{options.waiters} waiters, {options.seconds:g}s behind a holder: {held:.2f} CPU-s; unheld: {unheld:.2f} CPU-s"
    )
    print(f"  cost of waiting: {held - unheld:+.2f} CPU-s ({(held - unheld) / options.waiters * 1000:+.1f} ms each)")
    print(
        f"hand-over, {options.handovers} times: median {statistics.median(handovers):.1f} ms, "
        f"max {max(handovers):.1f} ms"
    )


if __name__ == "__main__":
    main()
