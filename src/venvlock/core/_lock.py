"""The environment and creation locks: an exclusive OS file lock, waiting, timeout, nesting.

The lock is :class:`filelock.FileLock` (flock on Unix, LockFileEx on Windows)
on the same file uv uses, so the two exclude each other.  Around it:

* a *holder file* (``<lock>.holder``) saying who holds the lock, written
  atomically after acquiring and removed before releasing, so that waiters
  can name the holder;
* the *nesting marker* ``VENVLOCK_HELD`` in ``os.environ`` while held, so a
  child process (the installer, a pre-install command) that asks for the same
  lock proceeds instead of deadlocking; it is removed on release, so no
  command started after release sees it;
* waiting with a line on stderr, repeated now and then, and a timeout from
  ``VENVLOCK_TIMEOUT``.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from contextlib import contextmanager

from venvlock.core._environment import display_path
from venvlock.errors import LockTimeoutError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from filelock import BaseFileLock

    from venvlock.core._environment import Environment

if sys.platform == "win32":
    from venvlock.core._windows import pid_alive
else:
    from venvlock.core._unix import pid_alive

#: environment variable that tells child processes which locks their ancestors hold
HELD_VAR = "VENVLOCK_HELD"
#: environment variable with the lock timeout in seconds
TIMEOUT_VAR = "VENVLOCK_TIMEOUT"
DEFAULT_TIMEOUT = 300.0
#: seconds waited when the "still waiting" line is repeated; then every minute
REPORT_AT = (5.0, 15.0, 30.0, 60.0)

# errors that mean "this lock file cannot be had here", not "someone holds it"
_UNLOCKABLE_ERRNOS = {
    errno.EACCES, errno.EPERM, errno.EROFS, errno.ELOOP, errno.ENOSYS, errno.ENOTDIR, errno.ENOENT,
}  # fmt: skip


def _timeout_error(environment: Environment, lock_path: str, holder: Holder | None, waited: float) -> LockTimeoutError:
    message = (
        f"timed out after {waited:.0f}s waiting for lock on environment {environment.name} "
        f"(held by {describe_holder(holder)}; lock file {display_path(lock_path)}). "
        f"Set {TIMEOUT_VAR} to the seconds to wait (now {_format_seconds(lock_timeout())}; "
        "a negative value waits forever)."
    )
    return LockTimeoutError(message, environment=environment, lock_path=lock_path, holder=holder, waited=waited)


class Holder:
    """Who holds a lock, as its holder file says."""

    __slots__ = ("alive", "command", "pid")

    def __init__(self, pid: int, command: str, alive: bool) -> None:
        self.pid = pid
        self.command = command
        self.alive = alive

    def __repr__(self) -> str:
        return f"Holder(pid={self.pid}, command={self.command!r}, alive={self.alive})"


class LockHold:
    """What entering a lock gives: where it is and how it is held.

    :ivar path: the lock file.
    :ivar locked: False when the lock could not be taken at all (read-only
        environment, a symlink at the lock path) and the caller goes on unlocked.
    :ivar nested: True when an ancestor process holds it and this process
        proceeds under that hold.
    :ivar fd: the locked descriptor, for handing to an installer child so it
        keeps the lock if this process is killed (None where not available).
    :ivar waited: seconds spent waiting.
    """

    __slots__ = ("fd", "locked", "nested", "path", "waited")

    def __init__(
        self, path: str, *, locked: bool, nested: bool = False, fd: int | None = None, waited: float = 0.0
    ) -> None:
        self.path = path
        self.locked = locked
        self.nested = nested
        self.fd = fd
        self.waited = waited


def describe_holder(holder: Holder | None) -> str:
    """The holder as the waiting line names it."""
    if holder is None:
        return "another process (uv, or one that did not say who it is)"
    if holder.alive:
        return f"pid {holder.pid}: {holder.command}"
    return f"a child of pid {holder.pid}, which has exited: {holder.command}"


def _format_seconds(value: float) -> str:
    return "forever" if value < 0 else f"{value:g}s"


def lock_timeout(default: float | None = None) -> float:
    """``VENVLOCK_TIMEOUT`` in seconds: 0 fails at once, negative waits forever; unset: *default* or 300."""
    from venvlock.core._settings import timeout

    return timeout(default)


def default_purpose() -> str:
    """This process's command line, as holders describe themselves by default."""
    argv = list(sys.argv) or [sys.executable]
    argv[0] = os.path.basename(argv[0]) or argv[0]
    return " ".join(argv)


