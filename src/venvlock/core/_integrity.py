"""Is an installed environment whole?  What ``pip check`` does not look at, and what it does.

:func:`inspect_site` judges the distributions of an environment's own
package folders (purelib/platlib, never ``PYTHONPATH``):

* every file a RECORD lists with a hash is present, of the recorded size, with the recorded hash;
* one metadata folder per project; a dist-info has its RECORD and METADATA;
* no ``~`` leftovers (what pip stashes while it replaces a distribution);
* files under a top-level package folder that no distribution owns (*orphans*: a warning,
  for they may be a cache a package writes, or what a killed install left);
* every ``Requires-Dist`` of every distribution is installed at a matching version, markers
  evaluated for the environment's interpreter (what ``pip check`` reports).

Files a RECORD lists outside the environment's folder are not judged.  Hashing
runs on a thread pool (``hashlib`` releases the GIL while it hashes large
buffers); an optional *cache* of files verified earlier (their size,
modification and change times and inode) skips files that have not changed.
"""

from __future__ import annotations

import csv
import os
import time

from venvlock.core._installed import Installed, canonical_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from venvlock.core._environment import Environment

#: problems that mean the environment is damaged (exit 1); the rest are warnings
DAMAGE = "damage"
WARNING = "warning"

# kinds of problems
HASH, SIZE, MISSING, DUPLICATE, NO_RECORD, NO_METADATA, BAD_RECORD = (
    "hash", "size", "missing", "duplicate", "no-record", "no-metadata", "bad-record",
)  # fmt: skip
LEFTOVER, ORPHAN, ORPHAN_FOLDER, REQUIREMENT, BAD_REQUIREMENT = (
    "leftover", "orphan", "orphan-folder", "requirement", "bad-requirement",
)  # fmt: skip
_WARNINGS = {ORPHAN, ORPHAN_FOLDER, BAD_REQUIREMENT}

#: files are read in chunks of this size
_CHUNK = 1 << 20
#: files at least this large are hashed on the thread pool
_LARGE = 256 * 1024
#: a file changed less than this long before the verification began is not cached (coarse file-system clocks)
_RACY_NS = 2_000_000_000


class Problem:
    """One thing wrong with an environment.

    :ivar kind: what is wrong (``"hash"``, ``"missing"``, ``"duplicate"``, ...).
    :ivar distribution: the project's name as installed ("" for a leftover or an orphan folder).
    :ivar version: its version ("" when not known).
    :ivar path: the file or folder, relative to the package folder it lies in.
    :ivar folder: the metadata folder concerned (absolute), when there is one.
    :ivar message: the line a user reads.
    """

    __slots__ = ("distribution", "folder", "kind", "message", "path", "version")

    def __init__(
        self, kind: str, message: str, *, distribution: str = "", version: str = "", path: str = "", folder: str = ""
    ) -> None:
        self.kind = kind
        self.message = message
        self.distribution = distribution
        self.version = version
        self.path = path
        self.folder = folder

    def __repr__(self) -> str:
        return f"Problem({self.kind!r}, {self.message!r})"

    @property
    def severity(self) -> str:
        return WARNING if self.kind in _WARNINGS else DAMAGE

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "distribution": self.distribution,
            "version": self.version,
            "path": self.path,
            "metadata_folder": self.folder,
            "message": self.message,
        }


class Distribution:
    """One metadata folder found in a package folder."""

    __slots__ = ("folder", "key", "name", "site", "version")

    def __init__(self, site: str, entry: str) -> None:
        self.site = site
        self.folder = os.path.join(site, entry)
        stem = entry.rsplit(".", 1)[0]
        if entry.endswith(".dist-info"):
            name, _, version = stem.rpartition("-")
        else:  # name-version[-pyX.Y].egg-info
            name, _, rest = stem.partition("-")
            version = rest.partition("-")[0]
        self.name = name or stem
        self.version = version
        self.key = canonical_name(self.name)

    @property
    def is_dist_info(self) -> bool:
        return self.folder.endswith(".dist-info")

    def label(self) -> str:
        return f"{self.name} {self.version}".strip()


