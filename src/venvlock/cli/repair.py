"""``venvlock repair [PATH] [--dry-run] [--json] [-- PIP-OPTIONS]``: put a damaged environment back whole.

Under the creation lock, then the environment lock:

1. verify the environment (:meth:`Adapter.verify <venvlock.adapter.Adapter.verify>`);
2. plan the repair (:meth:`Adapter.plan_repair <venvlock.adapter.Adapter.plan_repair>`: what to remove before,
   what to reinstall at its installed version, pip's leftovers to remove after);
3. carry it out, the reinstall with the installer venvlock uses (through the
   ``venvlock_install`` hook: pip, or uv with ``VENVLOCK_INSTALLER=uv``; in a
   venv without pip, ``pip --python``);
4. verify again.

Nothing outside the environment's own scheme (its real package, scripts and
data folders) is ever deleted.  Unmet requirements and files no distribution
owns are reported, not changed.  Exit 0 when the environment is intact
afterwards, 1 when damage remains, the installer's status when it failed, 3
when nothing could be verified (see ``venvlock verify``); ``--dry-run``: 0 or
1 as the repair would, if its installer succeeds.  ``--json`` prints
one object: the plan, the installer's status and what verify found after.
"""

from __future__ import annotations

import json
import sys

from venvlock.adapter import Adapter, fault_point
from venvlock.cli._environments import environment_at
from venvlock.cli.verify import exit_status, report_data

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from venvlock.audit import RepairPlan
    from venvlock.core import Environment, LockHold


def main(options: argparse.Namespace, pip_options: list[str]) -> int:
    environment = environment_at(options.path)
    _stays_in(environment, pip_options)
    adapter = Adapter("venvlock")
    as_json = getattr(options, "json", False)
    out: dict[str, object] = {"environment": environment.path, "dry_run": options.dry_run}
    with adapter.creation_lock(environment), adapter.environment_lock(environment) as hold:
        fault_point("locked")  # test-only
        # what an interrupted sync left can look whole: heal it first (not on a dry run, which changes nothing),
        # and keep a journal of this repair until it has ended with success
        journal = not options.dry_run and adapter.begin_journal(
            environment, "venvlock repair", hold, pip_options=pip_options
        )
        report = adapter.verify(environment, update_cache=not options.dry_run)  # a dry run writes nothing
        plan = adapter.plan_repair(report, environment)
        out.update(before=report_data(environment, report), plan=plan.as_dict(), installer_exit=None, after=None)
        if not as_json:
            for line in plan.lines(dry_run=options.dry_run):
                print(line)
        if options.dry_run or plan.empty():
            if not as_json:
                if report.covered_nothing:
                    print(f"Nothing verified in {environment.name}: no distribution in its package folders")
                elif plan.empty():
                    print("Nothing to repair" if not report.damaged else "Nothing venvlock can repair")
            status = exit_status(report) if not options.dry_run or report.covered_nothing else _foreseen(plan)
            if journal:
                adapter.end_journal(environment)
            return _done(out, status, as_json)
        returncode = execute(plan, adapter, environment, hold, [*pip_options, *(["--quiet"] if as_json else [])])
        out["installer_exit"] = returncode
        if returncode != 0:  # the installer may have left half-done work: the journal stays for the next holder
            _installer_failed(plan, returncode)
            return _done(out, returncode, as_json)
        if journal:
            adapter.end_journal(environment)
        after = adapter.verify(environment)
        out["after"] = report_data(environment, after)
    damage = [p for p in after.problems if p.severity.value == "damage"]
    if not as_json:
        for problem in damage:
            print(f"Still damaged: {problem.message}")
        if not damage:
            print(f"Repaired: {after.distributions} distributions verified, no damage found")
    return _done(out, exit_status(after), as_json)


def _stays_in(environment: Environment, pip_options: list[str]) -> None:
    """Raise :class:`SettingError` when pip options or settings would send the reinstall out of *environment*.

    Before anything is locked or looked at: the removals of a repair are only made good by a reinstall into the
    environment itself (``--target``, ``--prefix``, ``--root``, ``--user``, as options after ``--``, ``PIP_*``
    variables or in pip's configuration files).
    """
    from venvlock.adapter import display_path
    from venvlock.adapter.pip import installs_elsewhere_because
    from venvlock.errors import SettingError

    where = installs_elsewhere_because(environment, pip_options)
    if where:
        raise SettingError(
            f"repair: {'; '.join(where)}: the installer would install elsewhere, and repair installs into "
            f"{display_path(environment.path)} only (leave that out for this command)"
        )


def _foreseen(plan: RepairPlan) -> int:
    """A dry run's status: what the repair would exit with, could its installer put back what it plans (1 when
    damage would remain: what it leaves alone; 0 when nothing would), so that a script can ask before it repairs."""
    return 1 if any(problem.severity.value == "damage" for problem in plan.left_alone) else 0


def _done(out: dict[str, object], status: int, as_json: bool) -> int:
    if as_json:
        out["exit"] = status
        print(json.dumps(out, indent=2))
    return status


def _installer_failed(plan: RepairPlan, returncode: int) -> None:
    wanted = ", ".join(f"{name}=={version}" for name, version, _ in plan.installs.values())
    kept = f"; {len(plan.leftovers)} leftovers of pip kept" if plan.leftovers else ""
    print(f"venvlock: error: the installer failed (exit {returncode}) reinstalling {wanted}{kept}", file=sys.stderr)
    print(
        "venvlock: if it found no such distribution (no index, or a version gone from it), point it at the wheels: "
        "venvlock repair -- --find-links DIR",
        file=sys.stderr,
    )


def execute(
    plan: RepairPlan, adapter: Adapter, environment: Environment, hold: LockHold | None, pip_options: list[str]
) -> int:
    """Carry out *plan* under the locks; the installer's exit status (0 when nothing was to install)."""
    plan.remove_obstacles()
    fault_point("repair")  # test-only: removals done, nothing reinstalled yet
    returncode = 0
    if plan.installs:
        returncode = adapter.install(environment, [*plan.install_args(), *pip_options], hold)
    if returncode == 0:
        plan.remove_leftovers()
    return returncode
