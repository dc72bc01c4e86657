"""The in-process "already in sync" check: no pip, no subprocess (but once per foreign interpreter).

Damage counts as not in sync; whatever cannot be judged exactly gives ``Verdict.cannot_judge(reason)``, and
the installer decides.  :func:`walk` is the one requirement walk (``venvlock verify``'s ``pip check`` too).
"""

from __future__ import annotations

import enum
import os
import sys
from typing import NamedTuple

from venvlock._pip.options import TABLE_PIP
from venvlock.core._environment import Environment, EnvironmentKind, read_pyvenv_cfg, short_digest
from venvlock.core._files import read_file, write_file
from venvlock.core._installed import Distribution, Scan, canonical_name, scan
from venvlock.core._results import Verdict
from venvlock.core._scheme import ask_interpreter
from venvlock.errors import SettingError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from packaging.requirements import Requirement
    from packaging.version import Version

    from venvlock.core._request import SyncRequest


def marker_environment(environment: Environment) -> dict[str, str] | None:
    """The PEP 508 marker values of *environment*'s interpreter, or None when they cannot be had.

    Without a process for the interpreter running venvlock or a venv made from it (:func:`_made_from_ours`);
    else asked once, cached in the record folder by the interpreter's path, size and mtime.
    """
    from packaging.markers import default_environment

    same = _made_from_ours(environment)
    return {k: str(v) for k, v in default_environment().items()} if same else _asked_markers(environment)


def _made_from_ours(environment: Environment) -> bool:
    """Whether *environment*'s interpreter is the one running venvlock: the same file, or a venv's copy of it.

    A link is the interpreter it leads to.  A copy is known by its ``pyvenv.cfg``: the interpreter it was made
    from (``executable``, else ``home``) is ours, for our implementation and exact version (``version_info``,
    else ``version`` of a final release).  A folder holding several interpreters of one version (CPython and
    PyPy in ``/usr/bin``) is not enough.
    """
    base_executable = getattr(sys, "_base_executable", sys.executable)
    ours = {os.path.realpath(sys.executable), os.path.realpath(base_executable)}
    real = os.path.realpath(environment.python)
    if real in ours:
        return True
    if environment.kind != EnvironmentKind.VENV or real != os.path.abspath(environment.python):
        return False  # a link to another interpreter is that interpreter
    config = read_pyvenv_cfg(environment.path) or {}
    implementation = config.get("implementation", "").strip().lower()
    if implementation and implementation != sys.implementation.name:
        return False
    if "version_info" in config:
        same_version = config["version_info"].strip() == ".".join(str(part) for part in sys.version_info)
    else:
        running = ".".join(str(part) for part in sys.version_info[:3])
        same_version = config.get("version", "").strip() == running and sys.version_info.releaselevel == "final"
    executable = config.get("executable") or config.get("base-executable")
    if executable:
        return same_version and os.path.realpath(executable.strip()) in ours
    home = config.get("home", "").strip()
    ours_home = {os.path.realpath(os.path.dirname(p)) for p in ours}
    return same_version and bool(home) and os.path.realpath(home) in ours_home


def _asked_markers(environment: Environment) -> dict[str, str] | None:
    import json

    try:
        real = os.path.realpath(environment.python)
        stat = os.stat(real)
    except OSError:
        return None
    key = short_digest(f"{real} {stat.st_size} {stat.st_mtime_ns}")
    cache = os.path.join(environment.record_dir(), f"markers-{key}.json")
    text = read_file(cache)  # venvlock's own folder: never read through a link
    if text is not None:
        try:
            cached: dict[str, str] = json.loads(text)
            return cached
        except ValueError:
            pass
    try:
        markers: dict[str, str] = ask_interpreter(environment.python)["markers"]
    except (SettingError, KeyError):
        return None
    try:
        write_file(cache, json.dumps(markers), make_folder=True)
    except OSError:
        pass
    return markers


class Finding(enum.Enum):
    SATISFIED = "satisfied"
    MISSING = "missing"
    MISMATCH = "mismatch"
    DAMAGED = "damaged"
    UNJUDGED = "unjudged"


