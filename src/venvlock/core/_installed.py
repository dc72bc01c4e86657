"""The installed distributions of an environment's own package folders: the one model and the one reader.

:func:`scan` lists the metadata folders of package folders as :class:`Distribution` objects, for the check,
``venvlock verify`` and ``venvlock repair`` alike; METADATA and RECORD are read here and nowhere else, each once.

A distribution is *unfinished* (not :meth:`Distribution.complete`, never counted as installed) when the install
that wrote it did not end: a dist-info without METADATA or RECORD, or with the wheel's own RECORD but no
INSTALLER (the installer writes INSTALLER and rewrites RECORD last) and files of that RECORD missing.

:func:`remove_distribution` is the one way venvlock deletes an installed distribution's files, under one
containment rule (:func:`contained`).  Plain ``os``: on the fast path.
"""

from __future__ import annotations

import os

from venvlock.core._files import remove_file, remove_tree

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


def canonical_name(name: str) -> str:
    """PEP 503 normalisation (``Foo_Bar.baz`` -> ``foo-bar-baz``), without importing ``re``."""
    lowered = name.lower().replace("_", "-").replace(".", "-")
    while "--" in lowered:
        lowered = lowered.replace("--", "-")
    return lowered


class Distribution:
    """One metadata folder (a ``.dist-info``, or a legacy ``.egg-info`` folder or file) in package folder *site*.

    *name* and *version* come from the folder's name until METADATA is read; *key* is the canonical name.
    """

    __slots__ = ("_complete", "_declared", "_headers", "_record", "folder", "key", "name", "site", "version")

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
        self._headers: tuple[str, str, list[str]] | None = None
        self._declared = ("", "")
        self._record: list[tuple[str, str, str]] | None = None
        self._complete: bool | None = None

    def __repr__(self) -> str:
        return f"Distribution({self.folder!r})"

    @property
    def is_dist_info(self) -> bool:
        return self.folder.endswith(".dist-info")

    def label(self) -> str:
        return f"{self.name} {self.version}".strip()

    def _metadata_file(self) -> str:
        if self.is_dist_info:
            return os.path.join(self.folder, "METADATA")
        return os.path.join(self.folder, "PKG-INFO") if os.path.isdir(self.folder) else self.folder

    def missing(self) -> list[str]:
        """Which of METADATA and RECORD a dist-info lacks (PKG-INFO for an egg-info)."""
        if not self.is_dist_info:
            return [] if os.path.isfile(self._metadata_file()) else ["PKG-INFO"]
        return [n for n in ("METADATA", "RECORD") if not os.path.isfile(os.path.join(self.folder, n))]

    def complete(self) -> bool:
        """False for an install that did not end (see the module docstring); looked at once."""
        if self._complete is None:
            self._complete = not self._unfinished()
        return self._complete

    def _unfinished(self) -> bool:
        if self.missing():
            return True
        if not self.is_dist_info or os.path.isfile(os.path.join(self.folder, "INSTALLER")):
            return False
        try:
            self.record()
        except (OSError, ValueError):
            return True
        return any(not os.path.lexists(path) for path in self.record_files())

    def headers(self) -> tuple[str, str, list[str]]:
        """``(name, version, requires_dist)`` from METADATA (PKG-INFO and requires.txt for an egg-info), read once;
        OSError when it cannot be read."""
        if self._headers is None:
            name, version, requires = "", "", []
            with open(self._metadata_file(), encoding="utf-8", errors="replace") as file:
                for line in file:
                    if line in ("\n", "\r\n"):
                        break
                    key, _, value = line.partition(":")
                    key = key.lower()  # header names are case-insensitive (pip reads them with the email parser)
                    if key == "requires-dist":
                        requires.append(value.strip())
                    elif key == "name":
                        name = value.strip()
                    elif key == "version":
                        version = value.strip()
            if not self.is_dist_info and os.path.isdir(self.folder) and not requires:  # pip: PKG-INFO's first
                requires = _egg_requires(os.path.join(self.folder, "requires.txt"))
            self._declared = (name, version)
            name, version = name or self.name, version or self.version
            self._headers = (name, version, requires)
            self.name, self.version = name or self.name, version or self.version
        return self._headers

    def declared(self) -> tuple[str, str]:
        """``(Name, Version)`` as the metadata declares them ("" where it does not), after :meth:`headers`."""
        return self._declared

    def record(self) -> list[tuple[str, str, str]]:
        """``(path, "algorithm=digest", size)`` of each RECORD row (digest and size "" when not recorded), read once;
        OSError (FileNotFoundError: none) or ValueError (not CSV, not UTF-8)."""
        if self._record is None:
            import csv

            try:
                with open(os.path.join(self.folder, "RECORD"), encoding="utf-8", newline="") as file:
                    padded = ([*row, "", ""] for row in csv.reader(file) if row)
                    self._record = [(row[0], row[1], row[2]) for row in padded]
            except csv.Error as error:
                raise ValueError(str(error)) from None
        return self._record

    def record_files(self) -> list[str]:
        """The absolute, normalised paths of the files RECORD lists ([] when it cannot be read)."""
        try:
            rows = self.record()
        except (OSError, ValueError):
            return []
        return [os.path.normpath(os.path.join(self.site, row[0])) for row in rows]


