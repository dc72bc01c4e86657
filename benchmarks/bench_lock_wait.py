"""What waiting for a lock costs: CPU of many waiters, and how fast a released lock passes on; now and polling.

    python benchmarks/bench_lock_wait.py [--waiters 50] [--seconds 10] [--handovers 15] [--baseline REV]

For this tree and for the sources of *--baseline* (a git revision whose
waiters poll every 20 ms; the last one before the kernel wait by default),
measured in turn in one run:

1. CPU-seconds used by *--waiters* processes waiting *--seconds* for a held
   environment lock, against the same processes while nothing is held
   (they only start and exit): the difference is the cost of waiting.
   Target (issue 20): 50 waiters behind a 10 s hold cost at most 1
   CPU-second more than the unheld runs.
2. Hand-over: a holder releases; the median milliseconds until the waiter
   holds it (each side stamps ``time.time()``).  Target: at most 20 ms.

Each process is a real Python that takes the lock through the hooks.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from _common import keep

ROOT = Path(__file__).resolve().parent.parent
#: the last revision whose waiters poll (every 20 ms)
POLLING = "dd61df6"

WAITER = """
import sys, time
from venvlock.core import Environment, hooks
environment = Environment.for_venv(sys.argv[1])
with hooks().venvlock_environment_lock(environment=environment, purpose="bench waiter", quiet=True):
    print(f"{time.time():.6f}", flush=True)
"""

# holds the lock until a line comes on stdin (a blocking read: the holder costs no CPU while it holds)
HOLDER = """
import sys, time
from venvlock.core import Environment, hooks
environment = Environment.for_venv(sys.argv[1])
with hooks().venvlock_environment_lock(environment=environment, purpose="bench holder", quiet=True):
    open(sys.argv[2], "w").close()
    sys.stdin.readline()
    stamp = time.time()
print(f"{stamp:.6f}", flush=True)
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.005)


def _env(sources: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENVLOCK_")}
    env["VENVLOCK_TIMEOUT"] = "120"
    if sources is not None:
        env["PYTHONPATH"] = str(sources)
    return env


def _holder(folder: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    ready = folder / "ready"
    ready.unlink(missing_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), str(ready)],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    _wait_for(ready)
    return holder


def _release(holder: subprocess.Popen[str]) -> float:
    """Let *holder* go; its CPU-seconds (left out of the waiters' figure)."""
    assert holder.stdin is not None
    holder.stdin.write("go\n")
    holder.stdin.close()
    _, status, usage = os.wait4(holder.pid, 0)
    holder.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def waiters_cpu(folder: Path, env: dict[str, str], count: int, seconds: float, held: bool) -> float:
    """CPU-seconds of *count* waiter processes, waiting *seconds* behind a holder when *held*."""
    holder = _holder(folder, env) if held else None
    before = _children_cpu()
    holder_cpu = 0.0
    waiters = [
        subprocess.Popen([sys.executable, "-c", WAITER, str(folder)], env=env, stdout=subprocess.DEVNULL)
        for _ in range(count)
    ]
    if holder is not None:
        time.sleep(seconds)  # the waiters wait this long: their CPU in this time is what is measured
        holder_cpu = _release(holder)
    for waiter in waiters:
        waiter.wait()
    return _children_cpu() - before - holder_cpu


def handover_ms(folder: Path, env: dict[str, str]) -> float:
    holder = _holder(folder, env)
    waiter = subprocess.Popen([sys.executable, "-c", WAITER, str(folder)], env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)  # into its wait
    assert holder.stdout is not None
    _release(holder)
    released = float(holder.stdout.read())
    taken = float(waiter.communicate()[0])
    return (taken - released) * 1000


def _sources_of(revision: str, into: Path) -> Path | None:
    """venvlock's sources at *revision*, compiled, below *into*; None when git cannot give them."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src/venvlock"], capture_output=True, check=False
    )
    if archive.returncode != 0:
        print(f"(no baseline: git archive {revision}: {archive.stderr.decode().strip()})")
        return None
    tar_path = into / "baseline.tar"
    tar_path.write_bytes(archive.stdout)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    compileall.compile_dir(into / "src" / "venvlock", quiet=1)
    return into / "src"


def measure(name: str, sources: Path | None, folder: Path, options: argparse.Namespace) -> None:
    env = _env(sources)
    unheld = waiters_cpu(folder, env, options.waiters, options.seconds, held=False)
    held = waiters_cpu(folder, env, options.waiters, options.seconds, held=True)
    handovers = sorted(handover_ms(folder, env) for _ in range(options.handovers))
    cost = held - unheld
    median = statistics.median(handovers)
    label = f"{name}: {options.waiters} waiters x {options.seconds:g}s"
    keep(f"{label}, CPU of waiting", f"{cost:+.2f} CPU-s", f"unheld runs {unheld:.2f} CPU-s", "", "<= +1.00 CPU-s")
    keep(f"{name}: hand-over after a release", f"{median:.1f} ms median", "", "", "<= 20 ms")
    print(
        f"{name:<9} {options.waiters} waiters x {options.seconds:g}s: {held:5.2f} CPU-s held, {unheld:5.2f} unheld, "
        f"cost {cost:+.2f} CPU-s ({cost / options.waiters * 1000:+.1f} ms each; target <= +1.00 for 50 x 10s) | "
        f"hand-over median {median:.1f} ms, max {handovers[-1]:.1f} "
        f"(target <= 20 ms median)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiters", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--handovers", type=int, default=15)
    parser.add_argument("--baseline", default=POLLING, help="git revision to compare with ('' for none)")
    options = parser.parse_args()
    print(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="venvlock-bench-lock-") as temporary:
        folder = Path(temporary) / "env"
        folder.mkdir()
        (folder / "pyvenv.cfg").write_text(f"home = {os.path.dirname(sys.executable)}\n")
        measure("now", None, folder, options)
        if options.baseline:
            sources = _sources_of(options.baseline, Path(temporary))
            if sources is not None:
                measure(f"{options.baseline}", sources, folder, options)


if __name__ == "__main__":
    main()