class Step(NamedTuple):
    """One requirement met by :func:`walk`: *parent* asked for it (None: a root), *found* answers it, *detail*
    says what is wrong (the failing specifier, or why it cannot be judged)."""

    requirement: Requirement | str
    parent: Distribution | None
    finding: Finding
    found: Sequence[Distribution] = ()
    detail: str = ""

    @property
    def name(self) -> str:
        return self.requirement if isinstance(self.requirement, str) else self.requirement.name


def walk(
    roots: list[Requirement],
    found: Scan,
    markers: dict[str, str],
    constraints: dict[str, list[Requirement]] | None = None,
) -> Iterator[Step]:
    """The one requirement walk: *roots*, then the Requires-Dist of what answers them, recursively.

    As pip's resolver sees an environment where everything is installed: markers evaluated for *markers* (with
    the extras asked for), pre-releases allowed (as pip does for installed versions), *constraints* applied.
    A project reached with new extras is expanded again.
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    constraints = constraints or {}
    pending: list[tuple[Requirement, str, Distribution | None]] = [(root, "", None) for root in reversed(roots)]
    done: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, extra, parent = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({**markers, "extra": extra}):
            continue
        name = canonical_name(requirement.name)
        if name in found.elsewhere:
            detail = f"{requirement.name} is also in a folder a .pth file adds"
            yield Step(requirement, parent, Finding.UNJUDGED, detail=detail)
            continue
        folders = found.by_key.get(name)
        if not folders:
            yield Step(requirement, parent, Finding.MISSING)
            continue
        if len(folders) > 1 or not folders[0].complete():
            if not all(f.is_dist_info for f in folders):
                detail = f"{requirement.name}: egg-info metadata venvlock does not repair"
                yield Step(requirement, parent, Finding.UNJUDGED, folders, detail)
            else:
                yield Step(requirement, parent, Finding.DAMAGED, folders)
            continue
        installed = folders[0]
        try:
            _name, version_text, requires = installed.headers()
        except OSError:
            yield Step(requirement, parent, Finding.DAMAGED, folders)
            continue
        try:
            version = Version(version_text)
        except InvalidVersion:
            detail = f"{requirement.name} has version {version_text!r}"
            yield Step(requirement, parent, Finding.UNJUDGED, folders, detail)
            continue
        otherwise = _read_otherwise_by_pip(installed, version)
        if otherwise:
            yield Step(requirement, parent, Finding.UNJUDGED, folders, f"{requirement.name}: {otherwise}")
            continue
        asked = [requirement, *constraints.get(name, ())]
        failing = [str(s) for s in asked if not s.specifier.contains(version, prereleases=True)]
        finding = Finding.MISMATCH if failing else Finding.SATISFIED
        yield Step(requirement, parent, finding, folders, "".join(failing[:1]))
        extras = frozenset(canonical_name(e) for e in requirement.extras)
        if (name, extras) in done:
            continue
        done.add((name, extras))
        for text in requires:
            try:
                dependency = Requirement(text)
            except InvalidRequirement as error:
                yield Step(text, installed, Finding.UNJUDGED, detail=f"requirement {text!r} cannot be read ({error})")
                continue
            if dependency.url:
                yield Step(dependency, installed, Finding.UNJUDGED, detail=f"{requirement.name} depends on a URL")
                continue
            if dependency.marker is None:
                pending.append((dependency, "", installed))
                continue
            for wanted in ("", *sorted(extras)):
                if dependency.marker.evaluate({**markers, "extra": wanted}):
                    pending.append((dependency, wanted, installed))
                    break


def _read_otherwise_by_pip(installed: Distribution, version: Version) -> str:
    """Why a pip may read *installed*'s name or version otherwise than its metadata says ("" when none may).

    pip (26.3) takes a dist-info's name and version from its folder's name (split at the first ``-``), an
    egg-info's name too, and its metadata's otherwise; older pips read the metadata only.  Where the two
    disagree, or the metadata names no project, which pip is the environment's decides.
    """
    from packaging.version import InvalidVersion, Version

    declared_name, declared_version = installed.declared()
    entry = os.path.basename(installed.folder)
    stem, _, suffix = entry.rpartition(".")
    if suffix == "dist-info":
        name, dash, folder_version = stem.partition("-")
    else:
        name, dash, folder_version = stem.split("-", 1)[0], "", ""
    if not declared_name or canonical_name(declared_name) != canonical_name(name):
        return f"{entry} and its metadata's Name {declared_name!r} differ"
    if not declared_version:
        return f"{entry}: its metadata declares no Version"
    if dash:
        try:
            differs = Version(folder_version) != version
        except InvalidVersion:
            differs = True
        if differs:
            return f"{entry} and its metadata's Version {declared_version!r} differ"
    return ""


def _runs_table_pip(found: Scan) -> bool:
    """Whether the environment's own pip is the one venvlock's table of pip options is, or newer (:data:`TABLE_PIP`)."""
    from packaging.version import InvalidVersion, Version

    folders = found.by_key.get("pip", [])
    if len(folders) != 1:
        return False
    try:
        return Version(folders[0].version) >= Version(TABLE_PIP)
    except InvalidVersion:
        return False


def check(environment: Environment, request: SyncRequest) -> Verdict:
    """Judge *request* against *environment* on its one reading (:meth:`SyncRequest.read`)."""
    if request.command != "install" or not request.judge:
        return Verdict.cannot_judge(f"pip {request.command} is for pip to judge")
    site_dirs = environment.site_folders_to_judge()
    if site_dirs is None:
        return Verdict.cannot_judge("what pip sees as installed there is not only the environment's own folders")
    parsed = request.read(environment)
    reason = parsed.cannot_judge or request.uv_cannot_judge()
    if reason:
        return Verdict.cannot_judge(reason)
    markers = marker_environment(environment)
    if markers is None:
        return Verdict.cannot_judge("the environment's interpreter could not be asked for its markers")
    from packaging.requirements import InvalidRequirement, Requirement

    found = scan(site_dirs)
    if found.unclear:
        return Verdict.cannot_judge(found.unclear)
    if parsed.version_bound and (request.pip is not None or not _runs_table_pip(found)):
        return Verdict.cannot_judge(
            f"{parsed.version_bound[0]}: read as pip {TABLE_PIP} reads it, an older pip may not"
        )

    def parse(text: str) -> Requirement | None:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            return None
        return None if requirement.url else requirement

    constraints: dict[str, list[Requirement]] = {}
    for text, _origin in parsed.constraints:
        constraint = parse(text)
        if constraint is None:
            return Verdict.cannot_judge(f"constraint {text!r} is for pip to judge")
        if constraint.marker is None or constraint.marker.evaluate(markers):
            constraints.setdefault(canonical_name(constraint.name), []).append(constraint)
    roots: list[Requirement] = []
    for text, origin in parsed.requirements:
        requirement = parse(text)
        if requirement is None:
            return Verdict.cannot_judge(f"{text!r} ({origin}) is for pip to judge")
        roots.append(requirement)

    damaged = list(found.leftovers)
    reason = ""
    checked: set[str] = set()
    for step in walk(roots, found, markers, constraints):
        if step.finding is Finding.UNJUDGED:
            return Verdict.cannot_judge(step.detail)
        if step.finding is Finding.MISSING:
            reason = reason or f"{step.name} is not installed"
        elif step.finding is Finding.DAMAGED:
            damaged.extend(f.folder for f in step.found)
            reason = reason or f"{step.name} is damaged"
        else:
            checked.add(canonical_name(step.name))
            if step.finding is Finding.MISMATCH:
                reason = reason or f"{step.name} {step.found[0].version} does not match {step.detail}"
    if damaged or reason:
        reason = reason or "leftovers of an interrupted install"
        return Verdict.install_needed(reason, checked=len(checked), damaged=list(dict.fromkeys(damaged)))
    return Verdict.already_satisfied(checked=len(checked))
