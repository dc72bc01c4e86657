"""What ``venvlock repair`` does to a damaged environment, planned from a verify :class:`Report`.

The plan, carried out under the creation lock and the environment lock:

1. remove what stands in the installer's way (:meth:`RepairPlan.remove_obstacles`):
   an unfinished metadata folder, and of two metadata folders of one project
   the one not kept (with the files only it lists);
2. reinstall each damaged distribution at its installed version
   (:meth:`RepairPlan.install_args`: ``--no-deps --force-reinstall name==version``,
   with the installer venvlock uses); a project pip was replacing when it was
   killed (only its ``~`` stash is left) gets back the version it had;
3. once the install succeeded, remove pip's ``~`` leftovers
   (:meth:`RepairPlan.remove_leftovers`).

Every removal goes through :func:`venvlock.core._installed.remove_distribution`
and its one containment rule: nothing outside the environment's own scheme
(its real package, scripts and data folders) is deleted, nothing through a
link.  Unmet requirements and files no distribution owns are left alone
(:attr:`RepairPlan.left_alone`), and so is every problem in a site folder
outside the scheme's package folders (an interpreter's other site folders,
which verify reads: Debian's ``/usr/lib/python3/dist-packages``, apt's).
"""

from __future__ import annotations

import os

from venvlock.audit._problems import FILE_DAMAGE, UNFINISHED, Kind, Problem, Report
from venvlock.core._installed import (
    Distribution,
    canonical_name,
    removable_files,
    remove_distribution,
    remove_leftover,
    scan,
    stashed_distribution,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from venvlock.core._environment import Environment


class RepairPlan:
    """What repair does: removals before the install, the installs, leftovers after, what it leaves alone.

    :ivar removals: ``(distribution, its files to remove, why)``.
    :ivar installs: canonical name -> ``(name, version, why)``.
    :ivar roots: the real folders of the environment's scheme: nothing outside them is removed.
    """

    __slots__ = ("installs", "interrupted", "keep", "left_alone", "leftovers", "removals", "roots")

    def __init__(self, roots: list[str]) -> None:
        self.roots = roots
        self.removals: list[tuple[Distribution, list[str], str]] = []
        self.keep: dict[str, set[str]] = {}  # metadata folder -> files another distribution of its project lists
        self.installs: dict[str, tuple[str, str, str]] = {}
        self.leftovers: list[str] = []
        self.left_alone: list[Problem] = []
        self.interrupted: Problem | None = None  # a sync journal left behind: repair heals it first

    def empty(self) -> bool:
        return not (self.removals or self.installs or self.leftovers or self.interrupted)

    def install_args(self) -> list[str]:
        """pip install arguments that put back each damaged distribution at its version, and nothing else."""
        specs = [f"{name}=={version}" for name, version, _ in self.installs.values()]
        return ["--no-deps", "--force-reinstall", *specs]

    def remove_obstacles(self) -> None:
        """Before the install: remove the unfinished metadata folders and the second ones (with their own files).

        Call it under the environment lock.
        """
        for dist, _files, _why in self.removals:
            remove_distribution(dist, self.roots, self.keep.get(dist.folder, ()))

    def remove_leftovers(self) -> None:
        """After a successful install: remove pip's ``~`` leftovers.  Call it under the environment lock."""
        for path in self.leftovers:
            remove_leftover(path, self.roots)

    def lines(self, *, dry_run: bool) -> list[str]:
        remove, install = ("Would remove", "Would reinstall") if dry_run else ("Removing", "Reinstalling")
        out = []
        if self.interrupted is not None:
            heal = "Would repair" if dry_run else "Repaired"
            out.append(f"{heal} what an interrupted sync left half-done ({self.interrupted.message.partition(':')[0]})")
        for dist, files, why in self.removals:
            also = f" and {len(files)} files only it lists" if files else ""
            out.append(f"{remove} {os.path.basename(dist.folder)}{also} ({why})")
        for name, version, why in self.installs.values():
            out.append(f"{install} {name}=={version} ({why})")
        for path in self.leftovers:
            out.append(f"{remove} {os.path.basename(path)} (pip's leftover)" + (" after the reinstall" * dry_run))
        for problem in self.left_alone:
            out.append(f"Not repaired: {problem.message}")
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "remove": [{"metadata_folder": d.folder, "files": files, "why": why} for d, files, why in self.removals],
            "reinstall": [{"name": n, "version": v, "why": why} for n, v, why in self.installs.values()],
            "leftovers": list(self.leftovers),
            "not_repaired": [problem.as_dict() for problem in self.left_alone],
            "interrupted_sync": self.interrupted.as_dict() if self.interrupted is not None else None,
        }


