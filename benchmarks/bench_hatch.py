"""hatch with ``type = "venvlock"`` against hatch's stock ``type = "virtual"``, medians side by side.

    python benchmarks/bench_hatch.py [--quick] [--processes 16] [--noop-only] [--hatch PATH]

1. no-op ``hatch run python -c 1`` on a synced environment, venvlock vs
   virtual, runs interleaved.  Target: <= 1.10x stock, plugin-free and with
   other hatch plugins beside hatch (``--hatch`` names the ``hatch`` of an
   environment that has them, venvlock installed there too: hatch loads every
   third-party plugin to find a type that is not built in, see
   ``benchmarks/hatch-upstream.patch``).
2. N concurrent cold ``hatch run python -c "import ..."`` on a fresh project
   vs one cold run, venvlock, for a small project (4 tiny wheels) and a
   medium one (8 more wheels of 210 files each).  Target: <= 1.5x one cold
   run.  Stock hatch has no such row: most of its concurrent cold runs fail.
3. Information: N concurrent no-op runs vs one.  Every one of the N
   processes pays hatch's own start-up (about 0.25 s of CPU here) before
   venvlock's code runs at all, and while they start, the one that creates
   the environment shares the CPU with them; on a 2-core machine that cost,
   not the lock, dominates row 2 for a small project.  The last line gives
   (one cold + N no-op - one no-op) / one cold: the ratio if start-up and
   creation never overlapped.
4. Information: one cold run, venvlock vs virtual.

The project is the test suite's (``tests/helpers/hatch_project.py``): a tiny in-tree
build backend, and dependencies from local wheels (no network).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _common import build_wheel, concurrent, load_average, offline_env, prepare_sources, row, settle, timed

from helpers.hatch_project import HATCH, IMPORTS, HatchProject  # the tests' project and its hatch

# the tests' dependency tree: alpha -> beta, gamma[fast] -> delta
WHEELS = [
    ("alpha", "1.0", ["beta>=1", 'gamma[fast]; python_version >= "3"']),
    ("beta", "1.0", []),
    ("gamma", "1.0", []),
    ("delta", "1.0", []),
]
#: the medium project's extra environment dependencies (wheels of 150 modules and 60 data files)
MEDIUM = [f"heavy{i}" for i in range(8)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--processes", type=int, default=16, help="concurrent cold runs (default 16)")
    parser.add_argument("--noop-only", action="store_true", help="only the no-op figure (under a minute)")
    parser.add_argument("--hatch", default=HATCH, help="the hatch to run (default: this environment's)")
    options = parser.parse_args()
    hatch = options.hatch
    repeat = 5 if options.quick else 20
    cold_repeat = 1 if options.quick else 3
    prepare_sources()
    work = Path(tempfile.mkdtemp(prefix="venvlock-bench-hatch-"))
    try:
        wheels = work / "wheels"
        for name, version, requires in WHEELS:
            extras = {"fast": ["delta"]} if name == "gamma" else None
            build_wheel(wheels, name, version, requires=requires, extras=extras)
        for name in MEDIUM:
            build_wheel(wheels, name, "1.0", files=150, data_files=60, payload=2000)
        env = offline_env(wheels, VENVLOCK_CACHE_DIR=str(work / "cache"), VENVLOCK_TIMEOUT="600")

        def project(type_: str, label: str, extra: Sequence[str] = ()) -> HatchProject:
            created = HatchProject(work / label / "proj", env)
            created.configure(type_=type_, hook=False, env_dependencies=["beta>=1", *extra])
            return created

        # 1. no-op on a synced environment
        synced = {type_: project(type_, f"synced-{type_}") for type_ in ("venvlock", "virtual")}
        for created in synced.values():
            for _ in range(2):  # create and sync, then settle
                ran = created.hatch("run", "python", "-c", IMPORTS)  # this environment's hatch makes it
                if ran.returncode:
                    raise SystemExit(f"hatch failed: {ran.stderr}")
        settled = settle()
        samples: dict[str, list[float]] = {type_: [] for type_ in synced}
        for _ in range(repeat):  # interleaved, so drift in machine load hits both alike
            for type_, created in synced.items():
                samples[type_].append(timed([hatch, "run", "python", "-c", "1"], created.env, cwd=created.root))
        noop = {type_: statistics.median(values) for type_, values in samples.items()}
        processes = options.processes
        print(f"# hatch run ({hatch}), projects from local wheels; medians of {repeat} (no-op), {cold_repeat} (cold)")
        print(f"# {settled}; after the no-op runs: {load_average()}")
        label = 'no-op hatch run, type "venvlock"'
        print(row(label, noop["venvlock"], 'type "virtual"', noop["virtual"], "target <= 1.10"))
        if options.noop_only:
            return

        # 2. and 4. cold runs
        def cold(type_: str, count: int, extra: Sequence[str] = ()) -> float:
            created = project(type_, f"cold-{type_}-{count}-{time.monotonic_ns()}", extra)
            command = [HATCH, "run", "python", "-c", ", ".join([IMPORTS, *extra])]
            elapsed = concurrent([command] * count, created.env, cwd=created.root)
            shutil.rmtree(created.base, ignore_errors=True)
            return elapsed

        # 3. the floor: hatch's own start-up in every process, before venvlock's code runs
        created = synced["venvlock"]
        noop_many = statistics.median(
            concurrent([[HATCH, "run", "python", "-c", "1"]] * processes, created.env, cwd=created.root)
            for _ in range(cold_repeat)
        )

        ones: dict[str, float] = {}
        bounds: list[str] = []
        for size, extra in (("small", ()), ("medium", MEDIUM)):
            one = ones[size] = statistics.median(cold("venvlock", 1, extra) for _ in range(cold_repeat))
            many = statistics.median(cold("venvlock", processes, extra) for _ in range(cold_repeat))
            label = f"{processes} concurrent cold runs, {size} project"
            print(row(label, many, "one cold run", one, "target <= 1.5"))
            bounds.append(f"{size} {(one + noop_many - noop['venvlock']) / one:.2f}")
        floor_label = f"{processes} concurrent no-op runs (floor)"
        print(row(floor_label, noop_many, "one no-op run", noop["venvlock"], "(information)"))
        stock = statistics.median(cold("virtual", 1) for _ in range(cold_repeat))
        print(row('one cold run, small, type "venvlock"', ones["small"], 'type "virtual"', stock, "(information)"))
        print(f"# start-up alone, if it never overlapped the creation, would give ratios of: {', '.join(bounds)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