class Report:
    """What :func:`inspect_site` found.

    :ivar problems: in a stable order (by package folder, then distribution, then path).
    :ivar distributions: metadata folders looked at.
    :ivar files: RECORD entries with a hash that were judged.
    :ivar hashed: files hashed this time; :ivar cached: files the cache vouched for.
    :ivar skipped: RECORD entries outside the environment (not judged).
    :ivar requirements_checked: whether the dependency check ran (it needs the interpreter's markers).
    """

    __slots__ = ("cache_entries", "cached", "distributions", "files", "hashed", "problems", "requirements_checked")

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.distributions = 0
        self.files = 0
        self.hashed = 0
        self.cached = 0
        self.requirements_checked = False
        self.cache_entries: set[str] = set()

    @property
    def damaged(self) -> bool:
        return any(p.severity == DAMAGE for p in self.problems)


# --------------------------------------------------------------------------------------------------
# the package folders of an environment
# --------------------------------------------------------------------------------------------------
def site_packages_of(root: str, python: str, *, is_venv: bool) -> list[str]:
    """The purelib/platlib folders of the environment at *root* (real paths, no duplicates).

    A venv's are found on disk; another interpreter is asked (``sysconfig``).
    Never ``PYTHONPATH`` or folders outside the install scheme.
    """
    found: list[str] = []
    if is_venv:
        if os.name == "nt":
            found.append(os.path.join(root, "Lib", "site-packages"))
        else:
            for lib in ("lib", "lib64"):
                try:
                    names = sorted(os.listdir(os.path.join(root, lib)))
                except OSError:
                    continue
                found.extend(
                    os.path.join(root, lib, n, "site-packages") for n in names if n.startswith(("python", "pypy"))
                )
    else:
        import json
        import subprocess

        script = "import json, sysconfig; p = sysconfig.get_paths(); print(json.dumps([p['purelib'], p['platlib']]))"
        try:
            command = [python, "-I", "-c", script]
            output = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
            found.extend(json.loads(output.stdout))
        except (OSError, ValueError, subprocess.SubprocessError):
            return []
    unique: list[str] = []
    for folder in found:
        real = os.path.realpath(folder)
        if real not in unique and os.path.isdir(real):
            unique.append(real)
    return unique


