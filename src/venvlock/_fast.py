"""The no-op fast path: a proof that nothing changed since a verified check, in a few stats per distribution.

``pip-locked`` asks :func:`attempt` before it loads anything else of venvlock
(the adapter layer, the core, pluggy, packaging); an adapter's judged install
(:meth:`venvlock.adapter.Adapter.sync`: nox's, tox's, hatch's) asks
it before its request is read.  It answers only when an
*entry* written after an earlier sync that found the environment in sync
(:func:`venvlock.core._record.remember_noop`) proves the same answer again:

* the *entry key* is a digest of everything the run reads before it
  reads a file: its arguments (an adapter's: the words of its request,
  :meth:`~venvlock.core.SyncRequest.fast_key_words`), the working folder, the interpreter running it
  (``sys.executable``, ``sys.prefix``, ``sys.path``, venvlock's version) and every
  environment variable that can change where pip installs or what it reads
  (:func:`_variables`: ``PIP_*``, ``VENVLOCK_*``, ``UV_*``, ``PYTHON*``,
  ``XDG_*``, ``VIRTUAL_ENV``, ``HOME``...; not ``VENVLOCK_HELD``, the locks
  of the run's ancestors), so a change in any of them looks for another entry;
* the entry lists every file the reading read or looked for, with its stat
  (``-r``/``-c`` files, nested ones, every pip configuration file pip would
  read, present or absent, uv's when uv installs, the environment's interpreter and ``pyvenv.cfg``),
  the digest of each ``${VAR}`` those files expand, and the stat of every
  ``sys.path`` folder of the running interpreter (``pip-locked``'s, the tool's: adding, removing or
  upgrading a distribution there, a venvlock plugin included, changes it);
  every stat must be the same and older than the reading by :data:`RACY_NS`
  (a change in the clock tick of the reading could hide, as Git's "racily
  clean" entries);
* the entry names the record (``<env>/.venvlock/synced/<key>``) that the full
  check wrote, and that record must still hold by the record's own rule
  (:func:`record_holds`: the environment's package folders unchanged, the
  record strictly newer than each).

Anything else (no entry, one stat different, a record that no longer holds)
returns a :class:`Miss` and the run takes its full route, which writes
a new entry when it finds the environment in sync again.  This module imports
only ``os`` and ``sys`` (and the builtin sha256); not even ``__future__``
(about 0.08 ms of a 9 ms no-op): annotations naming what only the type checker
imports are quoted.
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

#: the format of entries (the first line of every entry; another format is not read)
FORMAT = "venvlock-fast 1"
#: a file modified this close to a reading's start (or later) counts as changed since (coarse clocks: FAT has 2 s)
RACY_NS = 2_000_000_000
#: variables that can change where pip installs, what it reads or what venvlock does, by prefix
_PREFIXES = ("PIP_", "_PIP_", "VENVLOCK_", "UV_", "PYTHON", "XDG_", "VIRTUAL_ENV", "CONDA_")
#: ... and by name (the folders pip's configuration files are found from)
_NAMES = frozenset(("HOME", "USERPROFILE", "APPDATA", "LOCALAPPDATA", "PROGRAMDATA", "ALLUSERSPROFILE"))
#: ... but not venvlock's note to its child processes of the locks their ancestors hold (process ids, another in
#: every run): it changes how a run locks, never what a check answers
_NOT_SETTINGS = frozenset(("VENVLOCK_HELD",))


def digest(text: str) -> str:
    """A stable, filesystem-safe digest of *text*: sha256, hashlib's where the process has loaded hashlib (a
    tool's has), else the builtin module's (importing hashlib loads OpenSSL)."""
    hashlib = sys.modules.get("hashlib")
    if hashlib is not None:
        sha256 = hashlib.sha256
    elif sys.version_info >= (3, 12):
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    else:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:  # a Python built without it
            from hashlib import sha256  # type: ignore[assignment,unused-ignore]
    return str(sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32])


def signature(path: str, status: os.stat_result | None = None) -> tuple[int, ...] | None:
    """``(mtime_ns, ctime_ns, size, inode, device)`` of *path* (of *status* when given); None when absent."""
    if status is None:
        try:
            status = os.stat(path)
        except OSError:
            return None
    return (status.st_mtime_ns, status.st_ctime_ns, status.st_size, status.st_ino, status.st_dev)


def fingerprint(site_dirs: "Sequence[str]") -> tuple[str, int]:
    """``(text, newest mtime_ns)`` of an environment's package folders (a record's content).

    A folder's own stat changes when an entry is added, removed or renamed; a change inside a metadata folder (a
    METADATA removed, a requirement added in place) leaves it alone, so each metadata folder and its METADATA
    (PKG-INFO), and each ``.pth`` and ``.egg-link`` file, are stat'ed too (a digest of them a folder).
    """
    lines, newest = [], 0
    for folder in site_dirs:
        try:
            stat = os.stat(folder)
            entries = sorted(os.listdir(folder))
        except OSError:
            lines.append(f"{folder} missing")
            continue
        newest = max(newest, stat.st_mtime_ns)
        seen = []
        for name in entries:
            if name.endswith(_METADATA_FOLDERS):
                inner = "METADATA" if name.endswith(".dist-info") else "PKG-INFO"
                paths: tuple[str, ...] = (f"{folder}/{name}", f"{folder}/{name}/{inner}")
            elif name.endswith(_LINK_FILES):
                paths = (f"{folder}/{name}",)
            else:
                continue
            for path in paths:
                try:
                    status = os.stat(path)
                except OSError:
                    seen.append(f"{path} -")
                    continue
                newest = max(newest, status.st_mtime_ns)
                # not the change time: another hard link to the file (uv links from its cache) changes it
                seen.append(f"{path} {status.st_mtime_ns} {status.st_size} {status.st_ino}")
        lines.append(f"{folder} {stat.st_mtime_ns} {stat.st_ino} {digest(chr(10).join(seen))}")
    return "\n".join(lines), newest


#: what pip's answer depends on in a package folder besides its entries: the metadata folders (with the METADATA or
#: PKG-INFO in each, read for a distribution's name, version and requirements), and ``.pth`` and ``.egg-link`` files
_METADATA_FOLDERS = (".dist-info", ".egg-info")
_LINK_FILES = (".pth", ".egg-link")


def read_own_file(path: str, dir_fd: int | None = None) -> tuple[str, os.stat_result] | None:
    """The text and stat of venvlock's file *path* (in folder *dir_fd*), or None: a link, a FIFO, not a file.

    Not through a link at its last part; ``O_NONBLOCK``: a FIFO or device planted there never hangs the reader.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except (OSError, ValueError):
        return None
    try:
        status = os.fstat(fd)
        if (status.st_mode & 0o170000) != 0o100000:  # a regular file only
            return None
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace"), status


