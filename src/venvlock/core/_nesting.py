"""Who in this process holds which lock, and what child processes are told about it.

* **Threads wait.**  An OS file lock belongs to the process, so another
  thread would get it "again" at once: a registry (lock path -> owning
  thread) makes it wait; the owning thread itself may enter again.
* **Nesting is for descendant processes only.**  A process asking for a busy
  lock whose holder file names a live ancestor goes on under that hold (the
  process tree survives a tool that filters the environment, as tox does).
  Where the OS does not tell ancestors, ``VENVLOCK_HELD`` (``<pid> <real
  path>`` lines: those inherited, then this process's) names the locks held,
  rewritten from the registry on every change; :func:`child_environ` gives
  the calling thread's view, for the children venvlock starts itself.
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
    from collections.abc import Callable, Iterator, MutableMapping
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
#: threads whose lock waits end with KeyboardInterrupt (:func:`interrupt_waits`)
_interrupted: set[int] = set()


def _condition() -> Condition:
    global _guard
    if _guard is None:
        import threading

        with _creating:
            if _guard is None:
                _guard = threading.Condition(threading.RLock())
    return _guard


def interrupt_waits(thread: int, *, interrupted: bool = True) -> None:
    """End the lock waits of *thread* (a ``threading.get_ident()``) with KeyboardInterrupt, until called with False.

    For a tool that runs environments in worker threads and gets Ctrl-C in its
    main thread only (tox): a waiting thread ends within a second, where a
    main thread's wait ends at the signal.
    """
    with _condition():
        if interrupted:
            _interrupted.add(thread)
            _condition().notify_all()
        else:
            _interrupted.discard(thread)


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt in a thread whose lock waits were interrupted (:func:`interrupt_waits`)."""
    if _interrupted and get_ident() in _interrupted:
        raise KeyboardInterrupt


def _parse(value: str) -> list[tuple[int, str]]:
    lines = (line.partition(" ") for line in value.splitlines())
    return [(int(pid), path) for pid, _, path in lines if pid.isdigit() and path]


def held_by_ancestor(lock_path: str, holder: Holder | None) -> bool:
    """Whether the busy *lock_path*, whose holder file names *holder*, is held by an ancestor of this process.

    The process tree says so where the OS tells it; elsewhere ``VENVLOCK_HELD`` must name the lock and that holder.
    """
    if holder is None or not holder.alive or holder.pid == os.getpid():
        return False
    line = ancestors()
    if line is not None:
        return holder.pid in line
    real = os.path.realpath(lock_path)
    return (holder.pid, real) in _parse(os.environ.get(HELD_VAR, ""))


def _set_held(environ: MutableMapping[str, str], paths: list[str]) -> None:
    """Name *paths* (after the inherited entries) in *environ*'s ``VENVLOCK_HELD``; none left: no variable."""
    own = os.getpid()
    inherited = [f"{pid} {path}" for pid, path in _parse(os.environ.get(HELD_VAR, "")) if pid != own]
    value = "\n".join([*inherited, *(f"{own} {path}" for path in paths)])
    if value:
        environ[HELD_VAR] = value
    else:
        environ.pop(HELD_VAR, None)


def child_environ() -> dict[str, str]:
    """``os.environ`` for a child of the calling thread: ``VENVLOCK_HELD`` names only that thread's locks."""
    me = get_ident()
    with _condition():
        environ = dict(os.environ)
        _set_held(environ, [path for path, (owner, _) in _held.items() if owner == me])
    return environ


@contextmanager
def claimed(
    real_path: str, *, deadline: float | None, on_waiting: Callable[[], None], on_timeout: Callable[[], BaseException]
) -> Iterator[bool]:
    """Own *real_path* for the calling thread while inside; yields True when re-entered.

    Waits while another thread owns it (*on_waiting* once, then *on_timeout*'s
    error when *deadline*, a ``time.monotonic()`` value, passes; None: never).
    """
    me = get_ident()
    with _condition():
        owner, count = _owners.get(real_path, (me, 0))
        if owner != me:
            on_waiting()
            while real_path in _owners:
                stop_if_interrupted()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise on_timeout()
                _condition().wait(None if remaining is None else min(remaining, 60.0))
            count = 0
        _owners[real_path] = (me, count + 1)
    try:
        yield count > 0
    finally:
        with _condition():
            owner, count = _owners[real_path]
            if count > 1:
                _owners[real_path] = (owner, count - 1)
            else:
                del _owners[real_path]
                _condition().notify_all()


@contextmanager
def marked_held(real_path: str, fd: int | None) -> Iterator[None]:
    """Name *real_path* (locked through *fd*) in ``VENVLOCK_HELD`` while inside (the caller owns it)."""
    with _condition():
        _held[real_path] = (get_ident(), fd)
        _set_held(os.environ, list(_held))
    try:
        yield
    finally:
        with _condition():
            _held.pop(real_path, None)
            _set_held(os.environ, list(_held))


def held_here(real_path: str, lock_path: str) -> bool:
    """Whether this process holds *real_path* now, through the file that is at *lock_path* now."""
    with _condition():
        entry = _held.get(real_path)
    if entry is None or entry[1] is None:
        return entry is not None
    try:
        return os.path.samestat(os.fstat(entry[1]), os.stat(lock_path, follow_symlinks=False))
    except OSError:
        return False
