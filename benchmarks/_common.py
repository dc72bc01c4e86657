"""Shared pieces of the benchmarks: timing, a table, a large local wheel set, compiled sources."""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import build_wheel, make_venv, offline_env, scripts_dir  # noqa: E402

__all__ = ["build_wheel", "make_venv", "offline_env", "scripts_dir"]


def prepare_sources() -> None:
    """Compile venvlock's sources and this environment's packages, as an install would.

    The benchmarks run with ``PYTHONDONTWRITEBYTECODE`` set: a module without
    its ``.pyc`` would be compiled anew at every start.  virtualenv seeds
    setuptools without them, and its ``_distutils_hack`` is imported by every
    interpreter start of the environment (``distutils-precedence.pth``): 1.5
    ms more for every Python process, none for uv.
    """
    import sysconfig

    import venvlock

    compileall.compile_dir(os.path.dirname(venvlock.__file__), quiet=1)
    for folder in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        compileall.compile_dir(folder, quiet=2, workers=0)  # a package's files that do not compile are its own


def timed(command: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> float:
    return timed_cpu(command, env, cwd)[0]


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far (0 where unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_cpu(command: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float]:
    """``(wall seconds, CPU seconds)`` of *command* and the processes it waited for.

    CPU time hardly depends on the load of a shared machine: it is the figure to diagnose with, wall time
    (taken in turns with the anchor) the one users feel.
    """
    cpu = children_cpu()
    start = time.perf_counter()
    subprocess.run(list(command), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start, children_cpu() - cpu


def median_of(repeat: int, action: Callable[[], float]) -> float:
    action()  # warm caches
    return statistics.median(action() for _ in range(repeat))


def alternate(repeat: int, commands: dict[str, Sequence[str]], env: dict[str, str]) -> dict[str, float]:
    """Median wall time of each of *commands*, run in turn (A, B, C, A, B, C, ...) *repeat* times after one warm-up.

    Taking turns spreads the load of a shared machine evenly over the commands compared.
    """
    for command in commands.values():
        timed(command, env)
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(repeat):
        for label, command in commands.items():
            times[label].append(timed(command, env))
    return {label: statistics.median(values) for label, values in times.items()}


def load_average() -> str:
    """The machine's load average (1, 5, 15 minutes), to print beside every figure."""
    try:
        return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "load average unknown"


def settle(limit: float = 120.0) -> str:
    """Wait (at most *limit* seconds) until the 1-minute load average is below one process and a quarter of the
    cores (1.5 on 2), so that a no-op's few milliseconds are not timed in the wake of an earlier benchmark's
    concurrent runs (``nox -s bench`` runs them one after another; a benchmark's own runs, one at a time, keep it
    near 1); says how long it waited and the load it saw."""
    try:
        os.getloadavg()
    except OSError:
        return "load average unknown: not waited"
    quiet = 1.0 + (os.cpu_count() or 1) / 4
    start = time.monotonic()
    while os.getloadavg()[0] >= quiet and time.monotonic() - start < limit:
        time.sleep(1.0)
    return f"waited {time.monotonic() - start:.0f} s for the {load_average()}"


def console_script(folder: Path, module: str, function: str = "main") -> Path:
    """*module*'s console script as pip 26.3 writes it (no ``import re``: older pips' template imported it).

    It runs the interpreter of this process, as the script of this environment does.
    """
    path = folder / f"{module.rpartition('.')[2]}-script"
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"from {module} import {function}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n"
        f"    sys.exit({function}())\n"
    )
    path.chmod(0o755)
    return path


def concurrent(
    commands: Sequence[Sequence[str]], env: dict[str, str], cwd: Path | None = None, *, allow_failures: bool = False
) -> float:
    """Wall time of running all *commands* at once (failures end the benchmark unless *allow_failures*)."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen(list(c), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for c in commands
    ]
    codes = [p.wait() for p in procs]
    elapsed = time.perf_counter() - start
    failed = sum(1 for code in codes if code)
    if failed and not allow_failures:
        raise SystemExit(f"a benchmark command failed: {codes} {commands[0]}")
    FAILURES.append(failed)
    return elapsed


#: failures of each :func:`concurrent` call, in order (the unprotected anchors are allowed to fail)
FAILURES: list[int] = []


def build_chain(folder: Path, count: int) -> list[str]:
    """*count* wheels ``pkg00``... of 20 files, each requiring the next: the first pulls in all of them."""
    names = [f"pkg{i:02d}" for i in range(count)]
    for i, name in enumerate(names):
        build_wheel(folder, name, "1.0", requires=names[i + 1 : i + 2], files=20)
    return names


def build_large_set(folder: Path, count: int = 120, files: int = 8) -> list[str]:
    """*count* wheels where each depends on the next two: one requirement pulls in all of them."""
    names = [f"pkg{i:03d}" for i in range(count)]
    for i, name in enumerate(names):
        requires = [f"{n}>=1.0" for n in names[i + 1 : i + 3]]
        build_wheel(folder, name, "1.0", requires=requires, files=files, data_files=2)
    return names


def concurrent_detail(
    commands: Sequence[Sequence[str]], env: dict[str, str], cwd: Path | None = None
) -> tuple[float, list[float], list[str]]:
    """Run all *commands* at once: ``(wall time, each one's end after the start, each one's stderr)``.

    A failure ends the benchmark.
    """
    import threading

    start = time.perf_counter()
    procs = [
        subprocess.Popen(list(c), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    ends = [0.0] * len(procs)
    errors = [""] * len(procs)

    def wait(index: int) -> None:
        errors[index] = procs[index].communicate()[1]
        ends[index] = time.perf_counter() - start

    threads = [threading.Thread(target=wait, args=(index,)) for index in range(len(procs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    codes = [p.returncode for p in procs]
    if any(codes):
        raise SystemExit(f"a benchmark command failed: {codes} {commands[0]}")
    return elapsed, ends, errors


def row(label: str, value: float, anchor_label: str, anchor: float, target: str) -> str:
    """One line of a benchmark's table, *value* beside its *anchor* (seconds); also kept for the summary table."""
    ratio = value / anchor if anchor else float("inf")
    mine, theirs = f"{value * 1000:9.1f} ms", f"{anchor * 1000:9.1f} ms"
    keep(label, mine.strip(), f"{anchor_label} {theirs.strip()}", f"{ratio:.3f}x", target)
    return f"{label:<44} {mine}   {anchor_label:<24} {theirs}   ratio {ratio:6.3f}   {target}"


#: the file ``nox -s bench`` gives every script, where each figure is kept for the table printed at the end
SUMMARY_VAR = "VENVLOCK_BENCH_SUMMARY"


def keep(label: str, figure: str, anchor: str, ratio: str, target: str) -> None:
    """Add one figure to the summary file named by ``$VENVLOCK_BENCH_SUMMARY`` (nothing when it is unset)."""
    path = os.environ.get(SUMMARY_VAR)
    if not path:
        return
    line = {
        "benchmark": Path(sys.argv[0]).stem,
        "figure": label,
        "venvlock": figure,
        "anchor": anchor,
        "ratio": ratio,
        "target": target.strip(),
        "load": " ".join(f"{value:.2f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "",
    }
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")
