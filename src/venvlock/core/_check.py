"""The in-process "already in sync" check: no pip, no subprocess (but once per foreign interpreter).

Reads the installed distributions from the environment's folders and walks
the requested requirements recursively, as pip's resolver would see them
when everything is already installed: specifiers (pre-releases allowed, as
pip does for installed versions), extras, markers evaluated for the target
interpreter, constraints.  Damage counts as not in sync.  Anything that
cannot be judged exactly gives ``Verdict.cannot_judge(reason)``, and the installer decides.

The marker values are venvlock's own when the environment was made from the
interpreter running venvlock; an environment of another interpreter (a nox
``python=[...]`` matrix) is asked once and the answer cached beside its records.
"""

from __future__ import annotations

import os
import sys

from venvlock.core._environment import VENV, Environment, read_pyvenv_cfg, short_digest
from venvlock.core._files import write_file
from venvlock.core._installed import Installed, Inventory, canonical_name
from venvlock.core._request import ParsedRequest, parse_request
from venvlock.core._results import Verdict
from venvlock.core._uv_settings import uv_cannot_judge

TYPE_CHECKING = False
if TYPE_CHECKING:
    from venvlock.core._request import SyncRequest


# prints the PEP 508 marker values of the interpreter that runs it (packaging's default_environment)
_MARKERS_SCRIPT = """
import json, os, platform, sys
info = sys.implementation.version
version = "%d.%d.%d" % (info.major, info.minor, info.micro)
if info.releaselevel != "final":
    version += info.releaselevel[0] + str(info.serial)
print(json.dumps({
    "implementation_name": sys.implementation.name, "implementation_version": version,
    "os_name": os.name, "platform_machine": platform.machine(), "platform_release": platform.release(),
    "platform_system": platform.system(), "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]), "sys_platform": sys.platform,
}))
"""


def marker_environment(environment: Environment) -> dict[str, str] | None:
    """The PEP 508 marker values of *environment*'s interpreter, or None when they cannot be had.

    Exact without a process when the environment's interpreter is the one
    running venvlock or a venv made from it (same base executable and
    version).  Otherwise the interpreter is asked once and the answer cached
    in the environment's record folder, keyed by the interpreter's path, size
    and modification time.
    """
    from packaging.markers import default_environment

    base_executable = getattr(sys, "_base_executable", sys.executable)
    ours = {os.path.realpath(sys.executable), os.path.realpath(base_executable)}
    if os.path.realpath(environment.python) in ours:
        return {k: str(v) for k, v in default_environment().items()}
    if environment.kind == VENV:
        config = read_pyvenv_cfg(environment.path) or {}
        version = config.get("version_info") or config.get("version") or ""
        home = config.get("home", "")
        ours_home = {os.path.realpath(os.path.dirname(p)) for p in ours}
        running = ".".join(str(part) for part in sys.version_info[:3])
        if home and os.path.realpath(home) in ours_home and version.startswith(running):
            return {k: str(v) for k, v in default_environment().items()}
    return _asked_markers(environment)


def _asked_markers(environment: Environment) -> dict[str, str] | None:
    import json

    try:
        real = os.path.realpath(environment.python)
        stat = os.stat(real)
    except OSError:
        return None
    key = short_digest(f"{real} {stat.st_size} {stat.st_mtime_ns}")
    cache = os.path.join(environment.record_dir(), f"markers-{key}.json")
    try:
        with open(cache, encoding="utf-8") as file:
            cached: dict[str, str] = json.load(file)
        return cached
    except (OSError, ValueError):
        pass
    import subprocess

    try:
        output = subprocess.run(
            [environment.python, "-I", "-c", _MARKERS_SCRIPT], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        markers: dict[str, str] = json.loads(output)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    try:
        write_file(cache, json.dumps(markers), make_folder=True)
    except OSError:
        pass
    return markers


def check(environment: Environment, request: SyncRequest, parsed: ParsedRequest | None = None) -> Verdict:
    """Judge *request* against *environment* (see module docstring)."""
    if request.command != "install" or not request.judge:
        return Verdict.cannot_judge(f"pip {request.command} is for pip to judge")
    site_dirs = environment.site_dirs()
    if site_dirs is None:
        return Verdict.cannot_judge("what pip sees as installed there is not only the environment's own folders")
    parsed = parsed or parse_request(request.args, request.cwd, environment)
    reason = parsed.cannot_judge or uv_cannot_judge(request)
    if reason:
        return Verdict.cannot_judge(reason)
    markers = marker_environment(environment)
    if markers is None:
        return Verdict.cannot_judge("the environment's interpreter could not be asked for its markers")
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    inventory = Inventory(site_dirs)
    if inventory.unclear:
        return Verdict.cannot_judge(inventory.unclear)
    damaged = list(inventory.leftovers)

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

    pending: list[tuple[Requirement, str]] = []
    for text, origin in parsed.requirements:
        requirement = parse(text)
        if requirement is None:
            return Verdict.cannot_judge(f"{text!r} ({origin}) is for pip to judge")
        pending.append((requirement, ""))

    done: set[tuple[str, frozenset[str]]] = set()
    metadata_cache: dict[str, tuple[str, list[Requirement]]] = {}
    reason = ""
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({**markers, "extra": extra}):
            continue
        name = canonical_name(requirement.name)
        if name in inventory.elsewhere:
            return Verdict.cannot_judge(f"{requirement.name} is also in a folder a .pth file adds")
        folders = inventory.by_name.get(name)
        if not folders:
            reason = reason or f"{requirement.name} is not installed"
            continue
        if not all(f.is_dist_info for f in folders) and (len(folders) > 1 or not folders[0].complete()):
            return Verdict.cannot_judge(f"{requirement.name}: egg-info metadata venvlock does not repair")
        if len(folders) > 1 or not folders[0].complete():
            damaged.extend(f.folder for f in folders if len(folders) > 1 or not f.complete())
            reason = reason or f"{requirement.name} is damaged"
            continue
        installed: Installed = folders[0]
        if installed.folder not in metadata_cache:
            try:
                _name, version_text, requires = installed.metadata()
            except OSError:
                damaged.append(installed.folder)
                continue
            parsed_requires = [parse(r) for r in requires]
            dependencies = [d for d in parsed_requires if d is not None]
            if len(dependencies) != len(parsed_requires):
                return Verdict.cannot_judge(f"{requirement.name} depends on a URL")
            metadata_cache[installed.folder] = (version_text, dependencies)
        version_text, dependencies = metadata_cache[installed.folder]
        try:
            version = Version(version_text)
        except InvalidVersion:
            return Verdict.cannot_judge(f"{requirement.name} has version {version_text!r}")
        for spec in [requirement, *constraints.get(name, ())]:
            if not spec.specifier.contains(version, prereleases=True):
                reason = reason or f"{requirement.name} {version} does not match {spec}"
        extras = frozenset(canonical_name(e) for e in requirement.extras)
        key = (name, extras)
        if key in done:
            continue
        done.add(key)
        for dependency in dependencies:
            if dependency.marker is None:
                pending.append((dependency, ""))
                continue
            for wanted in ("", *sorted(extras)):
                if dependency.marker.evaluate({**markers, "extra": wanted}):
                    pending.append((dependency, wanted))
                    break
    checked = len({name for name, _ in done})
    if damaged:
        return Verdict.install_needed(reason or "leftovers of an interrupted install", checked=checked, damaged=damaged)
    if reason:
        return Verdict.install_needed(reason, checked=checked)
    return Verdict.nothing_to_do(checked=checked)
