"""What ``venvlock repair`` does to a damaged environment, planned from a verify :class:`Report`.

The plan, carried out under the creation lock and the environment lock:

1. remove what stands in the installer's way (:meth:`RepairPlan.remove_obstacles`):
   an unfinished metadata folder (no RECORD or METADATA), and of two metadata
   folders of one project the one not kept (with the files only it lists);
2. reinstall each damaged distribution at its installed version
   (:meth:`RepairPlan.install_args`: ``--no-deps --force-reinstall name==version``,
   with the installer venvlock uses); a project pip was replacing when it was
   killed (only its ``~`` stash is left) gets back the version it had;
3. once the install succeeded, remove pip's ``~`` leftovers
   (:meth:`RepairPlan.remove_leftovers`).

Only the environment's own package folders and the files their RECORDs list
inside the environment are ever touched.  Unmet requirements and files no
distribution owns are left alone (:attr:`RepairPlan.left_alone`).
"""

from __future__ import annotations

import csv
import os

from venvlock.core._files import remove_file, remove_tree
from venvlock.core._installed import canonical_name
from venvlock.core._integrity import (
    BAD_RECORD,
    DUPLICATE,
    HASH,
    LEFTOVER,
    MISSING,
    NO_METADATA,
    NO_RECORD,
    SIZE,
    Distribution,
    Problem,
    Report,
    site_packages,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from venvlock.core._environment import Environment

_FILE_DAMAGE = {HASH, SIZE, MISSING, BAD_RECORD}
_UNFINISHED = {NO_RECORD, NO_METADATA}


class RepairPlan:
    """What repair does: removals before the install, the installs, leftovers after, what it leaves alone."""

    __slots__ = ("installs", "left_alone", "leftovers", "removals")

    def __init__(self) -> None:
        self.removals: list[tuple[str, list[str], str]] = []  # (metadata folder, its files to remove, why)
        self.installs: dict[str, tuple[str, str, str]] = {}  # canonical name -> (name, version, why)
        self.leftovers: list[str] = []
        self.left_alone: list[Problem] = []

    def empty(self) -> bool:
        return not (self.removals or self.installs or self.leftovers)

    def install_args(self) -> list[str]:
        """pip install arguments that put back each damaged distribution at its version, and nothing else."""
        specs = [f"{name}=={version}" for name, version, _ in self.installs.values()]
        return ["--no-deps", "--force-reinstall", *specs]

    def remove_obstacles(self) -> None:
        """Before the install: remove the unfinished metadata folders and the second ones (with their own files).

        Call it under the environment lock.  Never follows a symbolic link.
        """
        for folder, files, _why in self.removals:
            for path in files:
                remove_file(path)
            remove_tree(folder)

    def remove_leftovers(self) -> None:
        """After a successful install: remove pip's ``~`` leftovers.  Call it under the environment lock."""
        for path in self.leftovers:
            remove_tree(path)

    def lines(self, *, dry_run: bool) -> list[str]:
        remove, install = ("Would remove", "Would reinstall") if dry_run else ("Removing", "Reinstalling")
        out = []
        for folder, files, why in self.removals:
            also = f" and {len(files)} files only it lists" if files else ""
            out.append(f"{remove} {os.path.basename(folder)}{also} ({why})")
        for name, version, why in self.installs.values():
            out.append(f"{install} {name}=={version} ({why})")
        for path in self.leftovers:
            out.append(f"{remove} {os.path.basename(path)} (pip's leftover)" + (" after the reinstall" * dry_run))
        for problem in self.left_alone:
            out.append(f"Not repaired: {problem.message}")
        return out


def plan_repair(report: Report, environment: Environment) -> RepairPlan:
    """The repair of the problems in *report*, found in *environment* (see the module docstring)."""
    plan = RepairPlan()
    root = os.path.normpath(environment.path)
    installed: dict[str, list[Distribution]] = {}
    for site in site_packages(environment):
        try:
            entries = sorted(os.listdir(site))
        except OSError:
            continue
        for entry in entries:
            if entry.endswith((".dist-info", ".egg-info")) and not entry.startswith("~"):
                dist = Distribution(site, entry)
                installed.setdefault(dist.key, []).append(dist)

    by_folder: dict[str, list[Problem]] = {}
    for problem in report.problems:
        if problem.folder:
            by_folder.setdefault(problem.folder, []).append(problem)

    handled: set[str] = set()
    for key, dists in installed.items():
        if len(dists) < 2:
            continue
        keep = _kept(dists, by_folder)
        kept_files = _record_paths(keep)
        for dist in dists:
            handled.add(dist.folder)
            if dist is not keep:
                own = _record_paths(dist) - kept_files
                files = [f for f in own if _inside(f, root) and not _inside(f, dist.folder) and os.path.lexists(f)]
                plan.removals.append((dist.folder, sorted(files), f"a second metadata folder of {dist.name}"))
        why = f"{len(dists)} metadata folders; {keep.version} is kept"
        plan.installs[key] = (keep.name, keep.version, why)

    for problem in report.problems:
        if problem.kind == LEFTOVER:
            plan.leftovers.append(problem.folder)
            stashed = _stashed_distribution(problem.folder)
            if stashed is not None and canonical_name(stashed[0]) not in installed:
                plan.installs.setdefault(
                    canonical_name(stashed[0]),
                    (stashed[0], stashed[1], "pip was replacing it when it was interrupted: its version is restored"),
                )
            continue
        if problem.kind == DUPLICATE or (problem.folder in handled and problem.kind in _FILE_DAMAGE | _UNFINISHED):
            continue
        if problem.kind in _UNFINISHED:
            if problem.folder not in handled:
                handled.add(problem.folder)
                plan.removals.append((problem.folder, [], "an install that did not finish"))
            plan.installs.setdefault(
                canonical_name(problem.distribution), (problem.distribution, problem.version, "unfinished install")
            )
        elif problem.kind in _FILE_DAMAGE:
            why = "files changed or missing"
            plan.installs.setdefault(canonical_name(problem.distribution), (problem.distribution, problem.version, why))
        else:
            plan.left_alone.append(problem)
    plan.installs = {key: value for key, value in plan.installs.items() if value[1]}
    return plan


def _kept(dists: list[Distribution], by_folder: dict[str, list[Problem]]) -> Distribution:
    """Of several metadata folders of one project, the one to keep: complete, files intact, highest version."""
    from packaging.version import InvalidVersion, Version

    def rank(dist: Distribution) -> tuple[int, int, Version]:
        problems = by_folder.get(dist.folder, [])
        complete = not any(p.kind in _UNFINISHED for p in problems)
        intact = not any(p.kind in _FILE_DAMAGE for p in problems)
        try:
            version = Version(dist.version)
        except InvalidVersion:
            version = Version("0")
        return (int(complete), int(intact), version)

    return max(dists, key=rank)


def _record_paths(dist: Distribution) -> set[str]:
    """The files *dist*'s RECORD lists (absolute, normalised)."""
    try:
        with open(os.path.join(dist.folder, "RECORD"), encoding="utf-8", newline="") as file:
            return {os.path.normpath(os.path.join(dist.site, row[0])) for row in csv.reader(file) if row}
    except (OSError, UnicodeDecodeError, csv.Error):
        return set()


def _inside(path: str, root: str) -> bool:
    return path.startswith(root + os.sep) and not os.path.islink(os.path.dirname(path))


def _stashed_distribution(path: str) -> tuple[str, str] | None:
    """``(name, version)`` of a dist-info pip stashed as a ``~`` folder, from its METADATA; else None."""
    name = version = ""
    try:
        with open(os.path.join(path, "METADATA"), encoding="utf-8", errors="replace") as file:
            for line in file:
                if line in ("\n", "\r\n"):
                    break
                key, _, value = line.partition(":")
                if key == "Name":
                    name = value.strip()
                elif key == "Version":
                    version = value.strip()
    except OSError:
        return None
    return (name, version) if name and version else None
