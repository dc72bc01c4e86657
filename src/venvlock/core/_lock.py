"""The locks: an exclusive OS file lock, taken with waiting, a timeout, thread exclusion and nesting.

The lock is :class:`filelock.FileLock` (flock on Unix, LockFileEx on Windows).
:func:`hold` holds one lock file; around the OS lock it

* makes other threads of this process wait (:mod:`venvlock.core._nesting`),
  and lets a child process of a holder through (``VENVLOCK_HELD``);
* writes the holder file (:mod:`venvlock.core._holder`) so waiters can name
  the holder;
* reports waits now and then, and gives up after ``VENVLOCK_TIMEOUT``;
* refuses to run unlocked where the lock should be had
  (:class:`LockUnavailableError`): only a read-only environment (or a file
  system without locks) goes on unlocked, with a warning.

:func:`hold_environment` is *the environment lock*: first venvlock's own
*sync lock* (``<env>/.lock.sync``, taken by venvlock processes only), then
uv's ``<env>/.lock``, so uv, pip-locked, hatch and nox exclude each other.
While an installer that takes ``<env>/.lock`` itself runs (uv),
:meth:`LockHold.lend` releases uv's lock and keeps the sync lock: uv waits
for other holders of ``<env>/.lock`` with its own timeout, and venvlock
processes keep waiting for the sync lock, so no lock timeout of uv's is ever
changed (``UV_LOCK_TIMEOUT`` applies to uv's cache locks too).
"""

from __future__ import annotations

import errno
import os
import sys
import time
from contextlib import ExitStack, contextmanager

from venvlock.core import _nesting
from venvlock.core._environment import display_path
from venvlock.core._holder import Holder, describe_holder, read_holder, remove_holder, write_holder
from venvlock.errors import LockTimeoutError, LockUnavailableError

if sys.platform == "win32":
    from venvlock.core._windows import pid_alive
else:
    from venvlock.core._unix import pid_alive

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from filelock import BaseFileLock

    from venvlock.core._environment import Environment

#: environment variable with the lock timeout in seconds
TIMEOUT_VAR = "VENVLOCK_TIMEOUT"
DEFAULT_TIMEOUT = 300.0
#: seconds waited when the "still waiting" line is repeated; then every minute
REPORT_AT = (5.0, 15.0, 30.0, 60.0)
#: the suffix of venvlock's sync lock beside the environment lock
SYNC_SUFFIX = ".sync"

# errors that mean "this folder cannot be locked at all": a read-only environment, a file system without locks
_READ_ONLY_ERRNOS = {errno.EROFS, errno.ENOSYS, errno.ENOLCK}
# errors that mean "no permission": read-only only when the folder is not writable for this user
_PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM}


class LockHold:
    """What entering a lock gives: where it is and how it is held.

    :ivar path: the lock file.
    :ivar locked: False when the lock could not be taken at all (a read-only
        environment) and the caller goes on unlocked.
    :ivar nested: True when an ancestor process (or this thread, again) holds
        it and this entry proceeds under that hold.
    :ivar fd: the locked descriptor of the environment lock, None while lent or where unknown.
    :ivar fds: every locked descriptor of this hold (sync lock and environment lock), for
        handing to an installer child so it keeps them if this process is killed.
    :ivar waited: seconds spent waiting.
    """

    __slots__ = ("_lender", "fd", "fds", "locked", "nested", "path", "waited")

    def __init__(
        self,
        path: str,
        *,
        locked: bool,
        nested: bool = False,
        fd: int | None = None,
        fds: tuple[int, ...] | None = None,
        waited: float = 0.0,
    ) -> None:
        self.path = path
        self.locked = locked
        self.nested = nested
        self.fd = fd
        self.fds: tuple[int, ...] = fds if fds is not None else (() if fd is None else (fd,))
        self.waited = waited
        self._lender: Callable[[], Iterator[None]] | None = None

    @contextmanager
    def lend(self) -> Iterator[None]:
        """Let go of ``<env>/.lock`` while inside, for an installer that takes it itself (uv); take it back after.

        The sync lock stays held, so other venvlock processes keep waiting;
        uv waits for any other holder of ``<env>/.lock`` with its own timeout.
        Taking it back waits like entering (``VENVLOCK_TIMEOUT``).  Does
        nothing for a hold that has nothing to lend (nested, unlocked, or
        lent already).
        """
        lender, self._lender = self._lender, None
        if lender is None:
            yield
            return
        try:
            yield from lender()
        finally:
            self._lender = lender


