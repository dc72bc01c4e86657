"""pip-locked against pip and uv, in one run, medians side by side.

    python benchmarks/bench_pip.py [--quick] [--noop-only | --cold-only] [--packages N]

1. no-op ``install -r req.txt`` on a synced 120-package venv: pip-locked vs
   ``uv pip install`` (taking turns, medians).  pip-locked runs through its
   console script as pip 26.3 (and uv) write it; the script of the
   environment running the benchmark is shown too: an older pip (23.2, the
   one a fresh venv of Python 3.11 bundles, which installed it) wrote one
   that imports ``re`` first (about 10 ms here, more than pip-locked's whole
   no-op).  Beside them the floor (``python -c pass`` of the same
   interpreter); then pip-locked vs ``pip install``.  Targets: <= 0.8x uv,
   <= 1/20 of pip.
2. 8 concurrent cold installs vs one cold install, pip-locked and plain pip.
   Target: pip-locked <= 1.3x one install.  They take turns by design: one
   installs, the other seven wait for the lock and must then find the
   environment in sync at once.  Shown beside it: the waiters' own time (what
   each says in its "Checked N packages in X ms (waited Y s)" line: start-up,
   the look before the lock and the check after it, waiting left out) and how
   long after the installer the last of them ended (the hand-over).
With --stress, also 100 concurrent cold pip-locked installs vs one.

3. uncontended lock acquire+release (venvlock's environment lock hook) vs a
   raw ``fcntl.flock`` pair, in-process.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    FAILURES,
    alternate,
    build_large_set,
    concurrent,
    concurrent_detail,
    console_script,
    load_average,
    make_venv,
    median_of,
    offline_env,
    prepare_sources,
    row,
    scripts_dir,
    timed,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--packages", type=int, default=120)
    parser.add_argument("--noop-only", action="store_true", help="only the no-op figures (under a minute)")
    parser.add_argument("--cold-only", action="store_true", help="only the concurrent cold installs")
    parser.add_argument("--rounds", type=int, help="rounds of cold installs (default 5, 1 with --quick)")
    parser.add_argument("--no-pip", action="store_true", help="cold installs of pip-locked only (no plain pip anchor)")
    parser.add_argument("--stress", action="store_true", help="also 100 concurrent cold pip-locked installs")
    options = parser.parse_args()
    repeat = 5 if options.quick else 15
    cold_repeat = options.rounds or (1 if options.quick else 5)
    prepare_sources()
    work = Path(tempfile.mkdtemp(prefix="venvlock-bench-"))
    try:
        wheels = work / "wheels"
        names = build_large_set(wheels, options.packages)
        requirements = work / "req.txt"
        requirements.write_text(f"{names[0]}\n")
        env = offline_env(wheels, VENVLOCK_CACHE_DIR=str(work / "cache"))
        pip_locked = str(scripts_dir() / "pip-locked")
        uv = shutil.which("uv", path=str(scripts_dir())) or "uv"

        venv = work / "synced"
        if not options.cold_only:
            python = str(make_venv(venv))
            venv_env = {**env, "VIRTUAL_ENV": str(venv)}
            timed([python, "-m", "pip", "install", "-r", str(requirements)], venv_env)
            count = len(os.listdir(next((venv / "lib").glob("python*/site-packages"))))
            print(
                f"# {options.packages} packages from local wheels ({count} entries in site-packages); "
                f"medians of {repeat}"
            )
            script = str(console_script(work, "venvlock.plugins.pip_locked"))
            # the full route: records, makes its folders
            timed([pip_locked, "install", "-r", str(requirements)], venv_env)
            time.sleep(2.5)  # files this old are past the clock tick of a reading: as a project's files are
            uv_command = [uv, "pip", "install", "--python", python, "-r", str(requirements)]
            turns = alternate(
                repeat * 3,
                {
                    "pip-locked": [script, "install", "-r", str(requirements)],
                    "old-script": [pip_locked, "install", "-r", str(requirements)],
                    "uv": uv_command,
                    "floor": [sys.executable, "-c", "pass"],
                },
                venv_env,
            )
            entries = len(os.listdir(venv / ".venvlock" / "fast"))
            print(f"# no-op, taking turns, medians of {repeat * 3}; {load_average()}; fast-path entries: {entries}")
            print(
                row(
                    "no-op pip-locked install -r req.txt",
                    turns["pip-locked"],
                    "uv pip install -r",
                    turns["uv"],
                    "target <= 0.8",
                )
            )
            print(
                row(
                    "  same, this env's script (an old pip's: re)",
                    turns["old-script"],
                    "uv pip install -r",
                    turns["uv"],
                    "",
                )
            )
            print(
                row("  floor: python -c pass (same interpreter)", turns["floor"], "uv pip install -r", turns["uv"], "")
            )
            noop_pip = median_of(
                repeat, lambda: timed([python, "-m", "pip", "install", "-r", str(requirements)], venv_env)
            )
            print(
                row(
                    "no-op pip-locked install -r req.txt",
                    turns["pip-locked"],
                    "pip install -r req.txt",
                    noop_pip,
                    "target <= 0.05",
                )
            )

        if options.noop_only:
            return

        def cold(tool: str, processes: int) -> float:
            folder = work / f"cold-{tool}-{processes}-{time.monotonic_ns()}"
            python = str(make_venv(folder))
            cold_env = {**env, "VIRTUAL_ENV": str(folder)}
            command = [pip_locked] if tool == "pip-locked" else [python, "-m", "pip"]
            elapsed = concurrent(
                [[*command, "install", "-r", str(requirements)]] * processes, cold_env, allow_failures=tool == "pip"
            )
            shutil.rmtree(folder)
            return elapsed

        waiters: list[tuple[float, float]] = []  # (a waiter's own time, the last end after the installer's)

        def cold_locked_8() -> float:
            folder = work / f"cold-detail-{time.monotonic_ns()}"
            make_venv(folder)
            cold_env = {**env, "VIRTUAL_ENV": str(folder)}
            elapsed, ends, errors = concurrent_detail([[pip_locked, "install", "-r", str(requirements)]] * 8, cold_env)
            shutil.rmtree(folder)
            own = [float(m.group(1)) / 1000 for e in errors if (m := CHECKED.search(e))]
            installer_ends = [end for end, e in zip(ends, errors, strict=True) if not CHECKED.search(e)]
            if own and installer_ends:
                waiters.append((statistics.median(own), max(ends) - min(installer_ends)))
            return elapsed

        for tool in ("pip-locked",) if options.no_pip else ("pip-locked", "pip"):
            ones: list[float] = []
            eights: list[float] = []
            failures: list[int] = []
            for _ in range(cold_repeat):  # in turn: a change in the machine's load shifts both alike
                ones.append(cold(tool, 1))
                if tool == "pip-locked":
                    eights.append(cold_locked_8())
                else:
                    eights.append(cold(tool, 8))
                    failures.append(FAILURES[-1])
            one, eight = statistics.median(ones), statistics.median(eights)
            target = "target <= 1.3" if tool == "pip-locked" else "(anchor: plain pip)"
            failed = f"; {sum(failures)}/{8 * len(failures)} processes failed" if sum(failures) else ""
            print(row(f"8 concurrent cold installs, {tool}", eight, "one cold install", one, target + failed))
            if tool == "pip-locked" and waiters:
                own = statistics.median(w[0] for w in waiters)
                handover = statistics.median(w[1] for w in waiters)
                print(
                    f"#   the 7 waiters: own time {own * 1000:.0f} ms each (median, waiting left out); "
                    f"the last ended {handover * 1000:.0f} ms after the installer"
                )
        print(f"# {load_average()} (after the cold runs)")

        if options.stress:
            one = cold("pip-locked", 1)
            print(row("100 concurrent cold installs, pip-locked", cold("pip-locked", 100), "one cold install", one, ""))

        if not options.cold_only:
            print(row("lock acquire+release (venvlock hook)", *lock_costs(venv), "(information)"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


#: a waiter's line: "Checked 120 packages in 41ms (waited 9.3s for the lock)"
CHECKED = re.compile(r"Checked \d+ packages? in (\d+)ms")


def lock_costs(venv: Path) -> tuple[float, str, float]:
    """Median in-process cost of an uncontended hold of the environment lock, and of a raw flock pair."""
    import fcntl

    from venvlock.core import Environment, hooks

    environment = Environment.for_venv(str(venv))
    relay = hooks()
    rounds = 2000

    def venvlock_pair() -> float:
        start = time.perf_counter()
        for _ in range(rounds):
            with relay.venvlock_environment_lock(environment=environment, purpose="bench", quiet=True):
                pass
        return (time.perf_counter() - start) / rounds

    def raw_pair() -> float:
        fd = os.open(venv / ".lock", os.O_RDWR | os.O_CREAT)
        try:
            start = time.perf_counter()
            for _ in range(rounds):
                fcntl.flock(fd, fcntl.LOCK_EX)
                fcntl.flock(fd, fcntl.LOCK_UN)
            return (time.perf_counter() - start) / rounds
        finally:
            os.close(fd)

    return median_of(5, venvlock_pair), "raw fcntl.flock pair", median_of(5, raw_pair)


if __name__ == "__main__":
    sys.exit(main())