def plan_repair(report: Report, environment: Environment) -> RepairPlan:
    """The repair of the problems in *report*, found in *environment* (see the module docstring)."""
    plan = RepairPlan(environment.scheme().roots())
    own = {os.path.realpath(folder) for folder in environment.scheme().packages}
    found = scan(environment.site_folders())
    by_folder: dict[str, list[Problem]] = {}
    for problem in report.problems:
        if problem.folder:
            by_folder.setdefault(problem.folder, []).append(problem)

    handled: set[str] = set()
    for key, dists in found.by_key.items():
        if len(dists) < 2 or not all(_in_scheme(dist.folder, own) for dist in dists):
            continue
        keep = _kept(dists, by_folder)
        kept_files = set(keep.record_files())
        for dist in dists:
            handled.add(dist.folder)
            if dist is not keep:
                plan.keep[dist.folder] = kept_files
                files = removable_files(dist, plan.roots, kept_files)
                plan.removals.append((dist, files, f"a second metadata folder of {dist.name}"))
        why = f"{len(dists)} metadata folders; {keep.version} is kept"
        plan.installs[key] = (keep.name, keep.version, why)

    by_path = {d.folder: d for d in found.distributions}
    for problem in report.problems:
        if problem.kind is Kind.INTERRUPTED:
            plan.interrupted = problem
            continue
        if problem.folder and not _in_scheme(problem.folder, own):
            plan.left_alone.append(_outside(problem))
            continue
        if problem.kind is Kind.LEFTOVER:
            plan.leftovers.append(problem.folder)
            stashed = stashed_distribution(problem.folder)
            if stashed is not None and canonical_name(stashed[0]) not in found.by_key:
                why = "pip was replacing it when it was interrupted: its version is restored"
                plan.installs.setdefault(canonical_name(stashed[0]), (stashed[0], stashed[1], why))
            continue
        if problem.kind is Kind.DUPLICATE or (problem.folder in handled and problem.kind in FILE_DAMAGE | UNFINISHED):
            continue
        if problem.kind in UNFINISHED:
            if problem.folder not in handled and problem.folder in by_path:
                handled.add(problem.folder)
                plan.removals.append((by_path[problem.folder], [], "an install that did not finish"))
            why = "unfinished install"
            plan.installs.setdefault(canonical_name(problem.distribution), (problem.distribution, problem.version, why))
        elif problem.kind in FILE_DAMAGE:
            why = "files changed or missing"
            plan.installs.setdefault(canonical_name(problem.distribution), (problem.distribution, problem.version, why))
        else:
            plan.left_alone.append(problem)
    plan.installs = {key: value for key, value in plan.installs.items() if value[1]}
    return plan


def _in_scheme(folder: str, own: set[str]) -> bool:
    """Whether the metadata folder (or ``~`` leftover) *folder* lies directly in one of the package folders *own*
    of the environment's install scheme (not in another site folder its interpreter reads: Debian's
    ``/usr/lib/python3/dist-packages``, which apt manages)."""
    return os.path.realpath(os.path.dirname(folder)) in own


def _outside(problem: Problem) -> Problem:
    """*problem*, saying that it lies outside the environment's install scheme (repair leaves it alone)."""
    where = os.path.dirname(problem.folder)
    message = f"{problem.message} (in {where}, outside the environment's install scheme)"
    return Problem(
        problem.kind,
        message,
        distribution=problem.distribution,
        version=problem.version,
        path=problem.path,
        folder=problem.folder,
    )


def _kept(dists: list[Distribution], by_folder: dict[str, list[Problem]]) -> Distribution:
    """Of several metadata folders of one project, the one to keep: complete, files intact, highest version."""
    from packaging.version import InvalidVersion, Version

    def rank(dist: Distribution) -> tuple[int, int, Version]:
        problems = by_folder.get(dist.folder, [])
        complete = not any(p.kind in UNFINISHED for p in problems)
        intact = not any(p.kind in FILE_DAMAGE for p in problems)
        try:
            version = Version(dist.version)
        except InvalidVersion:
            version = Version("0")
        return (int(complete), int(intact), version)

    return max(dists, key=rank)
