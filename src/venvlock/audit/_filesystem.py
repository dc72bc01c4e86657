"""What filesystem a path lives on, and what that means for the locks taken there.

On Linux the answer comes from ``/proc/self/mountinfo``: the mount whose mount
point is the longest prefix of the path's real location (of two mounts on one
point, the later one, which hides the other).  Its type (``ext4``, ``xfs``,
``btrfs``, ``tmpfs``, ``overlay``, ``nfs``/``nfs4``, ``lustre``, ``gpfs``,
``cifs``/``smb3``, ``fuse.<name>``, ...) and mount options say how far a
``flock`` reaches:

* :data:`LOCAL`: a local filesystem; a lock excludes every process that can
  open the file.
* :data:`NETWORK`: a network filesystem whose locks go to the server; they
  exclude processes on other hosts as far as the server's lock manager does.
* :data:`THIS_HOST`: a network filesystem whose locks stay on this host (NFS
  mounted ``nolock`` or ``local_lock=all|flock``, Lustre ``localflock``, SMB
  ``nobrl``, FUSE filesystems such as sshfs): processes on other hosts are
  not excluded.
* :data:`NONE`: locks are expected to fail (Lustre ``noflock``, or without
  the ``flock`` option on versions that do not lock by default: ENOSYS).

Elsewhere (macOS, Windows) the type is ``"unknown"``: a live probe (``venvlock
doctor``) is then the only evidence.  :func:`lock_error_meaning` says in words
what an errno from a lock call means, for messages.

Plain ``os``/``sys`` only.
"""

from __future__ import annotations

import errno
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

#: Linux's table of this process's mounts
MOUNTINFO = "/proc/self/mountinfo"

#: how far a lock on a filesystem reaches (see the module docstring)
LOCAL, NETWORK, THIS_HOST, NONE = "local", "network", "this-host", "none"

#: filesystem types whose files other hosts reach too (``fuse.*`` is judged apart)
NETWORK_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "lustre",
        "gpfs",
        "cifs",
        "smb3",
        "smbfs",
        "ceph",
        "glusterfs",
        "beegfs",
        "9p",
        "afs",
        "ocfs2",
        "gfs2",
        "panfs",
        "wekafs",
        "virtiofs",
    }
)

UNKNOWN = "unknown"


class Filesystem:
    """The mount a path lives on.

    :ivar type: the filesystem type as the kernel names it (``"ext4"``, ``"nfs4"``,
        ``"fuse.sshfs"``), or ``"unknown"`` where it cannot be read.
    :ivar mount_point: where it is mounted (``""`` when unknown).
    :ivar source: what is mounted (a device, ``server:/export``).
    :ivar options: the mount's options and the filesystem's own, ``name`` or ``name=value``.
    """

    __slots__ = ("mount_point", "options", "source", "type")

    def __init__(self, type: str, mount_point: str = "", source: str = "", options: Iterable[str] = ()) -> None:
        self.type = type
        self.mount_point = mount_point
        self.source = source
        self.options = tuple(options)

    def __repr__(self) -> str:
        return f"Filesystem({self.type!r}, {self.mount_point!r}, {self.source!r}, {self.options!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Filesystem):
            return NotImplemented
        return (self.type, self.mount_point, self.source, self.options) == (
            other.type,
            other.mount_point,
            other.source,
            other.options,
        )

    def __hash__(self) -> int:
        return hash((self.type, self.mount_point, self.source, self.options))

    def option(self, name: str) -> str | None:
        """The value of mount option *name* (``""`` for a flag), or None when it is not set."""
        for option in self.options:
            key, equals, value = option.partition("=")
            if key == name:
                return value if equals else ""
        return None

    def lock_error(self, error: OSError | int) -> str:
        """What a lock call's *error* means here: ``"ENOSYS: ... (lustre on /scratch)"``."""
        where = f" ({self.type} on {self.mount_point})" if self.mount_point else ""
        return lock_error_meaning(error) + where

    @property
    def network(self) -> bool:
        """Whether other hosts may reach the files (a network or cluster filesystem, or FUSE)."""
        return self.type in NETWORK_TYPES or self.type.startswith("fuse")

    def lock_scope(self) -> tuple[str, str]:
        """How far a ``flock`` here reaches (:data:`LOCAL`, ...), and why in words (``""`` when plain local)."""
        kind = self.type
        if kind == UNKNOWN:
            return UNKNOWN, "the filesystem type cannot be read on this platform"
        if kind in ("nfs", "nfs4"):
            local_lock = self.option("local_lock")
            if self.option("nolock") is not None:
                return THIS_HOST, f"{kind} mounted with nolock: locks are local to this host"
            if local_lock in ("all", "flock"):
                return THIS_HOST, f"{kind} mounted with local_lock={local_lock}: locks are local to this host"
            return NETWORK, (
                f"{kind}: locks go to the server's lock manager; a lock taken on the server itself "
                "does not exclude a client's"
            )
        if kind == "lustre":
            if self.option("localflock") is not None:
                return THIS_HOST, "lustre mounted with localflock: locks are local to this host"
            if self.option("flock") is not None:
                return NETWORK, "lustre mounted with flock: locks are coherent across the cluster"
            return (
                NONE,
                "lustre mounted without the flock option: flock fails (ENOSYS) unless this Lustre locks by default",
            )
        if kind == "gpfs":
            return NETWORK, "gpfs: locks have been seen not to exclude processes on other nodes (filelock issue 389)"
        if kind in ("cifs", "smb3", "smbfs"):
            if self.option("nobrl") is not None:
                return THIS_HOST, f"{kind} mounted with nobrl: locks are local to this host"
            return NETWORK, f"{kind}: byte-range locks are enforced by the SMB server"
        if kind.startswith("fuse"):
            return THIS_HOST, f"{kind}: the kernel keeps a FUSE filesystem's flock locks on this host"
        if kind in NETWORK_TYPES:
            return NETWORK, f"{kind}: a network filesystem; locks reach other hosts as far as it implements them"
        return LOCAL, ""


