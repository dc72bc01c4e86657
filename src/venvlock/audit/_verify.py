"""``venvlock verify``: is an installed environment whole?  What ``pip check`` does not look at, and what it does.

:func:`inspect_site` judges the distributions of an environment's own
package folders (:meth:`Environment.site_folders
<venvlock.core._environment.Environment.site_folders>`, never ``PYTHONPATH``),
read by :func:`venvlock.core._installed.scan`:

* every file a RECORD lists with a hash is present, of the recorded size, with the recorded hash;
* one metadata folder per project; a dist-info is finished (METADATA, RECORD; INSTALLER or all its files);
* no ``~`` leftovers (what pip stashes while it replaces a distribution);
* files under a top-level package folder that no distribution owns (*orphans*: a warning,
  for they may be a cache a package writes, or what a killed install left);
* every ``Requires-Dist`` of every distribution is installed at a matching version, markers
  evaluated for the environment's interpreter (what ``pip check`` reports), by the check's
  own walk (:func:`venvlock.core._check.walk`).

Files a RECORD lists outside the environment's real folder are not judged.
Hashing runs on a thread pool (:mod:`._hashing`); an optional cache of files
verified earlier (their size, modification and change times and inode) skips
files that have not changed.
"""

from __future__ import annotations

import os
import time

from venvlock.audit._hashing import cache_line, hash_all
from venvlock.audit._orphans import orphans
from venvlock.audit._problems import Kind, Problem, Report
from venvlock.core._installed import Distribution, Scan, scan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from venvlock.core._environment import Environment

#: a file changed less than this long before the verification began is not cached (coarse file-system clocks)
_RACY_NS = 2_000_000_000
#: the cache of verified files, inside the environment's record folder
CACHE_NAME = "verified"


def verify_environment(
    environment: Environment, *, jobs: int = 0, use_cache: bool = True, update_cache: bool = True
) -> Report:
    """Judge *environment* (call it under the environment lock); keeps the cache of verified files up to date.

    The cache (``<env>/.venvlock/verified``) lists files verified earlier with
    their size, modification and change times and inode; they are not hashed
    again until one of those changes.  It is written only when it changed,
    never through a symbolic link, and not at all with *update_cache* False
    (``repair --dry-run``, which changes nothing).
    """
    from venvlock.core._check import marker_environment
    from venvlock.core._files import read_file, write_file

    started = time.monotonic()
    cache_path = os.path.join(environment.record_dir(), CACHE_NAME)
    cache: set[str] | None = None
    if use_cache:
        text = read_file(cache_path)
        cache = set(text.splitlines()) if text else set()
    report = inspect_site(
        environment.site_folders(), environment.root, markers=marker_environment(environment), jobs=jobs, cache=cache
    )
    interrupted = _interrupted_sync(environment)
    if interrupted is not None:
        report.problems.insert(0, interrupted)
    if update_cache and cache is not None and report.cache_entries != cache and os.path.isdir(environment.path):
        try:
            write_file(cache_path, "\n".join(sorted(report.cache_entries)) + "\n", make_folder=True)
        except OSError:
            pass  # the cache is a speed-up only: without it every file is hashed next time
    report.seconds = time.monotonic() - started
    return report


def _interrupted_sync(environment: Environment) -> Problem | None:
    """The sync journal another process left behind, as a problem: what that sync installed may look whole and
    not be (pip killed while it compiles: every file of the wheel's RECORD there, no INSTALLER, no scripts), which
    no look at the files can tell; None when there is none (or it is a live outer holder's, or this process's)."""
    from venvlock.core._journal import journal_path, read

    entry = read(environment)
    if entry is None or entry.ours() or not entry.left_behind():
        return None
    message = (
        f"the last sync was interrupted (pid {entry.pid}, `{entry.command}`): what it installed may be half-done "
        "and look whole; venvlock repair (or the next sync) repairs it"
    )
    return Problem(Kind.INTERRUPTED, message, path=os.path.relpath(journal_path(environment), environment.path))


