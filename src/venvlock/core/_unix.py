"""Process facts on Unix."""

from __future__ import annotations

import errno
import os


def pid_alive(pid: int) -> bool:
    """Whether a process with *pid* exists (a zombie counts as gone where that can be seen)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] != b"Z"
    except OSError:
        return True


def try_lock_shared(fd: int) -> bool:
    """Lock *fd* shared (``flock LOCK_SH``) without waiting; whether it is locked now (False: held exclusively)."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
            return False
        raise
    return True


def unlock_shared(fd: int) -> None:
    """Release the lock on *fd*."""
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)
