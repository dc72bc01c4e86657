"""The lock: one OS file lock, held exclusive or shared, with waiting, a timeout, thread exclusion and nesting.

:func:`hold` is the one primitive (uv's ``LockedFile::acquire(path, mode,
resource)`` is the model); the OS calls are in the platform halves
:mod:`._unix` and :mod:`._windows`.  A waiter waits in the kernel (a
blocking lock call in a thread) while the calling thread reports, times out
and takes Ctrl-C.  Other threads of this process wait
(:mod:`._nesting`); a descendant of the holder goes on under its hold.
:func:`hold_environment` is *the environment lock*.
"""

from __future__ import annotations

import _thread
import errno
import os
import sys
import time
from contextlib import ExitStack, contextmanager

from venvlock.core import _nesting
from venvlock.core._environment import display_path
from venvlock.core._holder import (
    Holder,
    describe_busy,
    holder_path,
    read_holder,
    remove_holder,
    remove_stale_shared_holders,
    shared_holder_path,
    shared_holders,
    write_holder,
)
from venvlock.core._settings import TIMEOUT_VAR, UNLOCKED_VAR, format_timeout, timeout, unlocked
from venvlock.errors import LockTimeoutError, LockUnavailableError

if sys.platform == "win32":
    from venvlock.core import _windows as _os_lock
else:
    from venvlock.core import _unix as _os_lock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from venvlock.core._environment import Environment

    _OnWaiting = Callable[[Holder | None, float], None]

#: the two modes of :func:`hold`
EXCLUSIVE, SHARED = "exclusive", "shared"
#: seconds waited when the "still waiting" line is repeated; then every minute
REPORT_AT = (5.0, 15.0, 30.0, 60.0)
#: seconds between a waiter's looks for a lock file's folder that went missing while it waited
POLL_INTERVAL = 0.02
#: seconds between a waiter's looks at its lock file's folder while the kernel waits for the lock (a look, the
#: timed wait included, costs about 0.1 ms of CPU: 0.25 s cost a waiter 4.5 ms per 10 s, 1 s costs 1 ms)
FOLDER_CHECK = 1.0
#: seconds a lock's folder may stay missing, once its last holder has ended, before it counts as removed
FOLDER_GRACE = 1.0
#: seconds a waiter gives a busy lock's holder to name itself (it does just after it locks)
NAMING_GRACE = 0.1

# errors that mean "this folder cannot be locked at all": a read-only environment, a file system without locks
_NO_LOCKS = {
    errno.EROFS: "the file system is read-only",
    errno.ENOSYS: "the file system does not support locks (Lustre mounted without -o flock?)",
    errno.ENOLCK: "the file system gives no locks (NFS without a lock manager?)",
    errno.EBADF: "the file system refused the lock on this descriptor (NFS and a lock file not open for writing?)",
    errno.EOPNOTSUPP: "the file system does not support locks",
}
# errors about the lock path itself that waiting will not cure (exit 1, not 75)
_PERMANENT = {errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR}


class LockHold:
    """What entering a lock gives.

    :ivar locked: False when no lock could be had (a read-only environment): the caller goes on unlocked.
    :ivar nested: True when an ancestor process (or this thread, again) holds it: this entry goes on under that hold.
    :ivar fd: the locked descriptor (of ``<env>/.lock`` for the environment lock); None while lent or where unknown.
    :ivar fds: every locked descriptor of the hold, for an installer child to keep if this process is killed.
    :ivar waited: seconds spent waiting.
    """

    __slots__ = ("_lender", "_purpose", "fd", "fds", "locked", "mode", "nested", "path", "waited")

    def __init__(
        self,
        path: str,
        *,
        locked: bool,
        nested: bool = False,
        fd: int | None = None,
        fds: tuple[int, ...] | None = None,
        waited: float = 0.0,
        mode: str = EXCLUSIVE,
    ) -> None:
        self.path, self.mode, self.locked, self.nested, self.fd, self.waited = path, mode, locked, nested, fd, waited
        self.fds: tuple[int, ...] = fds if fds is not None else (() if fd is None else (fd,))
        self._lender: Callable[[], Iterator[None]] | None = None
        self._purpose: str | None = None  # what the holder file says, for a hold of :func:`hold` that holds it

    @property
    def holder_file(self) -> str:
        return holder_path(self.path) if self.mode == EXCLUSIVE else shared_holder_path(self.path)

    def downgrade(self) -> None:
        """Hold shared from now on, in one lock call (an exclusive waiter never gets in between: see ``_unix``).

        For a hold of :func:`hold`; the holder file becomes a shared holder's.
        """
        exclusive_file, self.mode = self.holder_file, SHARED
        if self.fd is not None and self._purpose is not None and exclusive_file != self.holder_file:
            _os_lock.downgrade(self.fd)
            write_holder(self.holder_file, self._purpose)
            remove_holder(exclusive_file)

    @contextmanager
    def lend(self) -> Iterator[None]:
        """Let go of ``<env>/.lock`` while inside, for an installer that takes it itself (uv); take it back after.

        Taking it back waits like entering.  Does nothing for a hold with
        nothing to lend (nested, unlocked, or lent already).
        """
        lender, self._lender = self._lender, None
        if lender is None:
            yield
            return
        try:
            yield from lender()
        finally:
            self._lender = lender


