"""Looking at a lock without taking it: free, held shared, held exclusively, and by whom since when.

:func:`probe_lock` opens the lock file read-only (never creating it, never
following a symbolic link) and tries a non-blocking lock, released at once:
on Unix ``LOCK_SH|LOCK_NB`` then ``LOCK_EX|LOCK_NB`` tell a shared holder
from an exclusive one.  A missing lock file is a free lock: nothing is
created while probing.  The holder file (``<lock>.holder``) names the holder;
its modification time says since when.

The probe takes the lock for an instant when it is free.  A process that
tries it in that instant sees it busy and waits, as it would for any holder.
"""

from __future__ import annotations

import errno
import os
import sys

from venvlock.core._holder import Holder, holder_path, read_holder
from venvlock.core._redact import redact_text

#: states of a probed lock
FREE, SHARED, EXCLUSIVE, MISSING, UNKNOWN = "free", "shared", "exclusive", "missing", "unknown"

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class LockState:
    """What a probe of one lock file found.

    :ivar path: the lock file.
    :ivar state: ``"free"``, ``"shared"``, ``"exclusive"``, ``"missing"`` (no lock
        file: free, nobody ever locked it here) or ``"unknown"`` (it could not be
        probed; :attr:`reason` says why).
    :ivar holder: who holds it, as its holder file says (credentials redacted); None when unknown.
    :ivar since: when the holder took it (the holder file's modification time, seconds since the epoch).
    """

    __slots__ = ("holder", "path", "reason", "since", "state")

    def __init__(
        self, path: str, state: str, *, holder: Holder | None = None, since: float | None = None, reason: str = ""
    ) -> None:
        self.path = path
        self.state = state
        self.holder = holder
        self.since = since
        self.reason = reason

    def __repr__(self) -> str:
        return f"LockState({self.path!r}, {self.state!r}, holder={self.holder!r})"

    @property
    def held(self) -> bool:
        return self.state in (SHARED, EXCLUSIVE)


def probe_lock(lock_path: str) -> LockState:
    """Whether *lock_path* is held now, and by whom (see the module docstring); creates nothing."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        if error.errno == errno.ENOENT:
            return LockState(lock_path, MISSING)
        reason = "a symbolic link, not followed" if error.errno == errno.ELOOP else (error.strerror or str(error))
        return LockState(lock_path, UNKNOWN, reason=reason)
    try:
        state, reason = _probe_descriptor(fd)
    finally:
        os.close(fd)
    if state not in (SHARED, EXCLUSIVE):
        return LockState(lock_path, state, reason=reason)
    holder, since = _holder_of(lock_path, state)
    return LockState(lock_path, state, holder=holder, since=since)


def _holder_of(lock_path: str, state: str) -> tuple[Holder | None, float | None]:
    holder = read_holder(lock_path)
    named_in = holder_path(lock_path)
    if holder is None and state == SHARED:  # shared holders (a tox run's commands) name themselves in their own files
        from venvlock.core._shared_lock import shared_holder_path, shared_holders

        readers = shared_holders(lock_path)
        if readers:
            holder, named_in = readers[0], shared_holder_path(lock_path, readers[0].pid)
    if holder is None:
        return None, None
    try:
        since: float | None = os.stat(named_in, follow_symlinks=False).st_mtime
    except OSError:
        since = None
    return Holder(holder.pid, redact_text(holder.command), holder.alive), since


if sys.platform == "win32":

    def _probe_descriptor(fd: int) -> tuple[str, str]:
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBRLCK, 1)
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EDEADLK):
                return EXCLUSIVE, ""
            return UNKNOWN, error.strerror or str(error)
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
        return FREE, ""

else:

    def _probe_descriptor(fd: int) -> tuple[str, str]:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return EXCLUSIVE, ""
            return UNKNOWN, error.strerror or str(error)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return SHARED, ""
            return UNKNOWN, error.strerror or str(error)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return FREE, ""
