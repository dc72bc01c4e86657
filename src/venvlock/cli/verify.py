"""``venvlock verify [PATH] [--json] [--no-cache] [-j N]``: what ``pip check`` misses, and what it checks.

Reads the environment under its lock (so it waits for a sync in progress),
prints one line per problem naming the distribution and the file, and exits
1 when the environment is damaged, 0 when it is intact (warnings, such as
files no distribution owns, do not count as damage).
"""

from __future__ import annotations

import json
import sys
import time

from venvlock.adapter import Adapter
from venvlock.cli._environments import environment_at

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from venvlock.core import Environment, Report


def main(options: argparse.Namespace, extra: list[str]) -> int:
    environment = environment_at(options.path)
    adapter = Adapter("venvlock")
    start = time.monotonic()
    with adapter.environment_lock(environment):
        report = adapter.verify(environment, jobs=max(options.jobs, 0), use_cache=not options.no_cache)
    elapsed = time.monotonic() - start
    if options.json:
        print(json.dumps(report_data(environment, report, elapsed), indent=2))
    else:
        print_report(report, elapsed)
    return 1 if report.damaged else 0


def report_data(environment: Environment, report: Report, elapsed: float) -> dict[str, object]:
    return {
        "environment": environment.path,
        "damaged": report.damaged,
        "problems": [problem.as_dict() for problem in report.problems],
        "checked": {
            "distributions": report.distributions,
            "files": report.files,
            "hashed": report.hashed,
            "cached": report.cached,
            "requirements": report.requirements_checked,
        },
        "seconds": round(elapsed, 4),
    }


def print_report(report: Report, elapsed: float) -> None:
    for problem in report.problems:
        prefix = "warning: " if problem.severity == "warning" else ""
        print(f"{prefix}{problem.message}")
    damage = sum(1 for p in report.problems if p.severity == "damage")
    warnings = len(report.problems) - damage
    checked = (
        f"{report.distributions} distributions, {report.files} files "
        f"({report.hashed} hashed, {report.cached} unchanged since verified) in {elapsed * 1000:.0f}ms"
    )
    if not report.requirements_checked:
        print("warning: requirements not checked: the interpreter's markers could not be had", file=sys.stderr)
    if damage:
        print(f"Damaged: {damage} problem{'s' if damage != 1 else ''}, {warnings} warnings; checked {checked}")
        print("Repair with: venvlock repair" + ("" if not report.problems else " (see --dry-run first)"))
    else:
        print(f"No damage found ({warnings} warnings); checked {checked}")