def unescape(field: str) -> str:
    """A mountinfo path field with its octal escapes (``\\040`` for a space, ...) decoded."""
    if "\\" not in field:
        return field
    out: list[str] = []
    index = 0
    while index < len(field):
        chunk = field[index + 1 : index + 4]
        if field[index] == "\\" and len(chunk) == 3 and all(c in "01234567" for c in chunk):
            out.append(chr(int(chunk, 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Filesystem]:
    """The mounts of a ``/proc/<pid>/mountinfo`` text, in its order; malformed lines are skipped."""
    mounts: list[Filesystem] = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            separator = fields.index("-", 6)
        except ValueError:
            continue
        if len(fields) < separator + 3:
            continue
        mount_point = unescape(fields[4])
        kind = fields[separator + 1]
        source = unescape(fields[separator + 2])
        super_options = fields[separator + 3] if len(fields) > separator + 3 else ""
        options = [o for o in (*fields[5].split(","), *super_options.split(",")) if o]
        mounts.append(Filesystem(kind, mount_point, source, dict.fromkeys(options)))
    return mounts


def _contains(mount_point: str, path: str) -> bool:
    if mount_point == "/":
        return path.startswith("/")
    return path == mount_point or path.startswith(mount_point.rstrip("/") + "/")


def mount_of(path: str, mounts: Iterable[Filesystem]) -> Filesystem:
    """The mount *path* (absolute, symbolic links resolved) lives on: the longest mount point containing it."""
    found: Filesystem | None = None
    for mount in mounts:  # a later mount on the same point hides the earlier one: >= keeps the later
        if _contains(mount.mount_point, path) and (found is None or len(mount.mount_point) >= len(found.mount_point)):
            found = mount
    return found if found is not None else Filesystem(UNKNOWN)


def _existing(path: str) -> str:
    """*path*'s real location, through its nearest existing folder (an environment need not exist yet)."""
    real = os.path.realpath(os.path.abspath(path))
    missing: list[str] = []
    while not os.path.exists(real):
        parent, name = os.path.split(real)
        if parent == real:
            break
        missing.append(name)
        real = parent
    return os.path.join(real, *reversed(missing)) if missing else real


def filesystem_of(path: str) -> Filesystem:
    """The filesystem *path* lives on (Linux: from mountinfo; elsewhere, or when unreadable: type ``"unknown"``)."""
    if not sys.platform.startswith("linux"):
        return Filesystem(UNKNOWN)
    try:
        with open(MOUNTINFO, encoding="utf-8", errors="surrogateescape") as table:
            text = table.read()
    except OSError:
        return Filesystem(UNKNOWN)
    return mount_of(_existing(path), parse_mountinfo(text))


#: what an errno from a lock call means, in words (filesystems where it is seen)
_LOCK_ERRORS = {
    errno.ENOSYS: "this filesystem does not implement flock (as Lustre mounted without the flock option)",
    errno.ENOLCK: "no locks available: no lock manager answers (as NFS without lockd/statd, some clusters)",
    errno.EBADF: "this filesystem wants the lock file open for writing (as NFS, which turns flock into POSIX locks)",
    errno.EOPNOTSUPP: "this filesystem does not support locks",
    errno.EIO: "an I/O error: the filesystem (its server) failed the lock request",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "a read-only filesystem",
}


def lock_error_meaning(error: OSError | int) -> str:
    """``"ENOSYS: <what it means>"`` for an errno (or an :class:`OSError`) a lock call failed with."""
    number = error if isinstance(error, int) else (error.errno or 0)
    name = errno.errorcode.get(number, f"errno {number}")
    meaning = _LOCK_ERRORS.get(number) or os.strerror(number)
    return f"{name}: {meaning}"
