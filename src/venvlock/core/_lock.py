"""The lock: one OS file lock, held exclusive or shared, with waiting, a timeout, thread exclusion and nesting.

:func:`hold` is the one primitive (uv's ``LockedFile::acquire(path, mode,
resource)`` is the model): ``hold(environment, path, mode=EXCLUSIVE|SHARED,
...)``.  The OS calls (``flock`` on Unix, ``LockFileEx`` on Windows) are in
the platform halves :mod:`._unix` and :mod:`._windows`.  Around the OS lock
it

* makes other threads of this process wait (:mod:`venvlock.core._nesting`),
  and lets a descendant of a holder through: the lock is busy and its holder
  file names a live ancestor of this process (``VENVLOCK_HELD`` where the OS
  does not tell ancestors), whatever environment the child was given;
* writes the holder file (:mod:`venvlock.core._holder`) so waiters can name
  the holder;
* when busy, says so at once, again after the seconds in :data:`REPORT_AT`,
  then every minute, and gives up after ``VENVLOCK_TIMEOUT``; the timeout
  names the holder the last waiting line named;
* keeps the descriptor it opened while it waits: a waiter never makes the
  lock file again in a folder its holder is removing (only a folder made
  anew, or one whose holder let go, gets a new lock file);
* decides about a lock file that cannot be locked (:func:`unlockable`):
  going on unlocked with a warning that names the cause, or
  :class:`LockUnavailableError`.

:func:`hold_environment` is *the environment lock*: first venvlock's own
*sync lock* (``<env>/.lock.sync``, taken by venvlock processes only), then
uv's ``<env>/.lock``, so uv, pip-locked, hatch and nox exclude each other.
A uv that runs under the hold never waits for it (the *uv hand-off*):
:meth:`LockHold.lend` lets go of ``<env>/.lock`` for an installer known to
take it (uv), and on Linux the holder watches ``/proc/locks`` and lends
``<env>/.lock`` to any descendant process blocked on it (uv started by any
route: tox's ``install_command``, a script), taking it back once free.  The
sync lock stays held, so venvlock processes keep waiting; a uv that is not a
descendant still takes turns.  ``UV_LOCK_TIMEOUT`` is never changed.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from contextlib import ExitStack, contextmanager

from venvlock.core import _nesting
from venvlock.core._environment import display_path
from venvlock.core._files import remove_file
from venvlock.core._holder import (
    Holder,
    describe_busy,
    holder_path,
    read_holder,
    shared_holder_path,
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

#: the two modes of :func:`hold`
EXCLUSIVE, SHARED = "exclusive", "shared"
#: seconds waited when the "still waiting" line is repeated; then every minute
REPORT_AT = (5.0, 15.0, 30.0, 60.0)
#: the suffix of venvlock's sync lock beside the environment lock
SYNC_SUFFIX = ".sync"
#: seconds between a waiter's looks for a lock file's folder that went missing while it waited
POLL_INTERVAL = 0.02
#: seconds between a waiter's looks at its lock file's folder while the kernel waits for the lock
FOLDER_CHECK = 0.25
#: seconds a lock's folder may stay missing, once its last holder has ended, before it counts as removed
FOLDER_GRACE = 1.0
#: seconds a holder waits for a busy lock's holder to name itself (it does just after it locks)
NAMING_GRACE = 0.1
#: seconds between two looks at ``/proc/locks`` for a descendant blocked on a held ``<env>/.lock``
LEND_POLL = 0.02

# errors that mean "this folder cannot be locked at all": a read-only environment, a file system without locks
_NO_LOCKS = {
    errno.EROFS: "the file system is read-only",
    errno.ENOSYS: "the file system does not support locks (Lustre mounted without -o flock?)",
    errno.ENOLCK: "the file system gives no locks (NFS without a lock manager?)",
    errno.EBADF: "the file system refused the lock on this descriptor (NFS and a lock file not open for writing?)",
    errno.EOPNOTSUPP: "the file system does not support locks",
}
# errors that mean "no permission": read-only only when the folder is not writable for this user
_PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM}
# errors about the lock path itself that waiting will not cure (exit 1, not 75)
_PERMANENT = {errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR}
#: ``VENVLOCK_TIMEOUT`` in seconds: 0 fails at once, negative waits forever; unset: the default given, or 300
lock_timeout = timeout


class LockHold:
    """What entering a lock gives: where it is and how it is held.

    :ivar path: the lock file.
    :ivar mode: :data:`EXCLUSIVE` or :data:`SHARED`.
    :ivar locked: False when the lock could not be taken at all (a read-only
        environment) and the caller goes on unlocked.
    :ivar nested: True when an ancestor process (or this thread, again) holds
        it and this entry proceeds under that hold.
    :ivar fd: the locked descriptor of the environment lock, None while lent or where unknown.
    :ivar fds: every locked descriptor of this hold (sync lock and environment lock), for
        handing to an installer child so it keeps them if this process is killed.
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
        self.path = path
        self.mode = mode
        self.locked = locked
        self.nested = nested
        self.fd = fd
        self.fds: tuple[int, ...] = fds if fds is not None else (() if fd is None else (fd,))
        self.waited = waited
        self._lender: Callable[[], Iterator[None]] | None = None
        self._purpose: str | None = None  # what the holder file says, for a hold of :func:`hold` that holds it

    @property
    def holder_file(self) -> str:
        """Where this hold names its holder: ``<lock>.holder``, or ``<lock>.holder.<pid>`` when shared."""
        return holder_path(self.path) if self.mode == EXCLUSIVE else shared_holder_path(self.path)

    def downgrade(self) -> None:
        """Hold the lock shared from now on, in one lock call: an exclusive waiter never gets in between.

        For a hold of :func:`hold` (see ``_unix.downgrade`` for why one call
        suffices); the holder file becomes the shared holder's.  A nested or
        unlocked hold only changes its mode.
        """
        if self.mode == SHARED:
            return
        exclusive_file, self.mode = self.holder_file, SHARED
        if self.fd is not None and self._purpose is not None:
            _os_lock.downgrade(self.fd)
            write_holder(self.holder_file, self._purpose)
            remove_file(exclusive_file)

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


