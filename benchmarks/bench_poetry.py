"""The poetry plugin against stock poetry (``poetry --no-plugins``), in one run, medians side by side.

    python benchmarks/bench_poetry.py [--quick] [--packages N] [--cache-venv]

A project (``package-mode = false``) with N local wheels as dependencies,
served as a PEP 503 index on 127.0.0.1 (poetry takes no local folder), an
in-project ``.venv`` (``--cache-venv``: poetry's default, a venv in its cache
folder, found by asking the interpreter its version), poetry's folders
private and offline.  Timed as whole
``poetry install`` processes on a project whose environment is in sync
(no-op), venvlock vs stock, interleaved.  Target: <= 1.10x.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from _common import build_chain, prepare_sources, row, timed

from helpers.pep503 import Index
from helpers.poetry_project import make_poetry_venv, poetry, poetry_env, use_poetry, write_project


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (under a minute)")
    parser.add_argument("--packages", type=int, default=5, help="wheels in the dependencies")
    parser.add_argument("--cache-venv", action="store_true", help="the venv in poetry's cache, not in the project")
    options = parser.parse_args()
    repeat = 5 if options.quick else 15
    prepare_sources()
    work = Path(tempfile.mkdtemp(prefix="venvlock-bench-poetry-"))
    try:
        wheels = work / "wheels"
        names = build_chain(wheels, options.packages)
        use_poetry(make_poetry_venv(work / "poetry-venv"))
        with Index(wheels) as index:
            project = write_project(work / "project", index.url, deps=tuple(names))
            env = poetry_env(wheels, work)
            if options.cache_venv:
                env["POETRY_VIRTUALENVS_IN_PROJECT"] = "false"
            install = poetry("install")
            stock_install = poetry("--no-plugins", "install")  # poetry does not even import venvlock's plugin
            timed(install, env, cwd=project)  # creates the venv, resolves, writes poetry.lock, installs
            where = "a venv in poetry's cache" if options.cache_venv else "in-project .venv"
            print(f"# poetry install: {options.packages} local wheels as dependencies, {where}")
            samples: dict[str, list[float]] = {"venvlock": [], "stock": []}
            for _ in range(repeat + 1):  # no-op runs, interleaved; the first round warms caches and is dropped
                samples["venvlock"].append(timed(install, env, cwd=project))
                samples["stock"].append(timed(stock_install, env, cwd=project))
        noop = {label: statistics.median(times[1:]) for label, times in samples.items()}
        print(f"# no-op runs: medians of {repeat}")
        label = "venvlock poetry install (no-op)"
        print(row(label, noop["venvlock"], "stock poetry install", noop["stock"], "target <= 1.10"))
        ok = noop["venvlock"] <= 1.10 * noop["stock"]
        print("targets met" if ok else "TARGETS MISSED")
        if not ok:
            raise SystemExit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