def _format_seconds(value: float) -> str:
    return "forever" if value < 0 else f"{value:g}s"


def lock_timeout(default: float | None = None) -> float:
    """``VENVLOCK_TIMEOUT`` in seconds: 0 fails at once, negative waits forever; unset: *default* or 300."""
    from venvlock.core._settings import timeout

    return timeout(default)


def _timeout_error(
    environment: Environment, lock_path: str, holder: Holder | None, waited: float, timeout: float
) -> LockTimeoutError:
    message = (
        f"timed out after {waited:.0f}s waiting for lock on environment {environment.name} "
        f"(held by {describe_holder(holder)}; lock file {display_path(lock_path)}). "
        f"Set {TIMEOUT_VAR} to the seconds to wait (now {_format_seconds(timeout)}; "
        "a negative value waits forever)."
    )
    return LockTimeoutError(message, environment=environment, lock_path=lock_path, holder=holder, waited=waited)


def _warn(message: str) -> None:
    print(f"venvlock: warning: {message}", file=sys.stderr, flush=True)


def _read_only(folder: str, error: OSError) -> bool:
    """Whether *error* on a lock file in *folder* means the environment is read-only for this process."""
    if error.errno in _READ_ONLY_ERRNOS:
        return True
    if error.errno in _PERMISSION_ERRNOS:
        return not os.access(folder, os.W_OK)
    return False


def _unavailable(environment: Environment, lock_path: str, error: OSError) -> LockUnavailableError:
    if error.errno == errno.ELOOP or os.path.islink(lock_path):
        reason = "it is a symbolic link, which venvlock never follows; remove it"
    else:
        reason = error.strerror or str(error)
    message = (
        f"cannot lock environment {environment.name}: {reason} (lock file {display_path(lock_path)}); "
        "venvlock does not install into a writable environment without its lock"
    )
    return LockUnavailableError(error.errno or errno.EIO, message)


def unlockable(environment: Environment, lock_path: str, error: OSError, *, folder_made: bool) -> None:
    """Decide about a lock file that could not be locked: warn and return (go on unlocked), or raise.

    Going on unlocked is only for a read-only environment (or a file system
    without locks) and, where venvlock does not make the folder, a folder
    that is not there yet (nothing to protect); anything else (a symbolic link
    at the lock path, a file of another user in a writable folder) raises
    :class:`LockUnavailableError`.
    """
    folder = os.path.dirname(lock_path)
    if error.errno == errno.ENOENT and not folder_made:
        _warn(f"cannot lock environment {environment.name} (its folder {folder} does not exist); going on")
    elif _read_only(folder, error):
        _warn(
            f"cannot lock environment {environment.name} ({error.strerror}: {display_path(lock_path)}); "
            "a read-only environment: going on unlocked"
        )
    else:
        raise _unavailable(environment, lock_path, error) from error