class _Wait:
    """The one wait's state: when it started, what it said, and when it gives up.

    :meth:`busy` is called while the lock is busy: the first call names the
    holder and reports at once; later calls report at the times of
    :data:`REPORT_AT` and raise the timeout, which names the holder the last
    report named.
    """

    def __init__(
        self,
        environment: Environment,
        lock_path: str,
        timeout: float,
        on_waiting: Callable[[Holder | None, float], None],
        shown_path: str | None = None,
    ) -> None:
        self.environment = environment
        self.lock_path = lock_path
        self.shown_path = shown_path or lock_path
        self.timeout = timeout
        self.on_waiting = on_waiting
        self.start = time.monotonic()
        self.holder: Holder | None = None
        self.reported = False
        self._who: str | None = None
        self._reports = iter(REPORT_AT)
        self._next_report = 0.0

    def waited(self) -> float:
        return time.monotonic() - self.start

    def due(self) -> float:
        """Seconds until the next waiting line or the timeout."""
        until = self._next_report - self.waited()
        if self.timeout >= 0:
            until = min(until, self.timeout - self.waited())
        return max(until, 0.0)

    def first_holder(self) -> Holder | None:
        """Who holds the busy lock, waiting a moment for a holder that has just locked to name itself."""
        holder = read_holder(self.lock_path)
        named_by = time.monotonic() + NAMING_GRACE
        while holder is None and time.monotonic() < named_by:
            time.sleep(0.01)
            holder = read_holder(self.lock_path)
        return holder

    def busy(self, holder: Holder | None = None) -> None:
        """Still busy: report when due, raise :class:`LockTimeoutError` when the time is up."""
        waited = self.waited()
        if not self.reported:
            if self.timeout == 0:  # fail at once: no waiting line before the error
                self.holder = holder if holder is not None else read_holder(self.lock_path)
                raise self.error()
            self.report(holder if holder is not None else self.first_holder(), 0.0)
            return
        if 0 <= self.timeout <= waited:
            raise self.error()
        if waited >= self._next_report:
            self.report(read_holder(self.lock_path) or self.holder, waited)

    def report(self, holder: Holder | None, waited: float) -> None:
        self.holder = holder
        self._who = describe_busy(self.lock_path, holder)
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
            f"(held by {who}; lock file {display_path(self.shown_path)}). "
            f"Set {TIMEOUT_VAR} to the seconds to wait (now {format_timeout(self.timeout)}; "
            "a negative value waits forever)."
        )
        return LockTimeoutError(
            message, environment=self.environment, lock_path=self.lock_path, holder=self.holder, waited=waited
        )


