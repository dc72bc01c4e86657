"""The uv hand-off on Linux: a held ``<env>/.lock`` lent to a descendant process blocked on it (uv, by any route).

Started by :func:`venvlock.core._lock.hold_environment` for the environment lock
only; a process that only takes a creation lock (a nox or tox no-op) never loads it.
"""

from __future__ import annotations

import _thread
import os
import time

from venvlock.core import _unix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

#: seconds between two looks at ``/proc/locks`` for a descendant blocked on a held ``<env>/.lock``
LEND_POLL = 0.02


def lend_to_descendants(fd: int) -> Callable[[], None]:
    """Lend the exclusive lock on *fd* to a descendant process blocked on it, until the function returned is called.

    A thread looks at ``/proc/locks`` every :data:`LEND_POLL` seconds: a
    descendant blocked on the file (uv, started by any route) gets the lock.
    :data:`LEND_POLL` seconds after lending, the thread asks for the lock back
    with a blocking call, which the kernel queues behind the descendant's (and
    behind a waiter that blocked before it): blocked ``flock`` requests are
    granted in the order they blocked, so a process outside that blocks while
    the lock is lent gets it only after the hold let go, never while the hold's
    command goes on; one that blocked within those seconds (or before this
    thread ran again, on a loaded machine) is ahead of the call.  Asking at
    once could beat the blocked descendant to the lock, and it would wait for
    the hold.  Nobody waits for the thread to start or end, nor for its
    reads of ``/proc/locks`` (see ``_unix``); it (un)locks *fd* only under a
    guard that stopping takes, so never once the hold has let *fd* go (a lock
    its blocked call gets after that is let go at once, on its own duplicate).
    """
    guard, stopped = _thread.allocate_lock(), False

    def watch() -> None:
        me = os.getpid()
        while True:
            time.sleep(LEND_POLL)
            text = _unix.read_locks()
            with guard:
                if stopped:
                    return
                try:
                    if not text or not any(
                        blocked and pid != me and _unix.descends_from(pid, me)
                        for pid, _, blocked in _unix.lock_table(fd, text) or ()
                    ):
                        continue
                    _unix.unlock(fd)
                    again = os.dup(fd)  # the same open file: its lock is *fd*'s
                except OSError:
                    return
            time.sleep(LEND_POLL)  # the descendant takes it meanwhile
            if not _take_back(again):
                return

    def _take_back(again: int) -> bool:
        """Queue for the lock on *again* behind its holders and lock it; whether the hold goes on (not stopped)."""
        try:
            try:
                _unix.lock(again, exclusive=True, wait=True)
            except OSError:
                return False
            with guard:
                if stopped:  # the hold let go meanwhile: so does this call's lock
                    try:
                        _unix.unlock(again)
                    except OSError:
                        pass
                    return False
                return True
        finally:
            os.close(again)

    def stop() -> None:
        nonlocal stopped
        with guard:
            stopped = True

    _thread.start_new_thread(watch, ())
    return stop