@contextmanager
def hold(
    environment: Environment,
    lock_path: str,
    *,
    purpose: str,
    on_waiting: Callable[[Holder | None, float], None],
    on_acquired: Callable[[float], None],
    create_folder: bool = True,
    default_timeout: float | None = None,
) -> Iterator[LockHold]:
    """Hold the exclusive lock *lock_path* for *environment* while inside the ``with`` block.

    Tries at once; when busy calls *on_waiting* at once, again after the
    seconds in :data:`REPORT_AT`, then every minute, until ``VENVLOCK_TIMEOUT``
    runs out (:class:`LockTimeoutError`; with a timeout of 0 at once, without a
    waiting line).  Another thread of this process holding it counts as busy;
    this thread holding it already, or an ancestor process, lets the block
    run at once (``LockHold.nested``).  A lock file that cannot be locked
    raises :class:`LockUnavailableError`, except in a read-only environment,
    which is warned about and runs unlocked (``LockHold.locked`` False).

    *create_folder* makes the lock file's folder when missing (not for a
    venv's own folder: that is its creator's job; a missing venv folder is
    warned about and runs unlocked, as there is nothing to protect yet).
    *default_timeout* applies when ``VENVLOCK_TIMEOUT`` is unset.  A lock file
    replaced while this process waited (its folder deleted and made again)
    is locked anew, so two processes never hold "the" lock through two
    different files.
    """
    timeout = lock_timeout(default_timeout)
    start = time.monotonic()
    real = os.path.realpath(lock_path)

    thread_waited: list[bool] = []

    def thread_waiting() -> None:
        if timeout != 0:
            thread_waited.append(True)
            on_waiting(read_holder(lock_path), 0.0)

    def thread_timeout() -> BaseException:
        return _timeout_error(environment, lock_path, read_holder(lock_path), time.monotonic() - start, timeout)

    deadline = None if timeout < 0 else start + timeout
    with _nesting.claimed(real, deadline=deadline, on_waiting=thread_waiting, on_timeout=thread_timeout) as again:
        if _nesting.held_here(real, lock_path) if again else _nesting.held_by_ancestor(lock_path):
            yield LockHold(lock_path, locked=True, nested=True)
            return
        folder = os.path.dirname(lock_path)
        try:
            if create_folder:
                os.makedirs(folder, exist_ok=True)
            reported = bool(thread_waited)  # the waiting line was said already
            again = False  # whether an attempt was made: a folder missing after that went while we waited
            while True:
                try:
                    lock, descriptors, reported = _acquire(
                        environment, lock_path, timeout, start, on_waiting, reported, again=again, make=create_folder
                    )
                except _FolderGone as gone:
                    _wait_for_folder(environment, lock_path, gone.holder, timeout, start)
                    again = reported = True
                    continue
                if _still_at(lock_path, descriptors):
                    break
                lock.release(force=True)  # the file was replaced while we waited: lock the one at the path now
                again = True
        except OSError as error:
            if isinstance(error, LockTimeoutError):
                raise
            unlockable(environment, lock_path, error, folder_made=create_folder)  # raises unless read-only
            yield LockHold(lock_path, locked=False)
            return

        waited = time.monotonic() - start
        try:
            write_holder(lock_path, purpose)
            on_acquired(waited)
            fd = descriptors[-1] if descriptors else None
            with _nesting.marked_held(real, fd):
                yield LockHold(lock_path, locked=True, fd=fd, waited=waited)
        finally:
            remove_holder(lock_path)
            lock.release(force=True)


@contextmanager
def hold_environment(
    environment: Environment,
    lock_path: str,
    *,
    purpose: str,
    on_waiting: Callable[[str, Holder | None, float], None],
    on_acquired: Callable[[str, float], None],
    create_folder: bool,
) -> Iterator[LockHold]:
    """The environment lock: venvlock's sync lock ``<lock>.sync``, then *lock_path* (uv's), both held inside.

    The hold it gives can :meth:`~LockHold.lend` *lock_path* to an installer
    that takes it itself (uv) while the sync lock stays held.
    """
    sync_path = lock_path + SYNC_SUFFIX

    def enter(stack: ExitStack, path: str) -> LockHold:
        return stack.enter_context(
            hold(
                environment,
                path,
                purpose=purpose,
                on_waiting=lambda holder, waited: on_waiting(path, holder, waited),
                on_acquired=lambda waited: on_acquired(path, waited),
                create_folder=create_folder,
            )
        )

    with ExitStack() as outer:
        sync = enter(outer, sync_path)
        if not sync.locked:  # read-only environment (warned): the installer will find out
            yield LockHold(lock_path, locked=False, waited=sync.waited)
            return
        inner = ExitStack()
        outer.callback(inner.close)
        env = enter(inner, lock_path)
        result = LockHold(
            lock_path,
            locked=env.locked,
            nested=sync.nested and env.nested,
            fd=env.fd,
            fds=sync.fds + env.fds,
            waited=sync.waited + env.waited,
        )

        def lender() -> Iterator[None]:
            inner.close()
            result.fd, result.fds = None, sync.fds
            try:
                yield
            finally:
                again = enter(inner, lock_path)
                result.fd, result.fds = again.fd, sync.fds + again.fds

        if env.locked and not env.nested:
            result._lender = lender
        yield result


class _FolderGone(Exception):
    """The lock file's folder went while this process waited for the lock (*holder*: who held it then)."""

    def __init__(self, holder: Holder | None) -> None:
        super().__init__()
        self.holder = holder


#: seconds between a waiter's attempts: a released lock passes on within about this long.  Seven waiters taking
#: turns after a release (each holding it 10 ms) took 177 ms at filelock's default of 0.05 s, 155 ms at 0.02 s and
#: 132 ms at 0.01 s (medians of 5); an attempt costs filelock about 0.2 ms, so a waiter polls away about 1 % of a
#: core at 0.02 s and twice that at 0.01 s, which a hundred waiters on two cores would feel
POLL_INTERVAL = 0.02