class _Wait:
    """The one wait's state: what it said, and when it reports again or gives up."""

    def __init__(self, environment: Environment, lock_path: str, seconds: float, on_waiting: _OnWaiting) -> None:
        self.environment, self.lock_path, self.timeout, self.on_waiting = environment, lock_path, seconds, on_waiting
        self.start = time.monotonic()
        self.shown_path: str | None = None
        self.holder: Holder | None = None
        self.reported = False
        self._who: str | None = None
        self._reports = iter(REPORT_AT)
        self._next_report = 0.0

    def waited(self) -> float:
        return time.monotonic() - self.start

    def due(self) -> float:
        """Seconds until the next waiting line or the timeout."""
        until = self._next_report if self.timeout < 0 else min(self._next_report, self.timeout)
        return max(until - self.waited(), 0.0)

    def first_holder(self) -> Holder | None:
        """Who holds the busy lock, giving a holder that has just locked :data:`NAMING_GRACE` to name itself."""
        holder = read_holder(self.lock_path)
        named_by = time.monotonic() + NAMING_GRACE
        while holder is None and time.monotonic() < named_by:
            time.sleep(0.01)
            holder = read_holder(self.lock_path)
        return holder

    def busy(self, holder: Holder | None = None) -> None:
        """Still busy: report at once, then when due; raise :class:`LockTimeoutError` when the time is up.

        Raises KeyboardInterrupt in a thread whose waits were interrupted (:func:`_nesting.interrupt_waits`).
        """
        _nesting.stop_if_interrupted()
        waited = self.waited()
        if not self.reported:
            if self.timeout == 0:  # fail at once: no waiting line before the error
                self.holder = holder if holder is not None else read_holder(self.lock_path)
                raise self.error()
            self.report(holder if holder is not None else self.first_holder(), 0.0)
        elif 0 <= self.timeout <= waited:
            raise self.error()
        elif waited >= self._next_report:
            self.report(read_holder(self.lock_path) or self.holder, waited)

    def report(self, holder: Holder | None, waited: float) -> None:
        self.holder, self._who = holder, describe_busy(self.lock_path, holder)
        if self.timeout < 0 or waited < self.timeout or not self.reported:
            self.on_waiting(holder, waited)
        self.reported = True
        self._next_report = next(self._reports, waited + 60.0)

    def thread_waiting(self) -> None:
        """Another thread of this process holds the lock: the first waiting line (none when failing at once)."""
        if self.timeout != 0:
            self.report(read_holder(self.lock_path), 0.0)

    def error(self) -> LockTimeoutError:
        """The timeout, naming the holder the last waiting line named."""
        who = self._who if self._who is not None else describe_busy(self.lock_path, self.holder)
        waited = self.waited()
        message = (
            f"timed out after {waited:.0f}s waiting for lock on environment {self.environment.name} "
            f"(held by {who}; lock file {display_path(self.shown_path or self.lock_path)}). "
            f"Set {TIMEOUT_VAR} to the seconds to wait (now {format_timeout(self.timeout)}; "
            "a negative value waits forever)."
        )
        return LockTimeoutError(
            message, environment=self.environment, lock_path=self.lock_path, holder=self.holder, waited=waited
        )


