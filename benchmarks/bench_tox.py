"""The tox plugin against stock tox (the plugin blocked: ``TOX_DISABLED_EXTERNAL_PLUGINS=venvlock``), in one run,
medians side by side.

    python benchmarks/bench_tox.py [--quick] [--runner virtualenv|uv-venv-runner] [--packages N]
                                   [--spelling default|pip-locked|uv ...] [--cold]

A ``tox.ini`` environment (``skipsdist``) with N local wheels as ``deps`` and
one command.  Timed as whole ``tox`` processes:

* no-op ``tox -e py`` (the environment exists and is in sync) with venvlock
  vs stock tox, for each ``install_command`` spelling (virtualenv runner):
  tox's default, ``pip-locked --python {envpython} install {opts}
  {packages}`` and ``uv pip install {packages}``.  Target: <= 1.05x each
  (issue 20).  Each is shown with its CPU time too (the tox process and its
  children), which hardly depends on the load of a shared machine.  The
  timed rounds of each start once the load an earlier benchmark left has
  settled (``settle``: at most 2 minutes).
* 8 concurrent cold ``tox -e py`` (no ``.tox``) with venvlock vs one cold
  run.  Target: <= 1.5x.  Stock tox's 8 concurrent cold runs are shown for
  reference with their failures (they race), and 8 concurrent stock no-op
  runs: what 8 tox processes cost on this machine at the least.

``--quick`` (about a minute on 2 busy cores): 4 no-op pairs per spelling and
no cold runs (``--cold`` adds one round of them).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from _common import (
    FAILURES,
    build_chain,
    concurrent,
    load_average,
    offline_env,
    prepare_sources,
    row,
    scripts_dir,
    settle,
    timed,
    timed_cpu,
)

TOX_INI = """\
[tox]
skipsdist = true