def _egg_requires(path: str) -> list[str]:
    """An egg-info's ``requires.txt`` as Requires-Dist lines (sections ``[extra]``, ``[:marker]``, ``[x:marker]``)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            lines = file.read().splitlines()
    except OSError:
        return []
    requires: list[str] = []
    marker = ""
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, condition = line[1:-1].partition(":")
            parts = [f"({condition})"] if condition else []
            if extra:
                parts.append(f'extra == "{extra}"')
            marker = " and ".join(parts)
            continue
        requires.append(f"{line}; {marker}" if marker else line)
    return requires


class Scan:
    """What :func:`scan` found: *by_key* maps a canonical name to its metadata folders (more than one is damage),
    *leftovers* are pip's ``~`` stashes, *unclear* says what the check does not understand ("" when nothing),
    *elsewhere* names the projects in folders ``.pth`` files add (pip sees those too)."""

    __slots__ = ("by_key", "distributions", "elsewhere", "leftovers", "unclear")

    def __init__(self) -> None:
        self.distributions: list[Distribution] = []
        self.by_key: dict[str, list[Distribution]] = {}
        self.leftovers: list[str] = []
        self.unclear = ""
        self.elsewhere: set[str] = set()


def scan(site_dirs: list[str]) -> Scan:
    """The distributions, leftovers and ``.pth``-added projects of *site_dirs* (see :class:`Scan`)."""
    found = Scan()
    for site in site_dirs:
        try:
            entries = sorted(os.listdir(site))
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(site, entry)
            if entry.startswith("~"):
                found.leftovers.append(path)
                if not os.path.isdir(path) or os.path.islink(path):
                    found.unclear = found.unclear or f"{path} is not pip's"
            elif entry.endswith((".dist-info", ".egg-info")):
                distribution = Distribution(site, entry)
                if not distribution.is_dist_info:
                    try:
                        distribution.headers()  # an egg-info's folder name may not say its name and version
                    except OSError:
                        pass
                    distribution.key = canonical_name(distribution.name)
                found.distributions.append(distribution)
                found.by_key.setdefault(distribution.key, []).append(distribution)
            elif entry.endswith(".pth"):
                _read_pth(found, site, path, site_dirs)
    return found


def _read_pth(found: Scan, site: str, path: str, site_dirs: list[str]) -> None:
    """Note the projects in the folders a ``.pth`` file puts on ``sys.path``."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            lines = file.read().splitlines()
    except OSError:
        return
    for line in lines:
        line = line.rstrip()
        if not line or line.startswith(("#", "import ", "import\t")):
            continue
        folder = os.path.realpath(os.path.join(site, line))
        if folder in site_dirs or not os.path.isdir(folder):
            continue
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            for suffix in (".dist-info", ".egg-info"):
                if entry.endswith(suffix):
                    found.elsewhere.add(canonical_name(entry[: -len(suffix)].partition("-")[0]))


def contained(path: str, roots: Iterable[str]) -> bool:
    """Whether removing *path* changes nothing outside *roots* (real paths of an environment's scheme folders).

    A removal changes a directory entry: *path*'s name in the real path of its folder.  So nothing is deleted
    through a link leading outside (a package folder linked to a checkout); a link inside goes itself.
    """
    entry = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path))
    return any(entry.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def removable_files(distribution: Distribution, roots: Iterable[str], keep: Iterable[str] = ()) -> list[str]:
    """The files of *distribution*'s RECORD a removal deletes: present, :func:`contained`, not in *keep*, not in
    its own metadata folder (that goes as a whole)."""
    roots, kept = list(roots), set(keep)
    inner = distribution.folder + os.sep
    return sorted(
        path
        for path in set(distribution.record_files())
        if path not in kept and not path.startswith(inner) and os.path.lexists(path) and contained(path, roots)
    )


def remove_distribution(distribution: Distribution, roots: Iterable[str], keep: Iterable[str] = ()) -> None:
    """Delete *distribution*'s files (:func:`removable_files`) and its metadata folder, if :func:`contained`."""
    roots = list(roots)
    for path in removable_files(distribution, roots, keep):
        if not os.path.isdir(path) or os.path.islink(path):
            remove_file(path)
    remove_leftover(distribution.folder, roots)


def remove_leftover(path: str, roots: Iterable[str]) -> None:
    """Delete the folder (or file, or link itself) *path* when it is :func:`contained` in *roots*."""
    if contained(path, roots):
        remove_tree(path)


def stashed_distribution(path: str) -> tuple[str, str] | None:
    """``(name, version)`` of a dist-info pip stashed as a ``~`` folder (while it replaced or uninstalled it), from its
    METADATA: the folder's name does not say (pip replaces its first characters: ``~ackage-1.0.dist-info``); None
    for a stash of anything else, a link, or one without METADATA."""
    if not os.path.basename(path).startswith("~") or not os.path.isdir(path) or os.path.islink(path):
        return None
    if not os.path.isfile(os.path.join(path, "METADATA")):
        return None
    stash = Distribution(os.path.dirname(path), os.path.basename(path))
    try:
        name, version, _ = stash.headers()
    except OSError:
        return None
    return (name, version) if name and version and not name.startswith("~") else None


def repair(damaged: list[str], site_dirs: list[str]) -> None:
    """Under the environment lock, remove what interrupted installs left, so that the installer puts it back whole:
    ``~`` stashes and dist-infos (with their files) in *damaged* directly inside *site_dirs*; nothing else."""
    inside = {os.path.realpath(d) for d in site_dirs}
    for path in damaged:
        site, name = os.path.split(path)
        if os.path.realpath(site) not in inside or os.path.islink(path) or not os.path.isdir(path):
            continue
        if name.startswith("~"):
            remove_leftover(path, inside)
        elif name.endswith(".dist-info"):
            remove_distribution(Distribution(site, name), inside)