def inspect_site(
    site_dirs: list[str],
    root: str,
    *,
    markers: dict[str, str] | None,
    jobs: int = 0,
    cache: set[str] | None = None,
) -> Report:
    """Judge the distributions in *site_dirs* (see the module docstring).

    *root* is the environment's real folder: RECORD entries outside it are
    not judged.  *markers*: the interpreter's PEP 508 values (None: no
    dependency check).  *jobs*: hashing threads (0: from the CPU count).
    *cache*: lines of files verified earlier (see :func:`cache_line`);
    :attr:`Report.cache_entries` holds the lines to keep for the next run.
    """
    started_ns = time.time_ns()
    report = Report()
    report.site_folders = list(site_dirs)
    root = os.path.normpath(root)
    found = scan(site_dirs)
    owned: set[str] = set()
    owned_tops: dict[str, set[str]] = {}  # top-level folder (absolute) -> labels of its owners
    to_hash: list[tuple[str, str, os.stat_result]] = []
    hashed_of: list[tuple[str, Distribution, str]] = []  # (relative path, distribution, cache line) of to_hash

    for path in found.leftovers:
        entry = os.path.basename(path)
        message = f"{entry}: leftover of an interrupted pip run (pip's stash of a replaced distribution)"
        report.problems.append(Problem(Kind.LEFTOVER, message, path=entry, folder=path))
    report.distributions = len(found.distributions)
    for dists in found.by_key.values():
        if len(dists) > 1:
            names = ", ".join(os.path.basename(d.folder) for d in dists)
            for dist in dists:
                what = f"one of {len(dists)} metadata folders of one project ({names})"
                report.problems.append(_problem(Kind.DUPLICATE, dist, os.path.basename(dist.folder), what))

    for dist in found.distributions:
        if not dist.is_dist_info:
            _egg_info_owned(dist, owned, owned_tops)
            continue
        missing = dist.missing()
        for required in missing:
            kind = Kind.NO_METADATA if required == "METADATA" else Kind.NO_RECORD
            what = f"no {required} in {os.path.basename(dist.folder)} (an install that did not finish)"
            report.problems.append(_problem(kind, dist, os.path.basename(dist.folder), what))
        try:
            rows = dist.record()
        except FileNotFoundError:
            rows = []
        except (OSError, ValueError) as error:
            what = f"RECORD cannot be read ({error})"
            report.problems.append(_problem(Kind.BAD_RECORD, dist, os.path.basename(dist.folder) + "/RECORD", what))
            rows = []
        if not missing and not dist.complete():
            what = (
                f"{os.path.basename(dist.folder)} has no INSTALLER and files its RECORD lists are missing "
                "(an install that did not finish)"
            )
            report.problems.append(_problem(Kind.UNFINISHED, dist, os.path.basename(dist.folder), what))
        prefix = dist.site + os.sep
        label = dist.label()
        for relative, digest, size in rows:
            if os.sep == "/" and "/." not in "/" + relative and "//" not in "/" + relative:
                path = prefix + relative  # the common case, without the cost of join and normpath
            else:
                path = os.path.normpath(os.path.join(dist.site, relative))
            owned.add(path)
            if path.startswith(prefix):
                first, sep, _ = path[len(prefix) :].partition(os.sep)
                if sep:
                    owned_tops.setdefault(prefix + first, set()).add(label)
            if not digest or not (path == root or path.startswith(root + os.sep)):
                continue
            report.files += 1
            try:
                stat = os.stat(path)
            except OSError:
                report.problems.append(_problem(Kind.MISSING, dist, relative, f"file missing: {relative}"))
                continue
            if size and size.isdigit() and int(size) != stat.st_size:
                what = f"file changed (size {stat.st_size}, recorded {size}): {relative}"
                report.problems.append(_problem(Kind.SIZE, dist, relative, what))
                continue
            line = cache_line(path[len(root) + 1 :], digest, stat)
            if cache is not None and line in cache:
                report.cached += 1
                report.cache_entries.add(line)
                continue
            to_hash.append((path, digest, stat))
            hashed_of.append((relative, dist, line))

    for (_path, digest, stat), (relative, dist, line), actual in zip(
        to_hash, hashed_of, hash_all(to_hash, jobs), strict=True
    ):
        report.hashed += 1
        if actual is None:
            report.problems.append(_problem(Kind.MISSING, dist, relative, f"file unreadable: {relative}"))
        elif actual != digest:
            what = f"file changed (hash does not match RECORD): {relative}"
            report.problems.append(_problem(Kind.HASH, dist, relative, what))
        elif max(stat.st_mtime_ns, stat.st_ctime_ns) < started_ns - _RACY_NS:
            report.cache_entries.add(line)

    # the folder of a distribution whose RECORD is missing is reported through that distribution
    unrecorded = {d.key for d in found.distributions if d.is_dist_info and "RECORD" in d.missing()}
    report.problems.extend(orphans(site_dirs, owned, owned_tops, unrecorded))
    if markers is not None:
        report.requirements_checked = True
        report.problems.extend(_requirement_problems(found, markers))
    return report


