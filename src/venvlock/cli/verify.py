"""``venvlock verify [PATH] [--json] [--no-cache] [-j N]``: what ``pip check`` misses, and what it checks.

Reads the environment under its lock (so it waits for a sync in progress;
the wait is reported apart from the check's own time), prints one line per
problem naming the distribution and the file.  Exit status:

* 0: the environment is intact (warnings, such as files no distribution owns, do not count);
* 1: it is damaged;
* 2: a bad setting or usage (no environment at PATH);
* 3: nothing was verified (no package folder, or no distribution in them): "no damage" would say nothing.
"""

from __future__ import annotations

import json
import sys

from venvlock.adapter import Adapter
from venvlock.cli._environments import environment_at

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from venvlock.audit import Report
    from venvlock.core import Environment

#: the exit status of a verification that covered nothing
NOTHING_VERIFIED = 3


def main(options: argparse.Namespace, extra: list[str]) -> int:
    environment = environment_at(options.path)
    adapter = Adapter("venvlock")
    with adapter.environment_lock(environment) as hold:
        report = adapter.verify(environment, jobs=max(options.jobs, 0), use_cache=not options.no_cache)
    report.waited = hold.waited if hold is not None else 0.0
    if options.json:
        print(json.dumps(report_data(environment, report), indent=2))
    else:
        print_report(environment, report)
    return exit_status(report)


def exit_status(report: Report) -> int:
    if report.damaged:
        return 1
    return NOTHING_VERIFIED if report.covered_nothing else 0


def report_data(environment: Environment, report: Report) -> dict[str, object]:
    return {
        "environment": environment.path,
        "kind": environment.kind.value,
        "site_folders": report.site_folders,
        "damaged": report.damaged,
        "covered_nothing": report.covered_nothing,
        "problems": [problem.as_dict() for problem in report.problems],
        "checked": {
            "distributions": report.distributions,
            "files": report.files,
            "hashed": report.hashed,
            "cached": report.cached,
            "requirements": report.requirements_checked,
        },
        "seconds": round(report.seconds, 4),
        "waited": round(report.waited, 4),
    }


def print_report(environment: Environment, report: Report) -> None:
    for problem in report.problems:
        prefix = "warning: " if problem.severity.value == "warning" else ""
        print(f"{prefix}{problem.message}")
    damage = sum(1 for p in report.problems if p.severity.value == "damage")
    warnings = len(report.problems) - damage
    waited = f" (waited {report.waited:.1f}s for the lock)" if report.waited >= 0.05 else ""  # as pip-locked says
    checked = (
        f"{report.distributions} distributions, {report.files} files "
        f"({report.hashed} hashed, {report.cached} unchanged since verified) in {report.seconds * 1000:.0f}ms{waited}"
    )
    if not report.requirements_checked:
        print("warning: requirements not checked: the interpreter's markers could not be had", file=sys.stderr)
    if damage:
        print(f"Damaged: {damage} problem{'s' if damage != 1 else ''}, {warnings} warnings; checked {checked}")
        print("Repair with: venvlock repair" + ("" if not report.problems else " (see --dry-run first)"))
    elif report.covered_nothing:
        where = ", ".join(report.site_folders) or "no package folder found"
        print(f"Nothing verified in {environment.name} ({where}): checked {checked}")
    else:
        print(f"No damage found ({warnings} warnings); checked {checked}")