def _warn(message: str) -> None:
    print(f"venvlock: warning: {message}", file=sys.stderr, flush=True)


def _cause(error: OSError) -> str:
    """*error*'s errno name and what it means."""
    return f"{errno.errorcode.get(error.errno or 0, 'error')}: {error.strerror or os.strerror(error.errno or 0)}"


def unlockable(environment: Environment, lock_path: str, error: OSError, *, folder_made: bool) -> None:
    """Decide about a lock file that could not be locked: warn and return (go on unlocked), or raise.

    Going on unlocked is only for a read-only environment or a file system
    whose locks fail (``VENVLOCK_UNLOCKED=fail`` raises instead) and, where
    venvlock does not make the folder, a folder not there yet (nothing to
    protect).  Anything else (a symbolic link or a FIFO at the lock path, a
    file of another user in a writable folder, a name too long) raises
    :class:`LockUnavailableError`, not temporary where waiting will not help.
    """
    import stat

    folder, name = os.path.dirname(lock_path), environment.name
    if error.errno == errno.ENOENT and not folder_made and not os.path.isdir(folder):
        _warn(f"cannot lock environment {name} (its folder {folder} does not exist); going on")
        return
    meaning = _NO_LOCKS.get(error.errno or 0)
    if meaning is None and error.errno in (errno.EACCES, errno.EPERM) and not os.access(folder, os.W_OK):
        meaning = "this user may not write the environment (a read-only environment)"
    cause = f"cannot lock environment {name} ({_cause(error)} on {display_path(lock_path)}): {meaning};"
    if meaning is not None and unlocked() == "fail":
        raise LockUnavailableError(error.errno or errno.EIO, f"{cause} stopping, as {UNLOCKED_VAR}=fail asks")
    if meaning is not None:
        _warn(
            f"{cause} going on unlocked, so concurrent installs are not kept apart "
            f"(set {UNLOCKED_VAR}=fail to stop instead)"
        )
        return
    temporary = error.errno not in _PERMANENT
    try:
        mode = os.stat(lock_path, follow_symlinks=False).st_mode
    except OSError:
        mode = stat.S_IFREG
    if error.errno == errno.ELOOP or stat.S_ISLNK(mode):  # it stays until someone removes it: not "retry later"
        reason, temporary = "it is a symbolic link, which venvlock never follows; remove it", False
    elif not stat.S_ISREG(mode):
        reason, temporary = f"it is {_os_lock.describe_mode(mode)}, not a lock file; remove it", False
    elif error.errno == errno.ENAMETOOLONG:
        reason = "its name is too long for the file system; use a shorter environment name"
    else:
        reason = _cause(error)
    failure = LockUnavailableError(
        error.errno or errno.EIO,
        f"cannot lock environment {name}: {reason} (lock file {display_path(lock_path)}); "
        "venvlock does not work on a writable environment without its lock",
    )
    failure.temporary = temporary
    raise failure from error


class _Nested(Exception):
    """The busy lock is held by an ancestor of this process: go on under its hold."""