def record_holds(content: str, record_mtime_ns: int, site_dirs: "Sequence[str]") -> int | None:
    """The count of a record with *content*, if it still holds for *site_dirs*; else None.

    It holds while the fingerprint is unchanged and the record is strictly
    newer than every package folder (a change in the record's clock tick is never trusted).
    """
    count, _, stored = content.partition("\n")
    text, newest = fingerprint(site_dirs)
    if stored != text or record_mtime_ns <= newest:
        return None
    try:
        return int(count)
    except ValueError:
        return None


def _variables() -> list[str]:
    return sorted(
        f"{name}={value}"
        for name, value in os.environ.items()
        if (name.startswith(_PREFIXES) or name in _NAMES) and name not in _NOT_SETTINGS
    )


def path_signatures() -> list[tuple[str, tuple[int, ...] | None]]:
    """The stat of every folder on this interpreter's ``sys.path``: where venvlock and its plugins are found."""
    return [(folder, signature(folder)) for folder in sys.path if folder]


class Miss:
    """What an attempt that could not answer learnt, for the entry the full route may write.

    :ivar key: the entry key of this run (None: this run gets no entry).
    :ivar folder: the environment folder the entry would be in.
    :ivar started_ns: the wall clock before anything was looked at.
    :ivar paths: :func:`path_signatures` when the attempt started.
    """

    __slots__ = ("folder", "key", "paths", "started_ns")

    def __init__(
        self, key: str | None, folder: str, started_ns: int, paths: list[tuple[str, tuple[int, ...] | None]]
    ) -> None:
        self.key = key
        self.folder = folder
        self.started_ns = started_ns
        self.paths = paths


#: the sync journal's name in an environment's record folder (``core/_journal.py``): while it is there, a sync
#: is running or was interrupted, and no entry proves anything
JOURNAL_NAME = "journal"


def entry_path(folder: str, key: str) -> str:
    """Where the entry of *key* for the environment *folder* is kept."""
    return os.path.join(folder, ".venvlock", "fast", key)


def request_words(
    command: str, tool: bool, installer_takes_lock: bool, pip: "Sequence[str] | None", args: "Sequence[str]"
) -> list[str]:
    """What the key of an adapter's entry (:func:`entry_key`) covers of its sync request
    (:meth:`~venvlock.core.SyncRequest.fast_key_words`): the pip command, who installs (*tool*: the tool's own
    installer; uv's settings count when it takes the lock), the pip that runs, the arguments.  A function here, so
    that a proved no-op builds no request.
    """
    who = "tool" if tool else "venvlock"
    return ["adapter", command, who, str(int(installer_takes_lock)), *(pip or []), "\0", *args]