#: seconds a lock's folder may stay missing, once its last holder has ended, before it counts as removed
FOLDER_GRACE = 1.0


def _wait_for_folder(
    environment: Environment, lock_path: str, holder: Holder | None, timeout: float, start: float
) -> None:
    """Wait for the folder of *lock_path*, which went while this process waited for the lock.

    A recreation (nox, hatch, tox: the folder deleted and made again) makes
    it again, under the lock of *holder*: wait while that process lives, then
    :data:`FOLDER_GRACE` seconds more, and return once the folder is back, to
    lock the file in it.  Never go on unlocked beside a recreation.  A folder
    still missing after that was removed: raise ``ENOENT``, handled as a
    folder that is not there (nothing left to protect).  The wait counts
    against ``VENVLOCK_TIMEOUT``.
    """
    folder = os.path.dirname(lock_path)
    grace_ends: float | None = None
    while not os.path.isdir(folder):
        now = time.monotonic()
        if 0 <= timeout <= now - start:
            raise _timeout_error(environment, lock_path, holder, now - start, timeout)
        if holder is None or not pid_alive(holder.pid):
            grace_ends = grace_ends if grace_ends is not None else now + FOLDER_GRACE
            if now >= grace_ends:
                raise FileNotFoundError(errno.ENOENT, "the environment's folder was removed while waiting", lock_path)
        time.sleep(0.02)


def _require_folder(folder: str, lock_path: str, make: bool) -> None:
    """Before an ``acquire`` call, which makes a missing folder: ``ENOENT`` instead, unless venvlock may *make* it.

    A folder removed between this look and filelock's start (microseconds, at
    the start of a wait and at each report) is still made by filelock; inside
    one ``acquire`` call, filelock raises ``ENOENT`` instead (handled as a
    folder gone while waiting).
    """
    if not make and not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, "the environment's folder does not exist", lock_path)


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
    *,
    again: bool = False,
    make: bool = True,
) -> tuple[BaseFileLock, list[int], bool]:
    """Acquire *lock_path*, reporting waits, until *timeout* seconds after *start*.

    Returns the lock, its descriptor (in a list, empty where unknown) and
    whether a wait has been reported (the first report says 0 s waited).
    Raises :class:`_FolderGone` when the folder of *lock_path* goes while
    waiting (or is missing on an attempt *again*).  *make* False: never let
    filelock make the folder (it makes a missing one at each ``acquire``
    call; a venv's folder is its creator's to make).
    """
    from filelock import FileLock, Timeout

    descriptors: list[int] = []
    try:
        lock = FileLock(lock_path, thread_local=False, fallback_to_soft=False, on_acquired=descriptors.append)
    except TypeError:  # a filelock without on_acquired: the installer cannot inherit the lock
        lock = FileLock(lock_path, thread_local=False)
    folder = os.path.dirname(lock_path)
    try:
        _require_folder(folder, lock_path, make)
        lock.acquire(blocking=False)
        return lock, descriptors, reported
    except Timeout:
        pass
    except FileNotFoundError:
        if not again:
            raise
        raise _FolderGone(None) from None
    holder = read_holder(lock_path)
    if timeout == 0:  # fail at once: no waiting line before the error
        raise _timeout_error(environment, lock_path, holder, time.monotonic() - start, timeout)
    named_by = time.monotonic() + 0.1
    while holder is None and time.monotonic() < named_by:  # a holder names itself just after it locks
        time.sleep(0.01)
        holder = read_holder(lock_path)
    on_waiting(holder, time.monotonic() - start if reported else 0.0)
    reports = iter(REPORT_AT)
    while True:
        waited = time.monotonic() - start
        if 0 <= timeout <= waited:
            raise _timeout_error(environment, lock_path, read_holder(lock_path) or holder, waited, timeout)
        next_report = next(reports, waited + 60.0)
        until = next_report if timeout < 0 else min(next_report, timeout)
        try:
            _require_folder(folder, lock_path, make)
            lock.acquire(timeout=max(until - waited, 0.0), poll_interval=POLL_INTERVAL)
            return lock, descriptors, True
        except FileNotFoundError:
            raise _FolderGone(holder) from None
        except Timeout:
            holder = read_holder(lock_path) or holder
            waited = time.monotonic() - start
            if timeout < 0 or waited < timeout:
                on_waiting(holder, waited)