# --------------------------------------------------------------------------------------------------
# the check
# --------------------------------------------------------------------------------------------------
def inspect_site(
    site_dirs: list[str],
    root: str,
    *,
    markers: dict[str, str] | None,
    jobs: int = 0,
    cache: set[str] | None = None,
) -> Report:
    """Judge the distributions in *site_dirs* (see the module docstring).

    *root* is the environment's folder: RECORD entries outside it are not judged.
    *markers*: the interpreter's PEP 508 values (None: no dependency check).
    *jobs*: hashing threads (0: from the CPU count).  *cache*: lines of files
    verified earlier (see :func:`cache_line`); :attr:`Report.cache_entries`
    holds the lines to keep for the next run.
    """
    started_ns = time.time_ns()
    report = Report()
    root = os.path.normpath(os.path.abspath(root))
    distributions: list[Distribution] = []
    owned: set[str] = set()
    owned_tops: dict[str, set[str]] = {}  # top-level folder (absolute) -> labels of its owners
    to_hash: list[tuple[str, str, str, os.stat_result, Distribution, str]] = []

    for site in site_dirs:
        try:
            entries = sorted(os.listdir(site))
        except OSError:
            continue
        for entry in entries:
            if entry.startswith("~"):
                report.problems.append(
                    Problem(
                        LEFTOVER,
                        f"{entry}: leftover of an interrupted pip run (pip's stash of a replaced distribution)",
                        path=entry,
                        folder=os.path.join(site, entry),
                    )
                )
            elif entry.endswith((".dist-info", ".egg-info")):
                distributions.append(Distribution(site, entry))
    report.distributions = len(distributions)

    by_key: dict[str, list[Distribution]] = {}
    for dist in distributions:
        by_key.setdefault(dist.key, []).append(dist)
    for dists in by_key.values():
        if len(dists) > 1:
            names = ", ".join(os.path.basename(d.folder) for d in dists)
            for dist in dists:
                report.problems.append(
                    Problem(
                        DUPLICATE,
                        f"{dist.label()}: one of {len(dists)} metadata folders of one project ({names})",
                        distribution=dist.name,
                        version=dist.version,
                        path=os.path.basename(dist.folder),
                        folder=dist.folder,
                    )
                )

    for dist in distributions:
        if not dist.is_dist_info:
            _egg_info_owned(dist, owned, owned_tops)
            continue
        for required, kind in (("METADATA", NO_METADATA), ("RECORD", NO_RECORD)):
            if not os.path.isfile(os.path.join(dist.folder, required)):
                report.problems.append(
                    Problem(
                        kind,
                        f"{dist.label()}: no {required} in {os.path.basename(dist.folder)} (an install that did not "
                        "finish)",
                        distribution=dist.name,
                        version=dist.version,
                        path=os.path.basename(dist.folder),
                        folder=dist.folder,
                    )
                )
        rows = _record_rows(dist, report)
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
                report.problems.append(_file_problem(MISSING, dist, relative, "file missing"))
                continue
            if size and size.isdigit() and int(size) != stat.st_size:
                report.problems.append(
                    _file_problem(SIZE, dist, relative, f"file changed (size {stat.st_size}, recorded {size})")
                )
                continue
            line = cache_line(path[len(root) + 1 :], digest, stat)
            if cache is not None and line in cache:
                report.cached += 1
                report.cache_entries.add(line)
                continue
            to_hash.append((path, relative, digest, stat, dist, line))

    for (_path, relative, digest, stat, dist, line), actual in zip(to_hash, _hash_all(to_hash, jobs), strict=True):
        report.hashed += 1
        if actual is None:
            report.problems.append(_file_problem(MISSING, dist, relative, "file unreadable"))
        elif actual != digest:
            report.problems.append(_file_problem(HASH, dist, relative, "file changed (hash does not match RECORD)"))
        elif max(stat.st_mtime_ns, stat.st_ctime_ns) < started_ns - _RACY_NS:
            report.cache_entries.add(line)

    # the folder of a distribution whose RECORD is missing is reported through that distribution
    unrecorded = {
        d.key for d in distributions if d.is_dist_info and not os.path.isfile(os.path.join(d.folder, "RECORD"))
    }
    report.problems.extend(_orphans(site_dirs, owned, owned_tops, unrecorded))
    if markers is not None:
        report.requirements_checked = True
        report.problems.extend(_requirement_problems(distributions, by_key, markers))
    return report


def cache_line(path: str, digest: str, stat: os.stat_result) -> str:
    """How the cache names a file (*path* relative to the environment) verified with *digest* in the state *stat*."""
    return f"{digest}\t{stat.st_size}\t{stat.st_mtime_ns}\t{stat.st_ctime_ns}\t{stat.st_ino}\t{path}"


def _file_problem(kind: str, dist: Distribution, relative: str, what: str) -> Problem:
    return Problem(
        kind,
        f"{dist.label()}: {what}: {relative}",
        distribution=dist.name,
        version=dist.version,
        path=relative,
        folder=dist.folder,
    )


def _record_rows(dist: Distribution, report: Report) -> list[tuple[str, str, str]]:
    """``(path, "algorithm=digest", size)`` of each RECORD row (the digest empty when not recorded)."""
    try:
        with open(os.path.join(dist.folder, "RECORD"), encoding="utf-8", newline="") as file:
            padded = ([*row, "", ""] for row in csv.reader(file) if row)
            rows = [(row[0], row[1], row[2]) for row in padded]
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        report.problems.append(
            Problem(
                BAD_RECORD,
                f"{dist.label()}: RECORD cannot be read ({error})",
                distribution=dist.name,
                version=dist.version,
                path=os.path.basename(dist.folder) + "/RECORD",
                folder=dist.folder,
            )
        )
        return []
    return rows


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