def entry_key(argv: "Sequence[str]", folder: str | None = None, cwd: str | None = None) -> tuple[str, str]:
    """``(key, folder)``: the entry key of a run with *argv*, and the environment it looks in.

    ``pip-locked``'s run: its arguments, the environment ``VIRTUAL_ENV`` or its
    own interpreter's, the working folder.  An adapter's sync: the words of its
    request, its *folder* and *cwd*.
    """
    from venvlock import __version__

    folder = folder or os.environ.get("VIRTUAL_ENV") or sys.prefix
    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = ""
    parts = [FORMAT, __version__, sys.executable, sys.prefix, sys.platform, *sys.path, "\0", cwd, *argv, "\0"]
    parts += _variables()
    return digest("\0".join(parts)), folder


def attempt(argv: "Sequence[str]", folder: str | None = None, cwd: str | None = None) -> tuple[int, Miss | None]:
    """``(count, None)`` when an entry proves *argv* a no-op with *count* packages checked; else ``(-1, miss)``.

    ``count`` is -2 when the proof holds and the run is quiet (``-q``): nothing to print.  *folder* and *cwd*:
    an adapter's sync (:func:`entry_key`).
    """
    import time

    started_ns = time.time_ns()
    paths = path_signatures()
    if cwd is None and not cwd_known():
        return -1, Miss(None, "", started_ns, paths)
    key, folder = entry_key(argv, folder, cwd)
    miss = Miss(key, folder, started_ns, paths)
    read = read_own_file(entry_path(folder, key))
    if read is None:
        return -1, miss
    count = _proved(read[0], folder, paths)
    return (count, None) if count is not None else (-1, miss)


def cwd_known() -> bool:
    """Whether the working folder can be named (a removed one cannot: the full route says what pip would)."""
    try:
        os.getcwd()
    except OSError:
        return False
    return True


def _proved(text: str, folder: str, paths: list[tuple[str, tuple[int, ...] | None]]) -> int | None:
    """The count the entry *text* proves (-2 for a quiet run), or None when any part of the proof fails."""
    lines = text.split("\n")
    if not lines or lines[0] != FORMAT:
        return None
    fields: dict[str, str] = {}
    inputs: list[tuple[str, str]] = []
    variables: list[tuple[str, str]] = []
    for line in lines[1:]:
        kind, _, rest = line.partition(" ")
        if kind == "input":
            seen, _, path = rest.partition("\t")
            inputs.append((path, seen))
        elif kind == "variable":
            name, _, value = rest.partition("\t")
            variables.append((name, value))
        elif kind:
            fields[kind] = rest
    try:
        started_ns = int(fields["started"])
        key, sites, real = fields["record"], fields["sites"].split("\t"), fields["real"]
        quiet = fields["quiet"] == "1"
    except (KeyError, ValueError):
        return None
    if os.path.realpath(folder) != real or os.path.lexists(os.path.join(folder, ".venvlock", JOURNAL_NAME)):
        return None
    if fields.get("paths") != signatures_digest(paths):
        return None
    for path, seen in inputs:
        now = signature(path)
        if _format(now) != seen or (now is not None and now[0] >= started_ns - RACY_NS):
            return None
    for name, value in variables:
        if variable_digest(name, os.environ.get(name)) != value:
            return None
    record = read_own_file(os.path.join(folder, ".venvlock", "synced", key))
    if record is None:
        return None
    count = record_holds(record[0], record[1].st_mtime_ns, sites)
    if count is None:
        return None
    return -2 if quiet else count


def variable_digest(name: str, value: str | None) -> str:
    """How an entry keeps a ``${VAR}`` value (a digest: values may be credentials)."""
    return digest(f"{name} unset" if value is None else f"{name}={value}")


def _format(seen: tuple[int, ...] | None) -> str:
    return "-" if seen is None else " ".join(map(str, seen))


def signatures_digest(paths: list[tuple[str, tuple[int, ...] | None]]) -> str:
    """One digest of :func:`path_signatures`: equal while no folder on ``sys.path`` changed."""
    return digest("\n".join(f"{path}\t{_format(seen)}" for path, seen in paths))


def entry_text(
    miss: Miss,
    *,
    record_key: str,
    site_dirs: "Sequence[str]",
    inputs: "Sequence[tuple[str, tuple[int, ...] | None]]",
    variables: dict[str, str | None],
    quiet: bool,
) -> str | None:
    """The entry proving this run's answer again, or None when a stat is too recent to prove anything yet."""
    started = miss.started_ns
    for _, seen in [*inputs, *miss.paths]:
        if seen is not None and seen[0] >= started - RACY_NS:
            return None
    lines = [
        FORMAT,
        f"record {record_key}",
        f"sites {chr(9).join(site_dirs)}",
        f"real {os.path.realpath(miss.folder)}",
        f"started {started}",
        f"quiet {1 if quiet else 0}",
        f"paths {signatures_digest(miss.paths)}",
    ]
    lines += [f"input {_format(seen)}\t{path}" for path, seen in inputs]
    lines += [f"variable {name}\t{variable_digest(name, value)}" for name, value in sorted(variables.items())]
    return "\n".join(lines) + "\n"
