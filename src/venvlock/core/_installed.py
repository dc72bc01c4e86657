"""What is installed in an environment, read from its folders, and what is damaged.

Damage is what interrupted or concurrent pip runs leave behind:

* ``~``-prefixed leftovers (pip's stash of a half-done uninstall);
* a dist-info folder without RECORD or METADATA (an install killed before its end);
* two metadata folders for one project (two installs interleaved).
"""

from __future__ import annotations

import os
import shutil


def canonical_name(name: str) -> str:
    """PEP 503 normalisation (``Foo_Bar.baz`` -> ``foo-bar-baz``), without importing ``re``."""
    lowered = name.lower().replace("_", "-").replace(".", "-")
    while "--" in lowered:
        lowered = lowered.replace("--", "-")
    return lowered


class Installed:
    """One metadata folder of an installed distribution."""

    __slots__ = ("folder", "name", "version")

    def __init__(self, folder: str, name: str, version: str) -> None:
        self.folder = folder
        self.name = name
        self.version = version

    @property
    def is_dist_info(self) -> bool:
        return self.folder.endswith(".dist-info")

    def complete(self) -> bool:
        """Whether the install that wrote this folder finished (METADATA and RECORD are there)."""
        if not self.is_dist_info:
            return True
        return os.path.isfile(os.path.join(self.folder, "RECORD")) and os.path.isfile(
            os.path.join(self.folder, "METADATA")
        )

    def metadata(self) -> tuple[str, str, list[str]]:
        """``(name, version, requires_dist)`` from METADATA."""
        name, version, requires = self.name, self.version, []
        with open(os.path.join(self.folder, "METADATA"), encoding="utf-8", errors="replace") as file:
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
        return name, version, requires


class Inventory:
    """Every distribution found in an environment's folders.

    :ivar by_name: canonical project name -> its metadata folders (more than one is damage).
    :ivar leftovers: ``~``-prefixed entries.
    """

    __slots__ = ("by_name", "leftovers")

    def __init__(self, site_dirs: list[str]) -> None:
        self.by_name: dict[str, list[Installed]] = {}
        self.leftovers: list[str] = []
        for folder in site_dirs:
            try:
                entries = os.listdir(folder)
            except OSError:
                continue
            for entry in entries:
                if entry.startswith("~"):
                    self.leftovers.append(os.path.join(folder, entry))
                elif entry.endswith(".dist-info"):
                    name, _, version = entry[: -len(".dist-info")].rpartition("-")
                    self._add(Installed(os.path.join(folder, entry), name, version))
                elif entry.endswith(".egg-info"):
                    name, _, rest = entry[: -len(".egg-info")].partition("-")
                    self._add(Installed(os.path.join(folder, entry), name, rest.partition("-")[0]))

    def _add(self, installed: Installed) -> None:
        self.by_name.setdefault(canonical_name(installed.name), []).append(installed)


def repair(damaged: list[str]) -> None:
    """Remove what interrupted installs left, so the installer puts the projects back whole.

    *damaged* lists ``~`` leftovers and metadata folders.  A metadata folder
    with a RECORD is uninstalled file by file (a duplicate); one without is
    removed (its install never finished, the installer writes its files again).
    Call only under the environment lock.
    """
    for path in damaged:
        if os.path.basename(path).startswith("~"):
            _remove_tree(path)
            continue
        record = os.path.join(path, "RECORD")
        site = os.path.dirname(path)
        if os.path.isfile(record):
            import csv

            with open(record, encoding="utf-8", errors="replace", newline="") as file:
                for row in csv.reader(file):
                    if not row:
                        continue
                    target = os.path.normpath(os.path.join(site, row[0]))
                    if os.path.isfile(target) and not os.path.islink(os.path.dirname(target)):
                        _remove_file(target)
        _remove_tree(path)


def _remove_file(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _remove_tree(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        _remove_file(path)