def _problem(kind: Kind, dist: Distribution, path: str, what: str) -> Problem:
    return Problem(
        kind, f"{dist.label()}: {what}", distribution=dist.name, version=dist.version, path=path, folder=dist.folder
    )


def _top_folder(site: str, path: str) -> str | None:
    """The top-level folder of *site* that *path* lies in (None for a file directly in *site*, or outside)."""
    if not path.startswith(site + os.sep):
        return None
    first, sep, _ = path[len(site) + 1 :].partition(os.sep)
    return os.path.join(site, first) if sep else None


def _egg_info_owned(dist: Distribution, owned: set[str], owned_tops: dict[str, set[str]]) -> None:
    """What a legacy ``.egg-info`` owns: its installed-files.txt, else whole top-level folders."""
    folder = dist.folder if os.path.isdir(dist.folder) else ""
    if not folder:
        return
    try:
        with open(os.path.join(folder, "installed-files.txt"), encoding="utf-8") as file:
            for line in file:
                if line.strip():
                    path = os.path.normpath(os.path.join(folder, line.strip()))
                    owned.add(path)
                    top = _top_folder(dist.site, path)
                    if top is not None:
                        owned_tops.setdefault(top, set()).add(dist.label())
        return
    except OSError:
        pass
    try:
        with open(os.path.join(folder, "top_level.txt"), encoding="utf-8") as file:
            names = [line.strip() for line in file if line.strip()]
    except OSError:
        return
    for name in names:  # no file list: the whole folder is taken as its own
        owned_tops.setdefault(os.path.join(dist.site, name), set()).add(dist.label() + "\0whole")


def _requirement_problems(found: Scan, markers: dict[str, str]) -> list[Problem]:
    """What ``pip check`` reports, from the check's walk with every installed project as a root."""
    from packaging.requirements import InvalidRequirement, Requirement

    from venvlock.core._check import Finding, walk

    roots = []
    for dists in found.by_key.values():
        try:
            roots.append(Requirement(dists[0].name))
        except InvalidRequirement:
            continue
    problems: list[Problem] = []
    reported: set[tuple[str, str]] = set()
    for step in walk(roots, found, markers):
        parent = step.parent
        if parent is None or step.finding in (Finding.SATISFIED, Finding.DAMAGED):
            continue
        requirement = step.requirement
        if isinstance(requirement, str):
            kind, message = Kind.BAD_REQUIREMENT, f"{parent.label()}: {step.detail}"
        elif step.finding is Finding.UNJUDGED:
            continue
        else:
            extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
            shown = f"{requirement.name}{extras}{requirement.specifier}"
            if step.finding is Finding.MISSING:
                kind, message = Kind.REQUIREMENT, f"{parent.label()} requires {shown}, which is not installed"
            else:
                installed = step.found[0]
                message = f"{parent.label()} requires {shown}, but {installed.label()} is installed"
                kind = Kind.REQUIREMENT
        if (parent.folder, message) in reported:
            continue
        reported.add((parent.folder, message))
        problems.append(Problem(kind, message, distribution=parent.name, version=parent.version, folder=parent.folder))
    problems.sort(key=lambda p: (p.distribution.lower(), p.message))
    return problems