def _warn(message: str) -> None:
    print(f"venvlock: warning: {message}", file=sys.stderr, flush=True)


def _cause(error: OSError) -> str:
    """*error* as a warning names it: its errno name and what it means."""
    name = errno.errorcode.get(error.errno or 0, "error")
    return f"{name}: {error.strerror or os.strerror(error.errno or 0)}"


def _no_locks_here(folder: str, error: OSError) -> str | None:
    """What *error* on a lock file in *folder* says about the place, when it means no lock can be had there."""
    meaning = _NO_LOCKS.get(error.errno or 0)
    if meaning is not None:
        return meaning
    if error.errno in _PERMISSION_ERRNOS and not os.access(folder, os.W_OK):
        return "this user may not write the environment (a read-only environment)"
    return None


def _not_a_file(lock_path: str) -> str | None:
    """What is at *lock_path* when it exists and is not a regular file (a FIFO, a folder), else None."""
    import stat

    try:
        mode = os.stat(lock_path, follow_symlinks=False).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
        return None
    return _os_lock.describe_mode(mode)


def unlockable(environment: Environment, lock_path: str, error: OSError, *, folder_made: bool) -> None:
    """Decide about a lock file that could not be locked: warn and return (go on unlocked), or raise.

    Going on unlocked is only for a read-only environment or a file system
    whose locks fail (the warning names the errno and what it means;
    ``VENVLOCK_UNLOCKED=fail`` raises instead) and, where venvlock does not
    make the folder, a folder that is not there yet (nothing to protect).
    Anything else (a symbolic link or a FIFO at the lock path, a file of
    another user in a writable folder, a name too long) raises
    :class:`LockUnavailableError`, marked not temporary where waiting will
    not help.
    """
    folder = os.path.dirname(lock_path)
    where = display_path(lock_path)
    if error.errno == errno.ENOENT and not folder_made and not os.path.isdir(folder):
        _warn(f"cannot lock environment {environment.name} (its folder {folder} does not exist); going on")
        return
    meaning = _no_locks_here(folder, error)
    if meaning is not None:
        if unlocked() == "fail":
            raise LockUnavailableError(
                error.errno or errno.EIO,
                f"cannot lock environment {environment.name} ({_cause(error)} on {where}): {meaning}; "
                f"stopping, as {UNLOCKED_VAR}=fail asks",
            ) from error
        _warn(
            f"cannot lock environment {environment.name} ({_cause(error)} on {where}): {meaning}; "
            f"going on unlocked, so concurrent installs are not kept apart (set {UNLOCKED_VAR}=fail to stop instead)"
        )
        return
    raise _unavailable(environment, lock_path, error) from error


def _unavailable(environment: Environment, lock_path: str, error: OSError) -> LockUnavailableError:
    temporary = error.errno not in _PERMANENT
    what = _not_a_file(lock_path)
    if error.errno == errno.ELOOP or os.path.islink(lock_path):
        reason = "it is a symbolic link, which venvlock never follows; remove it"
    elif what is not None:
        reason, temporary = f"it is {what}, not a lock file; remove it", False
    elif error.errno == errno.ENAMETOOLONG:
        reason = "its name is too long for the file system; use a shorter environment name"
    else:
        reason = _cause(error)
    message = (
        f"cannot lock environment {environment.name}: {reason} (lock file {display_path(lock_path)}); "
        "venvlock does not install into a writable environment without its lock"
    )
    failure = LockUnavailableError(error.errno or errno.EIO, message)
    failure.temporary = temporary
    return failure


class _Nested(Exception):
    """The busy lock is held by an ancestor of this process: go on under its hold."""