def _hash_all(items: list[tuple[str, str, str, os.stat_result, Distribution, str]], jobs: int) -> list[str | None]:
    """The ``algorithm=digest`` of each file of *items*, in order (None when unreadable).

    Files of :data:`_LARGE` bytes or more are hashed on a thread pool
    (``hashlib`` releases the GIL while it hashes them) while this thread
    hashes the small ones, where threads would only fight over the GIL.
    """
    results: list[str | None] = [None] * len(items)
    workers = jobs - 1 if jobs > 0 else min(4, os.cpu_count() or 1)
    large = [i for i, item in enumerate(items) if item[3].st_size >= _LARGE] if workers > 0 else []
    pool = None
    futures = []
    if large:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=min(workers, len(large)))
        futures = [(i, pool.submit(_hash_file, items[i][0], items[i][2])) for i in large]
    try:
        chosen = set(large)
        for index, (path, _, digest, *_) in enumerate(items):
            if index not in chosen:
                results[index] = _hash_file(path, digest)
        for index, future in futures:
            results[index] = future.result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return results


def _hash_file(path: str, recorded: str) -> str | None:
    """``algorithm=digest`` of *path* with the algorithm of *recorded*; None when it cannot be read."""
    import base64
    import hashlib

    algorithm = recorded.partition("=")[0]
    try:
        hasher = hashlib.new(algorithm)
    except (ValueError, TypeError):
        return None
    try:
        with open(path, "rb") as file:
            while True:
                block = file.read(_CHUNK)
                if not block:
                    break
                hasher.update(block)
    except OSError:
        return None
    return f"{algorithm}={base64.urlsafe_b64encode(hasher.digest()).rstrip(b'=').decode('ascii')}"


# --------------------------------------------------------------------------------------------------
# orphans
# --------------------------------------------------------------------------------------------------
def _is_skipped(name: str) -> bool:
    return name == "__pycache__" or name.endswith((".dist-info", ".egg-info", ".pyc")) or name.startswith("~")


