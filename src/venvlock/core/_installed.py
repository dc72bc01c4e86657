"""What is installed in an environment's install scheme, read from its folders, and what is damaged.

Only the scheme's own folders (a venv's purelib/platlib) are read.  Damage is
what interrupted or concurrent pip runs leave there, and nothing else:

* ``~``-prefixed folders: pip's stash of a distribution it was replacing;
* a dist-info folder without RECORD or METADATA (an install killed before its end);
* two dist-info folders for one project (two installs interleaved).

Anything else that is unusual (a ``~`` file, a dist-info beside an egg-info of
one project, a project also found in a folder a ``.pth`` file adds) is not
damage: the check cannot judge it, and the installer decides.  Repair removes
only damage, only inside the scheme's folders, never through a link.
"""

from __future__ import annotations

import os

from venvlock.core._files import remove_file, remove_tree


def canonical_name(name: str) -> str:
    """PEP 503 normalisation (``Foo_Bar.baz`` -> ``foo-bar-baz``), without importing ``re``."""
    lowered = name.lower().replace("_", "-").replace(".", "-")
    while "--" in lowered:
        lowered = lowered.replace("--", "-")
    return lowered


class Installed:
    """One metadata folder (or egg-info file) of an installed distribution."""

    __slots__ = ("folder", "name", "version")

    def __init__(self, folder: str, name: str, version: str) -> None:
        self.folder = folder
        self.name = name
        self.version = version

    @property
    def is_dist_info(self) -> bool:
        return self.folder.endswith(".dist-info")

    def _metadata_file(self) -> str:
        if self.is_dist_info:
            return os.path.join(self.folder, "METADATA")
        return os.path.join(self.folder, "PKG-INFO") if os.path.isdir(self.folder) else self.folder

    def complete(self) -> bool:
        """Whether the install that wrote this folder finished (METADATA and RECORD; PKG-INFO for an egg-info)."""
        if not self.is_dist_info:
            return os.path.isfile(self._metadata_file())
        return os.path.isfile(os.path.join(self.folder, "RECORD")) and os.path.isfile(self._metadata_file())

    def metadata(self) -> tuple[str, str, list[str]]:
        """``(name, version, requires_dist)`` from METADATA (PKG-INFO and requires.txt for an egg-info)."""
        name, version, requires = self.name, self.version, []
        with open(self._metadata_file(), encoding="utf-8", errors="replace") as file:
            for line in file:
                if line in ("\n", "\r\n"):
                    break
                key, _, value = line.partition(":")
                if key == "Requires-Dist":
                    requires.append(value.strip())
                elif key == "Name":
                    name = value.strip()
                elif key == "Version":
                    version = value.strip()
        if not self.is_dist_info and os.path.isdir(self.folder):
            requires = _egg_requires(os.path.join(self.folder, "requires.txt"))
        return name, version, requires


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


class Inventory:
    """Every distribution found in an environment's install scheme.

    :ivar by_name: canonical project name -> its metadata folders (more than one dist-info is damage).
    :ivar leftovers: pip's ``~``-prefixed stash folders.
    :ivar unclear: why the scheme holds something the check does not understand ("" when nothing).
    :ivar elsewhere: canonical names of projects found in folders ``.pth`` files add (pip sees those too).
    """

    __slots__ = ("by_name", "elsewhere", "leftovers", "unclear")

    def __init__(self, site_dirs: list[str]) -> None:
        self.by_name: dict[str, list[Installed]] = {}
        self.leftovers: list[str] = []
        self.unclear = ""
        self.elsewhere: set[str] = set()
        for folder in site_dirs:
            try:
                entries = os.listdir(folder)
            except OSError:
                continue
            for entry in entries:
                path = os.path.join(folder, entry)
                if entry.startswith("~"):
                    if os.path.isdir(path) and not os.path.islink(path):
                        self.leftovers.append(path)
                    else:
                        self.unclear = self.unclear or f"{path} is not pip's"
                elif entry.endswith(".dist-info"):
                    name, _, version = entry[: -len(".dist-info")].rpartition("-")
                    self._add(Installed(path, name, version))
                elif entry.endswith(".egg-info"):
                    self._add(_egg_info(path, entry))
                elif entry.endswith(".pth"):
                    self._read_pth(folder, path, site_dirs)

    def _add(self, installed: Installed) -> None:
        self.by_name.setdefault(canonical_name(installed.name), []).append(installed)

    def _read_pth(self, site: str, path: str, site_dirs: list[str]) -> None:
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
                        self.elsewhere.add(canonical_name(entry[: -len(suffix)].partition("-")[0]))


def _egg_info(path: str, entry: str) -> Installed:
    name, _, rest = entry[: -len(".egg-info")].partition("-")
    installed = Installed(path, name, rest.partition("-")[0])
    try:
        found_name, version, _ = installed.metadata()
    except OSError:
        return installed
    return Installed(path, found_name or name, version)


def repair(damaged: list[str], site_dirs: list[str]) -> None:
    """Remove what interrupted installs left, so the installer puts the projects back whole.

    *damaged* lists ``~`` stash folders and dist-info folders inside
    *site_dirs* (anything else is skipped).  A dist-info with a RECORD is
    uninstalled file by file (only files inside its scheme folder); one
    without is removed (its install never finished, the installer writes its
    files again).  Call only under the environment lock.
    """
    inside = {os.path.realpath(d) for d in site_dirs}
    for path in damaged:
        site = os.path.dirname(path)
        name = os.path.basename(path)
        if os.path.realpath(site) not in inside or os.path.islink(path) or not os.path.isdir(path):
            continue
        if name.startswith("~"):
            remove_tree(path)
            continue
        if not name.endswith(".dist-info"):
            continue
        record = os.path.join(path, "RECORD")
        if os.path.isfile(record):
            import csv

            root = os.path.realpath(site) + os.sep
            with open(record, encoding="utf-8", errors="replace", newline="") as file:
                for row in csv.reader(file):
                    if not row:
                        continue
                    target = os.path.normpath(os.path.join(site, row[0]))
                    real_folder = os.path.realpath(os.path.dirname(target))
                    if (real_folder + os.sep).startswith(root) and os.path.isfile(target):
                        remove_file(target)
        remove_tree(path)