@contextmanager
def hold(
    environment: Environment,
    lock_path: str,
    *,
    purpose: str,
    on_waiting: _OnWaiting,
    on_acquired: Callable[[float], None] | None = None,
    mode: str = EXCLUSIVE,
    create_folder: bool = True,
    default_timeout: float | None = None,
    shown_path: str | None = None,
) -> Iterator[LockHold]:
    """Hold *lock_path* for *environment* in *mode* (:data:`EXCLUSIVE` or :data:`SHARED`) inside the ``with`` block.

    When busy, calls *on_waiting* at once, after the seconds in
    :data:`REPORT_AT`, then every minute, until ``VENVLOCK_TIMEOUT`` (else
    *default_timeout*, else 300 s) runs out (:class:`LockTimeoutError`).
    Held by this thread or an ancestor process: the block runs at once
    (``nested``).  *shown_path*: the lock file messages name (``<env>/.lock``
    for its sync lock).  *create_folder*: make the lock file's folder (not a
    venv's own: its creator's job).  The holder names itself in
    ``<lock>.holder`` (``<lock>.holder.<pid>`` when shared) until it releases.
    """
    unlocked()  # a bad VENVLOCK_UNLOCKED is an error before any lock is taken, not only where one fails
    wait = _Wait(environment, lock_path, timeout(default_timeout), on_waiting)
    wait.shown_path = shown_path
    real = os.path.realpath(lock_path)
    deadline = None if wait.timeout < 0 else wait.start + wait.timeout
    with _nesting.claimed(real, deadline=deadline, on_waiting=wait.thread_waiting, on_timeout=wait.error) as again:
        try:
            if again and _nesting.held_here(real, lock_path):
                raise _Nested
            if create_folder:
                os.makedirs(os.path.dirname(lock_path), exist_ok=True)
            fd = _acquire(lock_path, mode == EXCLUSIVE, wait)
        except _Nested:
            yield LockHold(lock_path, locked=True, nested=True, mode=mode)
            return
        except LockTimeoutError:
            raise
        except OSError as error:
            unlockable(environment, lock_path, error, folder_made=create_folder)  # raises unless it may go on
            yield LockHold(lock_path, locked=False, mode=mode)
            return
        held = LockHold(lock_path, locked=True, fd=fd, waited=wait.waited(), mode=mode)
        held._purpose = purpose
        try:
            if mode == EXCLUSIVE:
                remove_stale_shared_holders(lock_path)
            write_holder(held.holder_file, purpose)
            if on_acquired is not None:
                on_acquired(held.waited)
            with _nesting.marked_held(real, fd):
                yield held
        finally:
            remove_holder(held.holder_file)
            _release(fd)


def _release(fd: int) -> None:
    try:
        _os_lock.unlock(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _folder_id(folder: str) -> tuple[int, int] | None:
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _same_file(fd: int, lock_path: str) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(lock_path, follow_symlinks=False))
    except OSError:
        return False


class _Blocker:
    """A thread waiting in the kernel for the lock of a descriptor, on a duplicate (same open file): no CPU.

    Nobody waits for it to start.  After :meth:`cancel`, a lock the thread
    gets is let go at once; a lock call still blocked ends with the process.
    """

    def __init__(self, fd: int, exclusive: bool) -> None:
        self._fd, self._guard, self._running = os.dup(fd), _thread.allocate_lock(), _thread.allocate_lock()
        self._running.acquire()  # released when the lock call has returned
        self._cancelled = self.locked = False
        self.error: OSError | None = None
        _thread.start_new_thread(self._run, (exclusive,))

    def _run(self, exclusive: bool) -> None:
        try:
            _os_lock.lock(self._fd, exclusive=exclusive, wait=True)
            with self._guard:
                if self._cancelled:
                    _os_lock.unlock(self._fd)
                self.locked = not self._cancelled
        except OSError as error:
            self.error = error
        finally:
            os.close(self._fd)
            self._running.release()

    def wait(self, seconds: float) -> bool:
        """Whether the lock was taken within *seconds* (raises the lock call's error)."""
        if self._running.acquire(timeout=seconds):
            self._running.release()
            if self.error is not None:
                raise self.error
        return self.locked

    def cancel(self) -> None:
        with self._guard:
            self._cancelled = True


