"""The OS half of the lock on Unix: open a lock file, ``flock`` it, see who waits for it; process facts.

Every OS lock call of venvlock is here (and in :mod:`._windows`): the same
``flock`` uv takes on ``<env>/.lock``; on Linux ``/proc/locks`` tells who
holds a lock file and who is blocked on it (the uv hand-off), and ``/proc``
a process's ancestors (nesting).

Test-only seam: ``VENVLOCK_TEST_LOCK_ERRNO=<name>`` (e.g. ``ENOLCK``) makes
:func:`lock` fail with that error, so that the handling of file systems
whose locks fail is tested with real processes.
"""

from __future__ import annotations

import errno
import os
import stat

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: errors of a non-blocking lock attempt that mean "somebody else holds it"
_BUSY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)
#: the kinds of lock in /proc/locks that flock takes (FLOCK; POSIX on NFS) or that exclude it
_LOCK_KINDS = ("FLOCK", "POSIX", "OFDLCK")
#: the test-only seam (see the module docstring)
TEST_ERRNO_VAR = "VENVLOCK_TEST_LOCK_ERRNO"


def _stat_fields(pid: int) -> list[bytes]:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, parent, ...); empty when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            return stat_file.read().rpartition(b")")[2].split()
    except OSError:
        return []


def pid_alive(pid: int) -> bool:
    """Whether a process with *pid* exists (a zombie counts as gone where that can be seen)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    return _stat_fields(pid)[:1] != [b"Z"]


def _line(pid: int) -> list[int]:
    """*pid*, its parent, grandparent, ... up to pid 1, as far as ``/proc`` tells."""
    found: list[int] = []
    while pid > 0 and pid not in found:
        found.append(pid)
        parent = _stat_fields(pid)[1:2]
        pid = int(parent[0]) if parent and parent[0].isdigit() else 0
    return found


def ancestors() -> list[int] | None:
    """The pids of this process's parent, grandparent, ... up to pid 1; None where the OS does not say (no /proc)."""
    parent = os.getppid()
    return _line(parent) if os.path.isdir(f"/proc/{parent}") else None


def descends_from(pid: int, ancestor: int) -> bool:
    """Whether process *pid* is *ancestor* or one of its descendants (False where unknown)."""
    return ancestor in _line(pid)


def open_lock(path: str, *, create: bool) -> int:
    """A descriptor of the lock file *path*, read-write; made (mode 0644 less umask) when *create* and missing.

    Never follows a symbolic link (``ELOOP``) and never hangs on a FIFO:
    anything but a regular file raises ``OSError(EINVAL)`` naming what it is.
    A file this user may not write is opened read-only (an environment
    installed by another user, or read-only): it can still be locked locally.
    """
    flags = os.O_RDWR | _NOFOLLOW | _NONBLOCK | _CLOEXEC | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o666)  # as uv: the umask decides who else may lock
    except OSError as error:
        if error.errno not in (errno.EACCES, errno.EROFS, errno.EPERM) or not os.path.isfile(path):
            raise
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"not a regular file ({describe_mode(mode)})", path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def describe_mode(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file"


def lock(fd: int, *, exclusive: bool, wait: bool = False) -> bool:
    """``flock`` *fd* exclusive or shared; whether it is locked now (False: busy, only when not *wait*).

    With *wait* the call blocks in the kernel until the lock is granted.
    """
    import fcntl

    injected = os.environ.get(TEST_ERRNO_VAR)
    if injected:
        code = getattr(errno, injected, errno.EIO)
        raise OSError(code, os.strerror(code))
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB))
    except OSError as error:
        if error.errno in _BUSY and not wait:
            return False
        raise
    return True


def downgrade(fd: int) -> None:
    """Turn the exclusive ``flock`` on *fd* into a shared one in one call: no exclusive waiter gets in between.

    ``man 2 flock`` calls a conversion "not guaranteed to be atomic" (the old
    lock is removed, then the new one established).  Linux 3.10's
    ``flock_lock_file`` did drop its lock and ``cond_resched()`` in between,
    to let a blocked waiter in.  Today's ``flock_lock_inode`` (``fs/locks.c``,
    read for the 6.x kernels) removes the exclusive lock, which wakes the
    blocked waiters, and inserts the shared one under one hold of the
    inode's ``flc_lock``; a woken waiter retries under that spinlock only
    afterwards, finds the shared lock and blocks again.
    ``tests/test_lock.py`` checks it against a blocked waiter process.  A
    file system with its own lock operation (NFS, FUSE) decides for itself.
    """
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_SH)


def unlock(fd: int) -> None:
    """Release the lock on *fd*."""
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def read_locks() -> str | None:
    """The text of ``/proc/locks`` (Linux; elsewhere None).

    A read waits for the kernel (``fs/locks.c`` takes its lock table's
    percpu semaphore for writing: an RCU grace period, 5 to 15 ms of wall
    time, next to no CPU), so nothing that a user waits for reads it.
    """
    try:
        with open("/proc/locks", "rb") as table:
            return table.read().decode("ascii", "replace")
    except OSError:
        return None


def lock_table(fd: int, text: str | None = None) -> list[tuple[int, bool, bool]] | None:
    """The locks on *fd*'s file in ``/proc/locks`` (*text*, else read now): ``(pid, exclusive, blocked)`` each.

    None where unknown.  ``flock`` locks and the POSIX locks NFS turns them
    into; a blocked entry (``->``) is a process waiting in a blocking lock call.
    A line names a file by its filesystem's device and its inode number, and
    inode numbers repeat from one filesystem to the next (every tmpfs counts
    from 2): a line counts when its device is the file's, as ``stat`` gives
    it or, where that differs (btrfs subvolumes, overlay), as its mount gives
    it (:func:`_mount_device`).
    """
    try:
        status = os.fstat(fd)
    except OSError:
        return None
    inode, device = str(status.st_ino), _device_text(status.st_dev)
    mount_device: str | None = None
    text = read_locks() if text is None else text
    if text is None:
        return None
    found = []
    for line in text.splitlines():
        words = line.split()
        blocked = len(words) > 1 and words[1] == "->"
        if blocked:
            del words[1]
        if len(words) < 6 or words[1] not in _LOCK_KINDS:
            continue
        where, _, number = words[5].rpartition(":")
        if number != inode:
            continue
        if where != device:
            if mount_device is None:
                mount_device = _mount_device(fd)
            if where != mount_device:
                continue  # another filesystem's file with the same inode number
        try:
            pid = int(words[4])
        except ValueError:
            continue
        found.append((pid, words[3] == "WRITE", blocked))
    return found


def _device_text(device: int) -> str:
    """*device* as ``/proc/locks`` prints it (``fs/locks.c``: ``%02x:%02x``)."""
    return f"{os.major(device):02x}:{os.minor(device):02x}"


def _mount_device(fd: int) -> str:
    """The device of the filesystem *fd*'s file is mounted from, as ``/proc/locks`` prints it ("" when unknown).

    ``/proc/self/fdinfo`` names the descriptor's mount; ``/proc/self/mountinfo``
    gives that mount's device, the one ``/proc/locks`` shows.
    """
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as info:
            mount = next(line.split()[1] for line in info if line.startswith(b"mnt_id:"))
        with open("/proc/self/mountinfo", "rb") as mounts:
            for line in mounts:
                fields = line.split(maxsplit=3)
                if len(fields) > 2 and fields[0] == mount:
                    major, _, minor = fields[2].partition(b":")
                    return _device_text(os.makedev(int(major), int(minor)))
    except (OSError, StopIteration, ValueError):
        pass
    return ""
