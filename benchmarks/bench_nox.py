"""The nox adapter against stock nox, in one run, medians side by side.

    python benchmarks/bench_nox.py [--quick] [--backend virtualenv|venv|uv] [--packages N]

A session installs a ``-r`` file of N local wheels and one more package, then
runs one command.  The same session is defined twice, in two noxfiles: with
``venvlock.plugins.nox.session``, and with stock ``nox.session`` in a noxfile
that imports nothing of venvlock (``-f stock-noxfile.py``).  Both venvs
are built once and left 2.5 s (a project's files are older than a reading's
clock tick, and a fast-path entry proves nothing younger), then each rerun is
timed (whole ``nox`` process):

* adapter ``-r`` (reuse; installs proved or checked, skipped when satisfied) vs adapter
  ``-R`` (reuse, installs not even looked at).  Target: <= 1.3x.
* adapter ``-r`` vs stock ``-r`` (pip's "already satisfied" run).  Target: < 1x.
* adapter ``-r`` vs stock ``-R``: a no-op with venvlock against nox's fastest
  no-op, which does not even look at the installs.  Target: <= 1.05x (issue 20).
* adapter ``-R`` vs stock ``-R``: what the adapter's protection (the creation
  lock, the environment lock around nox's reuse, the provisioned marker) costs.

The timed rounds start once the load an earlier benchmark left has settled (``settle``: at most 2 minutes).
Every case also shows its CPU time (the nox process and its children), which
hardly depends on the load of a shared machine: the figure to diagnose with.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    build_chain,
    build_wheel,
    load_average,
    offline_env,
    prepare_sources,
    row,
    settle,
    timed,
    timed_cpu,
)

#: the noxfile of the adapter's session; the stock session has its own (:data:`STOCK_NOXFILE`), which imports
#: nothing of venvlock: stock nox as a project without venvlock runs it
NOXFILE = """
from venvlock.plugins.nox import session

BACKEND = {backend!r}
IMPORTS = {imports!r}


@session(venv_backend=BACKEND)
def adapter(session):
    session.install("-r", "requirements.txt")
    session.install("extra")
    session.run("python", "-c", IMPORTS)
"""
STOCK_NOXFILE = (
    NOXFILE.replace("from venvlock.plugins.nox import session", "import nox")
    .replace("@session(", "@nox.session(")
    .replace("def adapter(", "def stock(")
)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--backend", default="virtualenv", choices=["virtualenv", "venv", "uv"])
    parser.add_argument("--packages", type=int, default=7, help="wheels in the -r file")
    options = parser.parse_args()
    repeat = 5 if options.quick else 25  # a nox no-op moves by a few ms from run to run here: 5% is 6 ms
    prepare_sources()
    work = Path(tempfile.mkdtemp(prefix="venvlock-bench-nox-"))
    try:
        wheels = work / "wheels"
        names = build_chain(wheels, options.packages)
        build_wheel(wheels, "extra", "1.0", files=20)
        project = work / "project"
        project.mkdir()
        (project / "requirements.txt").write_text("".join(f"{name}>=1.0\n" for name in names))
        imports = "import extra, " + ", ".join(names)
        (project / "noxfile.py").write_text(NOXFILE.format(backend=options.backend, imports=imports))
        (project / "stock-noxfile.py").write_text(STOCK_NOXFILE.format(backend=options.backend, imports=imports))
        env = offline_env(wheels, VENVLOCK_CACHE_DIR=str(work / "cache"))

        def command(session: str, *flags: str) -> list[str]:
            noxfile = ["-f", "stock-noxfile.py"] if session == "stock" else []
            return [sys.executable, "-m", "nox", *noxfile, "-s", session, *flags]

        def nox(session: str, *flags: str) -> float:
            return timed(command(session, *flags), env, cwd=project)

        def nox_cpu(session: str, *flags: str) -> tuple[float, float]:
            return timed_cpu(command(session, *flags), env, cwd=project)

        build = {session: nox(session) for session in ("adapter", "stock")}
        time.sleep(2.5)  # files this old are past the clock tick of a reading: as a project's files are
        print(
            f"# nox session: -r file of {options.packages} local wheels + 1 more, one command; "
            f"backend {options.backend}; medians of {repeat}"
        )
        first = f"adapter {build['adapter']:.2f}s, stock {build['stock']:.2f}s"
        print(f"# first build (recreate + install): {first}")
        print(f"# {settle()}")
        # interleaved, so that a change in the machine's load shifts all four alike, and each round starts one case
        # later, so that none always runs first in a round or always after stock's pip run (each position showed
        # a bias of a few ms here)
        cases = {"adapter -r": ("adapter", "-r"), "adapter -R": ("adapter", "-R")}
        cases.update({"stock -r": ("stock", "-r"), "stock -R": ("stock", "-R")})
        samples: dict[str, list[float]] = {label: [] for label in cases}
        cpu: dict[str, list[float]] = {label: [] for label in cases}
        labels = list(cases)
        for turn in range(repeat + 1):  # the first round warms caches and is dropped
            for label in labels[turn % len(labels) :] + labels[: turn % len(labels)]:
                wall, used = nox_cpu(*cases[label])
                samples[label].append(wall)
                cpu[label].append(used)
        medians = {label: statistics.median(times[1:]) for label, times in samples.items()}
        cpu_medians = {label: statistics.median(times[1:]) for label, times in cpu.items()}
        entries = len(os.listdir(project / ".nox" / "adapter" / ".venvlock" / "fast"))
        print(f"# {load_average()} (after the runs); fast-path entries: {entries}")
        adapter_r, adapter_big_r = medians["adapter -r"], medians["adapter -R"]
        stock_r, stock_big_r = medians["stock -r"], medians["stock -R"]
        print(row("adapter nox -s adapter -r", adapter_r, "adapter -R", adapter_big_r, "target <= 1.3"))
        print(row("adapter nox -s adapter -r", adapter_r, "stock nox -r", stock_r, "target < 1"))
        print(row("adapter nox -s adapter -r", adapter_r, "stock nox -R", stock_big_r, "target <= 1.05"))
        print(
            row(
                "  CPU time of the same",
                cpu_medians["adapter -r"],
                "CPU of stock nox -R",
                cpu_medians["stock -R"],
                "(load-independent)",
            )
        )
        print(
            row(
                "adapter nox -s adapter -R",
                adapter_big_r,
                "stock nox -R",
                stock_big_r,
                "(cost of protection)",
            )
        )
        spread = statistics.pstdev([nox("adapter", "-r") for _ in range(3)])
        print(f"# spread of adapter -r (3 more runs): {spread * 1000:.1f} ms")
        ok = adapter_r <= 1.3 * adapter_big_r and adapter_r < stock_r and adapter_r <= 1.05 * stock_big_r
        print("targets met" if ok else "TARGETS MISSED")
        if not ok:
            raise SystemExit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
