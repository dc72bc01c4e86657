"""What ``venvlock verify`` reports: :class:`Problem` (a :class:`Kind`, a :class:`Severity`) and :class:`Report`."""

from __future__ import annotations

import enum


class Severity(enum.Enum):
    """Damage makes verify exit 1; a warning does not."""

    DAMAGE = "damage"
    WARNING = "warning"


class Kind(enum.Enum):
    """What is wrong."""

    HASH = "hash"
    SIZE = "size"
    MISSING = "missing"
    DUPLICATE = "duplicate"
    NO_RECORD = "no-record"
    NO_METADATA = "no-metadata"
    UNFINISHED = "unfinished"
    BAD_RECORD = "bad-record"
    LEFTOVER = "leftover"
    ORPHAN = "orphan"
    ORPHAN_FOLDER = "orphan-folder"
    REQUIREMENT = "requirement"
    BAD_REQUIREMENT = "bad-requirement"
    INTERRUPTED = "interrupted"

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self in _WARNINGS else Severity.DAMAGE


_WARNINGS = {Kind.ORPHAN, Kind.ORPHAN_FOLDER, Kind.BAD_REQUIREMENT}
#: a distribution's files do not match its RECORD
FILE_DAMAGE = frozenset({Kind.HASH, Kind.SIZE, Kind.MISSING, Kind.BAD_RECORD})
#: the install that wrote a metadata folder did not end
UNFINISHED = frozenset({Kind.NO_RECORD, Kind.NO_METADATA, Kind.UNFINISHED})


class Problem:
    """One thing wrong with an environment.

    :ivar kind: what is wrong (a :class:`Kind`).
    :ivar distribution: the project's name as installed ("" for a leftover or an orphan folder).
    :ivar version: its version ("" when not known).
    :ivar path: the file or folder, relative to the package folder it lies in.
    :ivar folder: the metadata folder concerned (absolute), when there is one.
    :ivar message: the line a user reads.
    """

    __slots__ = ("distribution", "folder", "kind", "message", "path", "version")

    def __init__(
        self, kind: Kind, message: str, *, distribution: str = "", version: str = "", path: str = "", folder: str = ""
    ) -> None:
        self.kind = kind
        self.message = message
        self.distribution = distribution
        self.version = version
        self.path = path
        self.folder = folder

    def __repr__(self) -> str:
        return f"Problem({self.kind.value!r}, {self.message!r})"

    @property
    def severity(self) -> Severity:
        return self.kind.severity

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "distribution": self.distribution,
            "version": self.version,
            "path": self.path,
            "metadata_folder": self.folder,
            "message": self.message,
        }


class Report:
    """What verify found.

    :ivar problems: in a stable order (by package folder, then distribution, then path).
    :ivar site_folders: the package folders judged (none: the check covered nothing).
    :ivar distributions: metadata folders looked at.
    :ivar files: RECORD entries with a hash that were judged.
    :ivar hashed: files hashed this time; :ivar cached: files the cache vouched for.
    :ivar requirements_checked: whether the dependency check ran (it needs the interpreter's markers).
    :ivar waited: seconds spent waiting for the environment lock; :ivar seconds: the check's own time.
    """

    __slots__ = (
        "cache_entries",
        "cached",
        "distributions",
        "files",
        "hashed",
        "problems",
        "requirements_checked",
        "seconds",
        "site_folders",
        "waited",
    )

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.site_folders: list[str] = []
        self.distributions = 0
        self.files = 0
        self.hashed = 0
        self.cached = 0
        self.requirements_checked = False
        self.cache_entries: set[str] = set()
        self.waited = 0.0
        self.seconds = 0.0

    @property
    def damaged(self) -> bool:
        return any(p.severity is Severity.DAMAGE for p in self.problems)

    @property
    def covered_nothing(self) -> bool:
        """No package folder, or no distribution in them: "no damage" would say nothing."""
        return not self.site_folders or self.distributions == 0