def _acquire(lock_path: str, exclusive: bool, wait: _Wait) -> int:
    """A descriptor of *lock_path* locked in the mode asked, after waiting (reporting) while it is busy.

    The kernel waits (:class:`_Blocker`); this thread reports, times out,
    takes Ctrl-C and looks every :data:`FOLDER_CHECK` seconds whether the
    folder was made anew.  The descriptor opened first is kept, so the lock
    file is made again only in a new folder or once its holder let go (never
    in a folder its holder is removing), and a file replaced meanwhile is
    locked anew: two processes never hold "the" lock through two files.
    """
    folder = os.path.dirname(lock_path) or "."
    fd: int | None = None
    blocker: _Blocker | None = None
    folder_id: tuple[int, int] | None = None
    gone_since: float | None = None
    try:
        while True:
            if fd is None:
                try:
                    fd = _os_lock.open_lock(lock_path, create=True)
                    folder_id, gone_since = _folder_id(folder), None
                except FileNotFoundError:
                    if not wait.reported:
                        raise
                    gone_since = _folder_missing(wait, gone_since)
                    time.sleep(POLL_INTERVAL)
                    continue
            if blocker is not None:
                wait.busy()
                locked = blocker.wait(min(FOLDER_CHECK, wait.due()))
                if not locked and exclusive and read_holder(lock_path) is None and _readers_are_ancestors(lock_path):
                    raise _Nested  # the other readers have gone: only ancestors are left, who wait for this one
            elif not (locked := _os_lock.lock(fd, exclusive=exclusive)):
                if not wait.reported:
                    holder = wait.first_holder()
                    if _nesting.held_by_ancestor(lock_path, holder) or (
                        exclusive and holder is None and _readers_are_ancestors(lock_path)
                    ):
                        raise _Nested
                    wait.busy(holder)
                blocker = _Blocker(fd, exclusive)
            if locked and _same_file(fd, lock_path):
                taken, fd, blocker = fd, None, None
                return taken
            if locked or (not _same_file(fd, lock_path) and _folder_id(folder) != folder_id):
                # the file was replaced, or its folder went or was made anew: lock what is at the path now
                if blocker is not None:
                    blocker.cancel()
                blocker = None
                _release(fd)
                fd = None
    finally:
        if blocker is not None:
            blocker.cancel()
        if fd is not None:
            _release(fd)


def _readers_are_ancestors(lock_path: str) -> bool:
    """Whether the lock is held shared by ancestors of this process alone (``tox -r`` run by the commands of a tox
    run of the same environment): an exclusive wait would last as long as their hold, and they wait for this
    process, so it goes on under their hold, as for an ancestor's exclusive hold."""
    readers = shared_holders(lock_path)
    return bool(readers) and all(_nesting.held_by_ancestor(lock_path, reader) for reader in readers)


def _folder_missing(wait: _Wait, gone_since: float | None) -> float:
    """The lock's folder went while waiting: raise the timeout, or ``ENOENT`` once it counts as removed.

    A recreation makes it again under the lock of the holder the wait named:
    wait while that process lives, then :data:`FOLDER_GRACE` seconds more
    (never go on unlocked beside a recreation).  Returns when the missing
    folder started to count against the grace.
    """
    wait.busy()
    holder = wait.holder
    now = time.monotonic()
    if holder is not None and holder.alive and _os_lock.pid_alive(holder.pid):
        return now
    since = gone_since if gone_since is not None else now
    if now - since >= FOLDER_GRACE:
        raise FileNotFoundError(errno.ENOENT, "the environment's folder was removed while waiting", wait.lock_path)
    return since


@contextmanager
def hold_environment(
    environment: Environment,
    lock_path: str,
    *,
    purpose: str,
    on_waiting: _OnWaiting,
    on_acquired: Callable[[float], None] | None,
    create_folder: bool,
) -> Iterator[LockHold]:
    """The environment lock: venvlock's *sync lock* (``<lock>.sync``: venvlock's processes only), then uv's *lock_path*.

    So uv, pip-locked, hatch and nox exclude each other.  A uv under the hold
    never waits for it (the *uv hand-off*): :meth:`LockHold.lend` lets go of
    *lock_path* for an installer known to take it, and on Linux the holder
    lends it to any descendant blocked on it.  The sync lock stays held;
    ``UV_LOCK_TIMEOUT`` is never changed.
    """

    def enter(stack: ExitStack, path: str) -> LockHold:
        taken = stack.enter_context(
            hold(
                environment,
                path,
                purpose=purpose,
                on_waiting=on_waiting,
                on_acquired=on_acquired,
                create_folder=create_folder,
                shown_path=lock_path,
            )
        )
        if path == lock_path and taken.fd is not None and not taken.nested and sys.platform == "linux":
            from venvlock.core._handoff import lend_to_descendants

            stack.callback(lend_to_descendants(taken.fd))  # the uv hand-off
        return taken

    with ExitStack() as outer:
        sync = enter(outer, environment.sync_lock_path(lock_path))
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
