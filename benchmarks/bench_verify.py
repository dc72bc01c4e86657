"""``venvlock verify`` against ``pip check`` on a seed-size environment, medians side by side.

    python benchmarks/bench_verify.py [--quick] [--seed DIR] [--packages 120]

The environment: by default *--packages* generated wheels (each with 60
modules and 4 data files of a few kB; offline).  With ``--seed DIR``, the
real seed set instead: ``jupyter`` and ``pandas`` with their dependencies
(about 120 distributions), downloaded once into DIR with ``pip download``
(DIR is reused on the next run) and installed from there offline.

Rows (each a median of whole commands, as a user runs them):

1. ``venvlock verify --no-cache``: every file hashed, on the thread pool,
   vs ``pip check`` (which hashes nothing).  Information: what the full
   integrity check costs over the dependency check.
2. ``venvlock verify --no-cache -j 1`` vs row 1: what the thread pool saves.
3. ``venvlock verify`` with the cache of verified files (size, mtime, ctime
   and inode; a file is hashed again only when one of them changed) vs
   ``pip check``.  Target: <= 1.0x pip check.
4. The cache's cost: its size on disk and the time of the first run, which
   writes it, vs row 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import build_wheel, make_venv, median_of, offline_env, prepare_sources, row, scripts_dir, timed

SEED = ["jupyter", "pandas"]


def build_generated(folder: Path, count: int) -> list[str]:
    """*count* wheels, each depending on the next: one requirement pulls in all of them."""
    names = [f"pkg{i:03d}" for i in range(count)]
    for i, name in enumerate(names):
        requires = [f"{n}>=1.0" for n in names[i + 1 : i + 2]]
        build_wheel(folder, name, "1.0", requires=requires, files=60, data_files=4, payload=3000)
    return names[:1]


def download_seed(folder: Path) -> list[str]:
    """The seed set's wheels in *folder*, downloaded once with pip (reused when already there)."""
    if not any(folder.glob("*.whl")):
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", str(folder), *SEED], check=True)
    return SEED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--packages", type=int, default=120, help="generated wheels (without --seed)")
    parser.add_argument("--seed", metavar="DIR", help="use jupyter + pandas, downloaded once into DIR")
    options = parser.parse_args()
    repeat = 3 if options.quick else 9
    prepare_sources()
    work = Path(tempfile.mkdtemp(prefix="venvlock-bench-verify-"))
    try:
        if options.seed:
            wheels = Path(options.seed).resolve()
            requirements = download_seed(wheels)
        else:
            wheels = work / "wheels"
            requirements = build_generated(wheels, options.packages)
        env = offline_env(wheels, VENVLOCK_CACHE_DIR=str(work / "cache"))
        venv = work / "venv"
        python = str(make_venv(venv))
        subprocess.run([python, "-m", "pip", "install", "-q", *requirements], env=env, check=True)
        env["VIRTUAL_ENV"] = str(venv)
        time.sleep(2.5)  # files changed in the last 2 s are never cached: let the install age
        venvlock = str(scripts_dir() / "venvlock")
        cache = venv / ".venvlock" / "verified"

        first_start = time.perf_counter()
        done = subprocess.run([venvlock, "verify"], env=env, capture_output=True, text=True)
        first = time.perf_counter() - first_start
        print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr)
        if done.returncode != 0:
            raise SystemExit(f"the fresh environment is not intact:\n{done.stdout}")
        distributions = sum(1 for entry in os.listdir(_site(venv)) if entry.endswith(".dist-info"))
        files = sum(len(files) for _, _, files in os.walk(_site(venv)))
        print(f"environment: {distributions} distributions, {files} files in site-packages")

        pip_check = median_of(repeat, lambda: timed([python, "-m", "pip", "check"], env))
        cold = median_of(repeat, lambda: timed([venvlock, "verify", "--no-cache"], env))
        serial = median_of(repeat, lambda: timed([venvlock, "verify", "--no-cache", "-j", "1"], env))
        warm = median_of(repeat, lambda: timed([venvlock, "verify"], env))

        print()
        print(row("verify --no-cache (all hashed, pool)", cold, "pip check", pip_check, "information"))
        print(row("verify --no-cache -j 1 (all hashed, serial)", serial, "verify --no-cache (pool)", cold, "info"))
        print(row("verify (cache of verified files)", warm, "pip check", pip_check, "target <= 1.0"))
        print(row("first verify (hashes all, writes the cache)", first, "verify --no-cache", cold, "information"))
        print(f"cache: {cache.stat().st_size / 1024:.0f} kB in {cache}" if cache.exists() else "cache: not written")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _site(venv: Path) -> Path:
    (found,) = (venv / "lib").glob("python*/site-packages")
    return found


if __name__ == "__main__":
    main()
