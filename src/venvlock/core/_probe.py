"""Looking at a lock without taking it: free, held shared, held exclusively, and by whom since when.

:func:`probe_lock` opens the lock file (never creating it, never following
a symbolic link, never blocking on a FIFO).  On Linux ``/proc/locks`` says
whether it is held and how; elsewhere a non-blocking shared, then exclusive,
attempt released at once tells (a process trying it in that instant sees it
busy and waits, as for any holder).  A missing lock file is a free lock.
The holder file names the holder; its modification time says since when.
"""

from __future__ import annotations

import errno
import os
import sys

from venvlock.core._holder import Holder, holder_path, read_holder, shared_holder_path, shared_holders

if sys.platform == "win32":
    from venvlock.core import _windows as _os_lock
else:
    from venvlock.core import _unix as _os_lock

#: states of a probed lock
FREE, SHARED, EXCLUSIVE, MISSING, UNKNOWN = "free", "shared", "exclusive", "missing", "unknown"


class LockState:
    """What a probe of one lock file found: its *state* (:data:`MISSING`: no lock file, free; :data:`UNKNOWN`:
    not probed, *reason* says why), the *holder* its holder file names, *since* that file's mtime."""

    __slots__ = ("holder", "path", "reason", "since", "state")

    def __init__(
        self, path: str, state: str, *, holder: Holder | None = None, since: float | None = None, reason: str = ""
    ) -> None:
        self.path, self.state, self.holder, self.since, self.reason = path, state, holder, since, reason

    def __repr__(self) -> str:
        return f"LockState({self.path!r}, {self.state!r}, holder={self.holder!r})"

    @property
    def held(self) -> bool:
        return self.state in (SHARED, EXCLUSIVE)


def probe_lock(lock_path: str) -> LockState:
    """Whether *lock_path* is held now, and by whom (see the module docstring); creates nothing."""
    try:
        fd = _os_lock.open_lock(lock_path, create=False)
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
    holder, named_in = read_holder(lock_path), holder_path(lock_path)
    if holder is None and state == SHARED:  # shared holders (a tox run's commands) name themselves in their own files
        holder = next(iter(shared_holders(lock_path)), None)
        named_in = shared_holder_path(lock_path, holder.pid) if holder is not None else named_in
    try:
        since = os.stat(named_in, follow_symlinks=False).st_mtime if holder is not None else None
    except OSError:
        since = None
    return LockState(lock_path, state, holder=holder, since=since)


def exclusive_holder(lock_path: str) -> Holder | None:
    """Who holds *lock_path* exclusively now, only while the lock itself is held: a stale holder file naming a
    live process that holds nothing (its pid reused, pid 1 in a container) names no one."""
    state = probe_lock(lock_path)
    return state.holder if state.state == EXCLUSIVE and state.holder is not None and state.holder.alive else None


def _probe_descriptor(fd: int) -> tuple[str, str]:
    table = _os_lock.lock_table(fd)
    if table is not None:
        held = [exclusive for _, exclusive, blocked in table if not blocked]
        return (FREE if not held else EXCLUSIVE if any(held) else SHARED), ""
    try:
        if not _os_lock.lock(fd, exclusive=False):
            return EXCLUSIVE, ""
        try:
            if not _os_lock.lock(fd, exclusive=True):
                return SHARED, ""
        finally:
            _os_lock.unlock(fd)
    except OSError as error:
        return UNKNOWN, error.strerror or str(error)
    return FREE, ""