# --------------------------------------------------------------------------------------------------
# holder file and nesting marker
# --------------------------------------------------------------------------------------------------
def holder_path(lock_path: str) -> str:
    return lock_path + ".holder"


def read_holder(lock_path: str) -> Holder | None:
    """Who holds *lock_path*, from its holder file; None when unknown."""
    try:
        with open(holder_path(lock_path), encoding="utf-8", errors="replace") as file:
            pid_line, _, command = file.read().partition("\n")
        pid = int(pid_line)
    except (OSError, ValueError):
        return None
    return Holder(pid, command.strip(), pid_alive(pid))


def _write_holder(lock_path: str, purpose: str) -> None:
    target = holder_path(lock_path)
    temporary = f"{target}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(f"{os.getpid()}\n{purpose}\n")
        os.replace(temporary, target)
    except OSError:  # naming the holder is a courtesy; never fail a sync over it
        _remove(temporary)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _held_entries() -> list[tuple[int, str]]:
    entries = []
    for line in os.environ.get(HELD_VAR, "").splitlines():
        pid, _, path = line.partition(" ")
        if pid.isdigit() and path:
            entries.append((int(pid), path))
    return entries


def held_by_ancestor(lock_path: str) -> bool:
    """Whether this process runs under a hold of *lock_path* by itself or an ancestor.

    True when ``VENVLOCK_HELD`` names the lock and the holder file confirms
    that the named process holds it now.
    """
    real = os.path.realpath(lock_path)
    for pid, path in _held_entries():
        if path == real:
            holder = read_holder(lock_path)
            return holder is not None and holder.pid == pid and holder.alive
    return False


@contextmanager
def _marked_held(lock_path: str, extra: dict[str, str]) -> Iterator[None]:
    """Name *lock_path* in ``VENVLOCK_HELD`` (and set *extra*) while inside; restore the old values after."""
    line = f"{os.getpid()} {os.path.realpath(lock_path)}"
    previous_held = os.environ.get(HELD_VAR)
    changes = {HELD_VAR: f"{previous_held}\n{line}" if previous_held else line, **extra}
    previous = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --------------------------------------------------------------------------------------------------
# the lock itself
# --------------------------------------------------------------------------------------------------
def _warn(message: str) -> None:
    print(f"venvlock: warning: {message}", file=sys.stderr, flush=True)


