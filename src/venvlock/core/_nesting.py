"""Who in this process holds which lock, and what child processes are told about it.

Two rules:

* **Threads wait.**  An OS file lock belongs to the process, so another
  thread of the same process would get it "again" at once.  A process-wide
  registry (lock path -> owning thread) makes a second thread wait until the
  first releases; the owning thread itself may enter again (re-entrant).
* **Nesting is for descendant processes only.**  A process asking for a
  lock that is busy, whose holder file names a live ancestor, goes on under
  that hold (:func:`held_by_ancestor`; the process tree survives a tool that
  filters the environment, as tox does).  Where the OS does not tell
  ancestors, ``VENVLOCK_HELD`` in ``os.environ`` names the locks this process holds (``<pid> <real path>``
  lines, after those inherited from ancestors), so that a child that asks for
  one of them (the installer, a pre-install command) goes on under its
  ancestor's hold instead of deadlocking.  It is rewritten from the registry
  under a lock on every change, so two threads never overwrite each other's
  entries, and it names no lock after its release.  A child started by one
  thread sees the locks every thread of the process holds at that moment;
  :func:`child_environ` gives the view of the calling thread alone, for the
  children venvlock starts itself.
"""

from __future__ import annotations

import os
import sys
import time
from _thread import allocate_lock, get_ident
from contextlib import contextmanager

if sys.platform == "win32":
    from venvlock.core._windows import ancestors
else:
    from venvlock.core._unix import ancestors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from threading import Condition

    from venvlock.core._holder import Holder

#: environment variable that tells child processes which locks their ancestors hold
HELD_VAR = "VENVLOCK_HELD"

#: guards the registry and VENVLOCK_HELD; made on first use (``threading`` stays off the no-op path)
_guard: Condition | None = None
_creating = allocate_lock()
#: real lock path -> (owning thread id, entries by that thread)
_owners: dict[str, tuple[int, int]] = {}
#: real lock path -> (thread id, locked descriptor), for the locks this process holds now (VENVLOCK_HELD)
_held: dict[str, tuple[int, int | None]] = {}
#: VENVLOCK_HELD as this process inherited it (None: not yet read)
_inherited: list[str] | None = None


def _condition() -> Condition:
    global _guard
    if _guard is None:
        import threading

        with _creating:
            if _guard is None:
                _guard = threading.Condition(threading.RLock())
    return _guard


def _parse(value: str) -> list[tuple[int, str]]:
    entries = []
    for line in value.splitlines():
        pid, _, path = line.partition(" ")
        if pid.isdigit() and path:
            entries.append((int(pid), path))
    return entries


def _inherited_lines() -> list[str]:
    global _inherited
    if _inherited is None:
        own = os.getpid()
        _inherited = [f"{pid} {path}" for pid, path in _parse(os.environ.get(HELD_VAR, "")) if pid != own]
    return _inherited


def held_by_ancestor(lock_path: str, holder: Holder | None) -> bool:
    """Whether the busy *lock_path*, whose holder file names *holder*, is held by an ancestor of this process.

    The process tree says so where the OS tells it (``/proc``): the holder is
    a live ancestor, whatever environment the child was given (tox filters
    it).  Elsewhere ``VENVLOCK_HELD`` must name the lock and that holder.
    """
    if holder is None or not holder.alive or holder.pid == os.getpid():
        return False
    line = ancestors()
    if line is not None:
        return holder.pid in line
    real = os.path.realpath(lock_path)
    return any(pid == holder.pid and path == real for pid, path in _parse(os.environ.get(HELD_VAR, "")))


def _environ_value(paths: list[str]) -> str:
    own = os.getpid()
    return "\n".join([*_inherited_lines(), *(f"{own} {path}" for path in paths)])


def _publish() -> None:
    """Rewrite ``VENVLOCK_HELD`` from the registry (caller holds ``_condition``)."""
    value = _environ_value(list(_held))
    if value:
        os.environ[HELD_VAR] = value
    else:
        os.environ.pop(HELD_VAR, None)


def child_environ() -> dict[str, str]:
    """``os.environ`` for a child of the calling thread: ``VENVLOCK_HELD`` names only that thread's locks."""
    me = get_ident()
    with _condition():
        environ = dict(os.environ)
        value = _environ_value([path for path, (owner, _) in _held.items() if owner == me])
    if value:
        environ[HELD_VAR] = value
    else:
        environ.pop(HELD_VAR, None)
    return environ


@contextmanager
def claimed(
    real_path: str, *, deadline: float | None, on_waiting: Callable[[], None], on_timeout: Callable[[], BaseException]
) -> Iterator[bool]:
    """Own *real_path* in this process for the calling thread while inside; yields True when re-entered.

    Waits while another thread owns it (*on_waiting* once, then
    *on_timeout*'s error when *deadline*, a ``time.monotonic()`` value, passes;
    None waits forever).
    """
    me = get_ident()
    with _condition():
        owner = _owners.get(real_path)
        if owner is not None and owner[0] == me:
            _owners[real_path] = (me, owner[1] + 1)
            reentered = True
        else:
            if owner is not None:
                on_waiting()
            while real_path in _owners:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise on_timeout()
                _condition().wait(remaining if remaining is None else min(remaining, 60.0))
            _owners[real_path] = (me, 1)
            reentered = False
    try:
        yield reentered
    finally:
        with _condition():
            owner_id, count = _owners[real_path]
            if count > 1:
                _owners[real_path] = (owner_id, count - 1)
            else:
                del _owners[real_path]
                _condition().notify_all()


@contextmanager
def marked_held(real_path: str, fd: int | None) -> Iterator[None]:
    """Name *real_path* (locked through *fd*) in ``VENVLOCK_HELD`` while inside (the caller owns it)."""
    with _condition():
        _held[real_path] = (get_ident(), fd)
        _publish()
    try:
        yield
    finally:
        with _condition():
            _held.pop(real_path, None)
            _publish()


def held_here(real_path: str, lock_path: str) -> bool:
    """Whether this process holds *real_path* now, through the file that is at *lock_path* now."""
    with _condition():
        entry = _held.get(real_path)
    if entry is None:
        return False
    if entry[1] is None:
        return True
    try:
        return os.path.samestat(os.fstat(entry[1]), os.stat(lock_path, follow_symlinks=False))
    except OSError:
        return False