def _files_under(folder: str) -> Iterator[str]:
    """Files under *folder*, not following links, without ``__pycache__`` and ``.pyc`` files."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if _is_skipped(entry.name):
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_dir:
            yield from _files_under(entry.path)
        else:
            yield entry.path


def _orphans(
    site_dirs: Iterable[str], owned: set[str], owned_tops: dict[str, set[str]], unrecorded: set[str]
) -> Iterator[Problem]:
    for site in site_dirs:
        try:
            entries = sorted(os.scandir(site), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if _is_skipped(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            owners = owned_tops.get(entry.path)
            if owners is not None and any(o.endswith("\0whole") for o in owners):
                continue
            if owners is None and canonical_name(entry.name) in unrecorded:
                continue
            files = list(_files_under(entry.path))
            if owners is None:
                if files:
                    yield Problem(
                        ORPHAN_FOLDER,
                        f"{entry.name}/: folder owned by no distribution ({len(files)} files; "
                        "what an interrupted install or a manual copy leaves)",
                        path=entry.name + "/",
                    )
                continue
            label = ", ".join(sorted(owners))
            for path in sorted(files):
                if path not in owned:
                    relative = os.path.relpath(path, site)
                    yield Problem(
                        ORPHAN,
                        f"{relative}: file owned by no distribution (in the folder of {label})",
                        distribution=label,
                        path=relative,
                    )


# --------------------------------------------------------------------------------------------------
# dependencies (pip check)
# --------------------------------------------------------------------------------------------------
def _metadata(dist: Distribution) -> tuple[str, str, list[str]] | None:
    """``(name, version, requires_dist)`` of a complete distribution, or None (read as the check reads it)."""
    try:
        return Installed(dist.folder, dist.name, dist.version).metadata()
    except OSError:
        return None


def _requirement_problems(
    distributions: list[Distribution], by_key: dict[str, list[Distribution]], markers: dict[str, str]
) -> list[Problem]:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    complete = {
        key: dists[0]
        for key, dists in by_key.items()
        if len(dists) == 1 and (not dists[0].is_dist_info or os.path.isfile(os.path.join(dists[0].folder, "METADATA")))
    }
    info: dict[str, tuple[str, str, list[Requirement]]] = {}
    problems: list[Problem] = []
    for key, dist in complete.items():
        found = _metadata(dist)
        if found is None:
            continue
        name, version, texts = found
        parsed: list[Requirement] = []
        for text in texts:
            try:
                parsed.append(Requirement(text))
            except InvalidRequirement as error:
                problems.append(
                    Problem(
                        BAD_REQUIREMENT,
                        f"{name} {version}: requirement {text!r} cannot be read ({error})",
                        distribution=name,
                        version=version,
                        folder=dist.folder,
                    )
                )
        info[key] = (name, version, parsed)

    # the extras each distribution is asked for by the others
    wanted_extras: dict[str, set[str]] = {key: {""} for key in info}
    for _name, _version, requirements in info.values():
        for requirement in requirements:
            target = canonical_name(requirement.name)
            if target in wanted_extras and (requirement.marker is None or _evaluate(requirement, markers, "")):
                wanted_extras[target].update(canonical_name(extra) for extra in requirement.extras)

    for key, (name, version, requirements) in sorted(info.items()):
        reported: set[str] = set()
        for requirement in requirements:
            if requirement.marker is not None and not any(
                _evaluate(requirement, markers, extra) for extra in wanted_extras[key]
            ):
                continue
            target = canonical_name(requirement.name)
            extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
            shown = f"{requirement.name}{extras}{requirement.specifier}"
            if shown in reported:
                continue
            if target not in complete or target not in info:
                if target in by_key:  # installed but damaged: its own problem says so
                    continue
                reported.add(shown)
                problems.append(
                    Problem(
                        REQUIREMENT,
                        f"{name} {version} requires {shown}, which is not installed",
                        distribution=name,
                        version=version,
                        folder=complete[key].folder,
                    )
                )
                continue
            installed_version = info[target][1]
            try:
                matches = requirement.specifier.contains(Version(installed_version), prereleases=True)
            except InvalidVersion:
                matches = requirement.specifier.contains(installed_version, prereleases=True)
            if not matches:
                reported.add(shown)
                problems.append(
                    Problem(
                        REQUIREMENT,
                        f"{name} {version} requires {shown}, but {info[target][0]} {installed_version} is installed",
                        distribution=name,
                        version=version,
                        folder=complete[key].folder,
                    )
                )
    return problems


def _evaluate(requirement: object, markers: dict[str, str], extra: str) -> bool:
    marker = getattr(requirement, "marker", None)
    return marker is None or bool(marker.evaluate({**markers, "extra": extra}))


# --------------------------------------------------------------------------------------------------
# an environment, under its lock, with the cache
# --------------------------------------------------------------------------------------------------
#: the cache of verified files, inside the environment's record folder
CACHE_NAME = "verified"


def site_packages(environment: Environment) -> list[str]:
    """The purelib/platlib folders of *environment* (a venv's on disk; another interpreter's asked)."""
    from venvlock.core._environment import VENV

    if environment.kind == "target":
        return [os.path.realpath(environment.path)] if os.path.isdir(environment.path) else []
    return site_packages_of(environment.path, environment.python, is_venv=environment.kind in (VENV, "prefix"))


def verify_environment(environment: Environment, *, jobs: int = 0, use_cache: bool = True) -> Report:
    """Judge *environment* (call it under the environment lock); keeps the cache of verified files up to date.

    The cache (``<env>/.venvlock/verified``) lists files verified earlier with
    their size, modification and change times and inode; they are not hashed
    again until one of those changes.  It is written only when it changed,
    never through a symbolic link.
    """
    from venvlock.core._check import marker_environment
    from venvlock.core._files import read_file, write_file

    cache_path = os.path.join(environment.record_dir(), CACHE_NAME)
    cache: set[str] | None = None
    if use_cache:
        text = read_file(cache_path)
        cache = set(text.splitlines()) if text else set()
    report = inspect_site(
        site_packages(environment), environment.path, markers=marker_environment(environment), jobs=jobs, cache=cache
    )
    if cache is not None and report.cache_entries != cache and os.path.isdir(environment.path):
        try:
            write_file(cache_path, "\n".join(sorted(report.cache_entries)) + "\n", make_folder=True)
        except OSError:
            pass  # the cache is a speed-up only: without it every file is hashed next time
    return report