@contextmanager
def hold(
    environment: Environment,
    lock_path: str,
    *,
    purpose: str,
    on_waiting: Callable[[Holder | None, float], None],
    on_acquired: Callable[[float], None],
    child_environ: dict[str, str] | None = None,
    create_folder: bool = True,
    default_timeout: float | None = None,
) -> Iterator[LockHold]:
    """Hold the exclusive lock *lock_path* for *environment* while inside the ``with`` block.

    Tries at once; when busy calls *on_waiting* at once, again after the
    seconds in :data:`REPORT_AT`, then every minute, until ``VENVLOCK_TIMEOUT`` runs out
    (:class:`LockTimeoutError`).  A lock file that cannot be created is warned
    about and the block runs unlocked (``LockHold.locked`` False).  While held,
    ``os.environ`` names the lock in ``VENVLOCK_HELD`` and carries
    *child_environ*, for the child processes started inside the block.

    *create_folder* makes the lock file's folder when missing (not for a
    venv's own folder: that is its creator's job).  *default_timeout* applies
    when ``VENVLOCK_TIMEOUT`` is unset.  A lock file replaced while this
    process waited (its folder deleted and made again) is locked anew, so two
    processes never hold "the" lock through two different files.
    """
    if held_by_ancestor(lock_path):
        yield LockHold(lock_path, locked=True, nested=True)
        return
    timeout = lock_timeout(default_timeout)
    start = time.monotonic()
    try:
        if create_folder:
            os.makedirs(os.path.dirname(lock_path), exist_ok=True)
        elif not os.path.isdir(os.path.dirname(lock_path)):  # filelock would make it
            raise FileNotFoundError(errno.ENOENT, "the environment's folder does not exist", lock_path)
        reported = False
        while True:
            lock, descriptors, reported = _acquire(environment, lock_path, timeout, start, on_waiting, reported)
            if _still_at(lock_path, descriptors):
                break
            lock.release(force=True)  # the file was replaced while we waited: lock the one at the path now
    except OSError as error:
        if error.errno not in _UNLOCKABLE_ERRNOS:
            raise
        reason = "it is a symbolic link, not followed" if error.errno == errno.ELOOP else error.strerror
        _warn(f"cannot lock environment {environment.name} ({reason}: {lock_path}); going on unlocked")
        yield LockHold(lock_path, locked=False)
        return

    waited = time.monotonic() - start
    try:
        _write_holder(lock_path, purpose)
        on_acquired(waited)
        fd = descriptors[-1] if descriptors else None
        with _marked_held(lock_path, child_environ or {}):
            yield LockHold(lock_path, locked=True, fd=fd, waited=waited)
    finally:
        _remove(holder_path(lock_path))
        lock.release(force=True)


def _still_at(lock_path: str, descriptors: list[int]) -> bool:
    """Whether the locked descriptor is still the file at *lock_path*."""
    if not descriptors:
        return True
    try:
        return os.path.samestat(os.fstat(descriptors[-1]), os.stat(lock_path, follow_symlinks=False))
    except OSError:
        return False


def _acquire(
    environment: Environment,
    lock_path: str,
    timeout: float,
    start: float,
    on_waiting: Callable[[Holder | None, float], None],
    reported: bool,
) -> tuple[BaseFileLock, list[int], bool]:
    """Acquire *lock_path*, reporting waits, until *timeout* seconds after *start*.

    Returns the lock, its descriptor (in a list, empty where unknown) and
    whether a wait has been reported (the first report says 0 s waited).
    """
    from filelock import FileLock, Timeout

    descriptors: list[int] = []
    try:
        lock = FileLock(lock_path, thread_local=False, fallback_to_soft=False, on_acquired=descriptors.append)
    except TypeError:  # a filelock without on_acquired: the installer cannot inherit the lock
        lock = FileLock(lock_path, thread_local=False)
    try:
        lock.acquire(blocking=False)
        return lock, descriptors, reported
    except Timeout:
        pass
    holder = read_holder(lock_path)
    named_by = time.monotonic() + 0.1
    while holder is None and time.monotonic() < named_by:  # a holder names itself just after it locks
        time.sleep(0.01)
        holder = read_holder(lock_path)
    on_waiting(holder, time.monotonic() - start if reported else 0.0)
    reports = iter(REPORT_AT)
    while True:
        waited = time.monotonic() - start
        if 0 <= timeout <= waited:
            raise _timeout_error(environment, lock_path, read_holder(lock_path) or holder, waited)
        next_report = next(reports, waited + 60.0)
        until = next_report if timeout < 0 else min(next_report, timeout)
        try:
            lock.acquire(timeout=max(until - waited, 0.0))
            return lock, descriptors, True
        except Timeout:
            holder = read_holder(lock_path) or holder
            waited = time.monotonic() - start
            if timeout < 0 or waited < timeout:
                on_waiting(holder, waited)