[testenv:py]
runner = {runner}
deps =
{deps}
{settings}
commands = python -c "import {imports}"
"""

#: the install_command spellings timed (the virtualenv runner's): name -> [testenv] settings; {scripts} the tools'
SPELLINGS = {
    "default": "",
    "pip-locked": (
        "install_command = {scripts}/pip-locked --python {{envpython}} install {{opts}} {{packages}}\n"
        "allowlist_externals = {scripts}/pip-locked"
    ),
    "uv": (
        "install_command = {scripts}/uv pip install {{packages}}\nallowlist_externals = {scripts}/uv\n"
        "pass_env = UV_NO_INDEX, UV_FIND_LINKS, UV_OFFLINE, UV_NO_CONFIG, UV_CACHE_DIR"
    ),
}


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--runner", default="virtualenv", choices=["virtualenv", "uv-venv-runner"])
    parser.add_argument("--packages", type=int, default=5, help="wheels in deps")
    parser.add_argument(
        "--spelling", action="append", choices=sorted(SPELLINGS), help="install_command spellings (default: all)"
    )
    parser.add_argument("--cold", action="store_true", help="also the cold runs with --quick")
    options = parser.parse_args()
    repeat = 4 if options.quick else 25  # a tox no-op's own time spreads over 200-255 ms from run to run here
    cold_repeat = 1 if options.quick else 3
    spellings = options.spelling or (list(SPELLINGS) if options.runner == "virtualenv" else ["default"])
    prepare_sources()
    work = Path(tempfile.mkdtemp(prefix="venvlock-bench-tox-"))
    try:
        wheels = work / "wheels"
        names = build_chain(wheels, options.packages)
        project = work / "project"
        project.mkdir()
        deps = "".join(f"    {name}\n" for name in names).rstrip("\n")

        def configure(spelling: str) -> None:
            settings = SPELLINGS[spelling].format(scripts=scripts_dir())
            ini = TOX_INI.format(runner=options.runner, deps=deps, imports=", ".join(names), settings=settings)
            (project / "tox.ini").write_text(ini)

        env = offline_env(
            wheels,
            VENVLOCK_CACHE_DIR=str(work / "cache"),
            VIRTUALENV_OVERRIDE_APP_DATA=str(work / "app-data"),
            VIRTUALENV_NO_DOWNLOAD="1",
            VIRTUALENV_NO_PERIODIC_UPDATE="1",
            TOX_USER_CONFIG_FILE=str(work / "no-user-config.ini"),
            UV_CACHE_DIR=str(work / "uv-cache"),
        )
        # stock tox: venvlock's tox plugin blocked, so tox does not even import it (VENVLOCK_TOX=0 would)
        stock_env = {**env, "TOX_DISABLED_EXTERNAL_PLUGINS": "venvlock"}
        tox = [str(scripts_dir() / "tox"), "-e", "py"]

        def cold(environ: dict[str, str]) -> float:
            shutil.rmtree(project / ".tox", ignore_errors=True)
            return timed(tox, environ, cwd=project)

        def cold_8(environ: dict[str, str], *, allow_failures: bool = False) -> float:
            shutil.rmtree(project / ".tox", ignore_errors=True)
            return concurrent([tox] * 8, environ, cwd=project, allow_failures=allow_failures)

        print(f"# tox -e py: {options.packages} local wheels as deps, one command; runner {options.runner}")
        print(f"# no-op runs (the environment in sync): medians of {repeat}, venvlock and stock interleaved")
        ok = True
        for spelling in spellings:
            configure(spelling)
            cold(stock_env)  # builds the environment (and warms virtualenv's app data and the caches)
            timed(tox, env, cwd=project)  # venvlock's first look (its caches)
            print(f"# {settle()}")
            samples: dict[str, list[float]] = {"venvlock": [], "stock": []}
            cpu: dict[str, list[float]] = {"venvlock": [], "stock": []}
            for _ in range(repeat + 1):  # the first round warms caches and is dropped
                for label, environ in (("venvlock", env), ("stock", stock_env)):
                    wall, used = timed_cpu(tox, environ, cwd=project)
                    samples[label].append(wall)
                    cpu[label].append(used)
            noop = {label: statistics.median(times[1:]) for label, times in samples.items()}
            noop_cpu = {label: statistics.median(times[1:]) for label, times in cpu.items()}
            ok = ok and noop["venvlock"] <= 1.05 * noop["stock"]
            label = f"venvlock tox -e py (no-op), {spelling}"
            print(row(label, noop["venvlock"], "stock tox -e py", noop["stock"], "target <= 1.05"))
            print(row("  CPU time of the same", noop_cpu["venvlock"], "CPU of stock", noop_cpu["stock"], ""))
        print(f"# {load_average()} (after the no-op runs)")

        if options.cold or not options.quick:
            configure("default")
            one = statistics.median(cold(env) for _ in range(cold_repeat))
            eight = statistics.median(cold_8(env) for _ in range(cold_repeat))
            stock_eight = cold_8(stock_env, allow_failures=True)
            stock_failed = FAILURES[-1]
            cold(env)  # an environment for the no-op floor (stock's concurrent runs may have left it broken)
            floor = concurrent([tox] * 8, stock_env, cwd=project, allow_failures=True)
            print(f"# cold runs (no .tox), default install_command: medians of {cold_repeat}")
            print(row("venvlock 8 concurrent cold tox -e py", eight, "1 cold run", one, "target <= 1.5"))
            failed = f"({stock_failed} of 8 failed)"
            print(row("stock 8 concurrent cold tox -e py", stock_eight, "1 cold run", one, failed))
            print(
                row("stock 8 concurrent no-op tox -e py", floor, "1 cold run", one, "(the machine's floor for 8 tox)")
            )
            print(
                row("venvlock 8 concurrent cold tox -e py", eight, "8 concurrent stock no-op", floor, "(vs the floor)")
            )
            ok = ok and eight <= 1.5 * one
        print("targets met" if ok else "TARGETS MISSED")
        if not ok:
            raise SystemExit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
