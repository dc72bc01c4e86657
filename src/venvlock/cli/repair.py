"""``venvlock repair [PATH] [--dry-run] [-- PIP-OPTIONS]``: put a damaged environment back whole.

Under the creation lock, then the environment lock:

1. verify the environment (:meth:`Adapter.verify <venvlock.adapter.Adapter.verify>`);
2. plan the repair (:meth:`Adapter.plan_repair <venvlock.adapter.Adapter.plan_repair>`: what to remove before,
   what to reinstall at its installed version, pip's leftovers to remove after);
3. carry it out, the reinstall with the installer venvlock uses (through the
   ``venvlock_install`` hook: pip, or uv with ``VENVLOCK_INSTALLER=uv``);
4. verify again.

Only the environment's own package folders and the files their RECORDs list
inside the environment are ever touched.  Unmet requirements and files no
distribution owns are reported, not changed.  Exit 0 when the environment is
intact afterwards, 1 when damage remains, the installer's status when it failed.
"""

from __future__ import annotations

import sys

from venvlock.adapter import Adapter
from venvlock.cli._environments import environment_at

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from venvlock.core import Environment, LockHold, RepairPlan


def main(options: argparse.Namespace, pip_options: list[str]) -> int:
    environment = environment_at(options.path)
    adapter = Adapter("venvlock")
    with adapter.creation_lock(environment), adapter.environment_lock(environment) as hold:
        report = adapter.verify(environment)
        plan = adapter.plan_repair(report, environment)
        for line in plan.lines(dry_run=options.dry_run):
            print(line)
        if options.dry_run:
            if plan.empty():
                print("Nothing to repair")
            return 0
        if plan.empty():
            print("Nothing to repair" if not report.damaged else "Nothing venvlock can repair")
            return 1 if report.damaged else 0
        returncode = execute(plan, adapter, environment, hold, pip_options)
        if returncode != 0:
            print(f"venvlock: error: the installer failed (exit {returncode}); leftovers kept", file=sys.stderr)
            return returncode
        after = adapter.verify(environment)
    damage = [p for p in after.problems if p.severity == "damage"]
    for problem in damage:
        print(f"Still damaged: {problem.message}")
    if damage:
        return 1
    print(f"Repaired: {after.distributions} distributions verified, no damage found")
    return 0


def execute(
    plan: RepairPlan, adapter: Adapter, environment: Environment, hold: LockHold | None, pip_options: list[str]
) -> int:
    """Carry out *plan* under the locks; the installer's exit status (0 when nothing was to install)."""
    plan.remove_obstacles()
    returncode = 0
    if plan.installs:
        returncode = adapter.install(environment, [*plan.install_args(), *pip_options], hold)
    if returncode == 0:
        plan.remove_leftovers()
    return returncode