@contextmanager
def hold(
    environment: Environment,
    lock_path: str,
    *,
    purpose: str,
    on_waiting: Callable[[Holder | None, float], None],
    on_acquired: Callable[[float], None] | None = None,
    mode: str = EXCLUSIVE,
    create_folder: bool = True,
    default_timeout: float | None = None,
    shown_path: str | None = None,
) -> Iterator[LockHold]:
    """Hold *lock_path* for *environment* in *mode* (:data:`EXCLUSIVE` or :data:`SHARED`) inside the ``with`` block.

    Tries at once; when busy calls *on_waiting* at once, again after the
    seconds in :data:`REPORT_AT`, then every minute, until ``VENVLOCK_TIMEOUT``
    (else *default_timeout*, else 300 s) runs out (:class:`LockTimeoutError`;
    with a timeout of 0 at once, without a waiting line).  Another thread of
    this process holding it counts as busy; this thread holding it already,
    or an ancestor process (either mode asked under an exclusive hold), lets
    the block run at once (``LockHold.nested``).  A lock file that cannot be
    locked raises :class:`LockUnavailableError`, except in a read-only
    environment or on a file system without locks, which is warned about and
    runs unlocked (``LockHold.locked`` False); see :func:`unlockable`.
    *shown_path*: the lock file messages name (the environment lock's
    ``<env>/.lock`` for its sync lock: one name for the lock a user sees).

    *create_folder* makes the lock file's folder when missing (not for a
    venv's own folder: that is its creator's job; a missing venv folder is
    warned about and runs unlocked, as there is nothing to protect yet).  A
    lock file replaced while this process waited (its folder deleted and made
    again) is locked anew, so two processes never hold "the" lock through two
    different files.  An exclusive holder names itself in ``<lock>.holder``,
    a shared one in ``<lock>.holder.<pid>``; leaving removes it and releases.
    """
    unlocked()  # a bad VENVLOCK_UNLOCKED is an error before any lock is taken, not only where one fails
    wait = _Wait(environment, lock_path, timeout(default_timeout), on_waiting, shown_path)
    real = os.path.realpath(lock_path)
    deadline = None if wait.timeout < 0 else wait.start + wait.timeout
    with _nesting.claimed(real, deadline=deadline, on_waiting=wait.thread_waiting, on_timeout=wait.error) as again:
        if again and _nesting.held_here(real, lock_path):
            yield LockHold(lock_path, locked=True, nested=True, mode=mode)
            return
        try:
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
            write_holder(held.holder_file, purpose)
            if on_acquired is not None:
                on_acquired(held.waited)
            with _nesting.marked_held(real, fd):
                yield held
        finally:
            remove_file(held.holder_file)
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
    """Whether *fd* is still the file at *lock_path*."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(lock_path, follow_symlinks=False))
    except OSError:
        return False


class _Blocker:
    """A thread waiting in the kernel for the lock on a duplicate of a descriptor: a waiter costs no CPU.

    The duplicate shares the descriptor's open file, so the lock the thread
    gets is the descriptor's.  :meth:`cancel` gives the wait up: a lock the
    thread gets after that is let go at once.  The thread is a daemon; a
    lock call still blocked when the process ends ends with it.
    """

    def __init__(self, fd: int, exclusive: bool) -> None:
        import threading

        self._fd = os.dup(fd)
        self._guard = threading.Lock()
        self._done = threading.Event()
        self._cancelled = self.locked = False
        self.error: OSError | None = None
        threading.Thread(target=self._run, args=(exclusive,), name="venvlock-lock-waiter", daemon=True).start()

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
            self._done.set()

    def wait(self, seconds: float) -> bool:
        """Whether the lock was taken within *seconds* (raises the lock call's error)."""
        if not self._done.wait(seconds):
            return False
        if self.error is not None:
            raise self.error
        return self.locked

    def cancel(self) -> None:
        with self._guard:
            self._cancelled = True


def _acquire(lock_path: str, exclusive: bool, wait: _Wait) -> int:
    """A descriptor of *lock_path* locked in the mode asked, after waiting (reporting) while it is busy.

    The wait is a blocking lock call in a thread (:class:`_Blocker`): the
    lock passes on as soon as the kernel hands it over, and waiting costs no
    CPU; this thread reports, times out and takes Ctrl-C, looking every
    :data:`FOLDER_CHECK` seconds whether the lock file's folder was made
    anew.  The descriptor opened first is kept while waiting; the lock file
    is made again only in a folder made anew, or once the file's holder let
    go of it (never in a folder its holder is removing).  Raises
    :class:`_Nested` when an ancestor holds it, ``FileNotFoundError`` when
    the folder is missing (at the first attempt) or was removed while
    waiting, and :class:`LockTimeoutError`.
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
            if blocker is None:
                locked = _os_lock.lock(fd, exclusive=exclusive)
                if not locked:
                    if not wait.reported:
                        holder = wait.first_holder()
                        if _nesting.held_by_ancestor(lock_path, holder):
                            raise _Nested
                        wait.busy(holder)
                    blocker = _Blocker(fd, exclusive)
            else:
                wait.busy()
                locked = blocker.wait(min(FOLDER_CHECK, wait.due()))
            if locked:
                blocker = None
                if _same_file(fd, lock_path):
                    taken, fd = fd, None
                    return taken
                _release(fd)  # the file was replaced while we waited: lock the one at the path now
                fd = None
            elif not _same_file(fd, lock_path) and _folder_id(folder) != folder_id:
                # the folder went, or was made anew: wait on the path now (a new folder gets a new lock file)
                assert blocker is not None
                blocker.cancel()
                blocker = None
                _release(fd)
                fd = None
    finally:
        if blocker is not None:
            blocker.cancel()
        if fd is not None:
            _release(fd)


def _folder_missing(wait: _Wait, gone_since: float | None) -> float:
    """The lock's folder went while waiting: raise the timeout, or ``ENOENT`` once it counts as removed.

    A recreation (nox, hatch, tox: the folder deleted and made again) makes
    it again under the lock of the holder the wait named: wait while that
    process lives, then :data:`FOLDER_GRACE` seconds more.  Never go on
    unlocked beside a recreation.  Returns when the missing folder started
    to count against the grace.
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
    on_waiting: Callable[[str, Holder | None, float], None],
    on_acquired: Callable[[str, float], None],
    create_folder: bool,
) -> Iterator[LockHold]:
    """The environment lock: venvlock's sync lock ``<lock>.sync``, then *lock_path* (uv's), both held inside.

    The hold it gives can :meth:`~LockHold.lend` *lock_path* to an installer
    that takes it itself (uv) while the sync lock stays held; where
    ``/proc/locks`` tells, it is lent to any descendant blocked on it (the
    uv hand-off, see the module docstring).
    """
    sync_path = lock_path + SYNC_SUFFIX

    def enter(stack: ExitStack, path: str) -> LockHold:
        return stack.enter_context(
            hold(
                environment,
                path,
                purpose=purpose,
                on_waiting=lambda holder, waited: on_waiting(lock_path, holder, waited),
                on_acquired=lambda waited: on_acquired(lock_path, waited),
                create_folder=create_folder,
                shown_path=lock_path,
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
        if env.fd is not None and not env.nested:
            inner.enter_context(_lending_to_descendants(env.fd))

        def lender() -> Iterator[None]:
            inner.close()
            result.fd, result.fds = None, sync.fds
            try:
                yield
            finally:
                again = enter(inner, lock_path)
                result.fd, result.fds = again.fd, sync.fds + again.fds
                if again.fd is not None and not again.nested:
                    inner.enter_context(_lending_to_descendants(again.fd))

        if env.locked and not env.nested:
            result._lender = lender
        yield result


@contextmanager
def _lending_to_descendants(fd: int) -> Iterator[None]:
    """While inside, lend the exclusive lock on *fd* to a descendant process blocked on it; take it back after.

    A thread looks at ``/proc/locks`` every :data:`LEND_POLL` seconds: a
    process blocked on the file that descends from this one (uv, started by
    any route) gets the lock (released on *fd*); once nobody holds it, it is
    locked on *fd* again.  Does nothing where the OS keeps no such table.
    """
    if _os_lock.lock_table(fd) is None:
        yield
        return
    import threading

    stop = threading.Event()
    me = os.getpid()

    def watch() -> None:
        lent = False
        while not stop.wait(LEND_POLL):
            try:
                if lent:
                    lent = not _os_lock.lock(fd, exclusive=True)
                    continue
                table = _os_lock.lock_table(fd) or []
                if any(blocked and pid != me and _os_lock.descends_from(pid, me) for pid, _, blocked in table):
                    _os_lock.unlock(fd)
                    lent = True
            except OSError:
                return

    watcher = threading.Thread(target=watch, name="venvlock-uv-hand-off", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
