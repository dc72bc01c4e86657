"""The shared side of the creation lock: many readers of an environment at once, none beside a writer.

A tox (or other) run holds the creation lock file *shared* while its commands
use the environment, and *exclusive* (:mod:`venvlock.core._lock`) while it
creates, recreates or installs.  Shared holders run side by side; an
exclusive holder waits until every shared one has let go, and shared
holders wait while an exclusive one works.

The lock is the same OS lock on the same file as the exclusive one: ``flock``
``LOCK_SH`` on Unix (the exclusive side is ``filelock``'s ``LOCK_EX``), and
``LockFileEx`` without ``LOCKFILE_EXCLUSIVE_LOCK`` on byte 0 on Windows (the
exclusive side locks that byte with ``msvcrt.locking``).  A process killed
while holding it frees it at once (the kernel drops the lock).

Each shared holder names itself in its own holder file
``<lock>.holder.<pid>`` (written with :func:`~venvlock.core._files.write_file`,
never through a link), so that a writer waiting for readers can say for whom
(:func:`shared_holders`).  Waiting prints the same lines as the exclusive
lock and ends after ``VENVLOCK_TIMEOUT`` seconds.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

from venvlock.core._environment import display_path
from venvlock.core._files import remove_file, write_file
from venvlock.core._holder import Holder, describe_holder, read_holder, redact
from venvlock.core._lock import LockHold, lock_timeout, unlockable
from venvlock.errors import LockTimeoutError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from venvlock.core._environment import Environment

if sys.platform == "win32":
    from venvlock.core._windows import pid_alive, try_lock_shared, unlock_shared
else:
    from venvlock.core._unix import pid_alive, try_lock_shared, unlock_shared

#: seconds waited when the "still waiting" line is repeated; then every minute (as for the exclusive lock)
REPORT_AT = (5.0, 15.0, 30.0, 60.0)
#: how often a waiting shared holder tries again
POLL_SECONDS = 0.05
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def shared_holder_path(lock_path: str, pid: int | None = None) -> str:
    """The holder file of the shared holder *pid* (default: this process)."""
    return f"{lock_path}.holder.{os.getpid() if pid is None else pid}"


def shared_holders(lock_path: str) -> list[Holder]:
    """The live processes that say they hold *lock_path* shared, oldest holder file first."""
    folder, base = os.path.split(lock_path)
    prefix = base + ".holder."
    try:
        names = [name for name in os.listdir(folder or ".") if name.startswith(prefix)]
    except OSError:
        return []
    found: list[tuple[float, Holder]] = []
    for name in names:
        pid_text = name[len(prefix) :]
        if not pid_text.isdigit():
            continue
        path = os.path.join(folder, name)
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _BINARY)
        except OSError:
            continue
        try:
            stamp = os.fstat(fd).st_mtime
            with os.fdopen(fd, "rb") as file:
                text = file.read(65536).decode("utf-8", "replace")
        except OSError:
            continue
        pid_line, _, command = text.partition("\n")
        if pid_line.strip() != pid_text:
            continue
        pid = int(pid_text)
        if pid_alive(pid):
            found.append((stamp, Holder(pid, command.strip(), True)))
    found.sort(key=lambda item: item[0])
    return [holder for _, holder in found]


def describe_shared_holders(holders: list[Holder]) -> str:
    """The shared holders as a waiting line names them."""
    if not holders:
        return describe_holder(None)
    first = describe_holder(holders[0])
    if len(holders) == 1:
        return f"{first}, running commands"
    return f"{first} and {len(holders) - 1} more, running commands"


def _format_seconds(value: float) -> str:
    return "forever" if value < 0 else f"{value:g}s"


def _timeout_error(environment: Environment, lock_path: str, holder: Holder | None, waited: float) -> LockTimeoutError:
    message = (
        f"timed out after {waited:.0f}s waiting for lock on environment {environment.name} "
        f"(held by {describe_holder(holder)}; lock file {display_path(lock_path)}). "
        f"Set VENVLOCK_TIMEOUT to the seconds to wait (now {_format_seconds(lock_timeout())}; "
        "a negative value waits forever)."
    )
    return LockTimeoutError(message, environment=environment, lock_path=lock_path, holder=holder, waited=waited)


def _open(lock_path: str) -> int:
    # the same file filelock opens for the exclusive side, never through a link
    return os.open(lock_path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC | _BINARY, 0o644)


def _same_file(fd: int, lock_path: str) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(lock_path, follow_symlinks=False))
    except OSError:
        return False


def _warn(message: str) -> None:
    print(f"venvlock: warning: {message}", file=sys.stderr, flush=True)


@contextmanager
def hold_shared(
    environment: Environment,
    lock_path: str,
    *,
    purpose: str,
    on_waiting: Callable[[Holder | None, float], None],
    default_timeout: float | None = None,
) -> Iterator[LockHold]:
    """Hold *lock_path* shared for *environment* while inside the ``with`` block.

    Tries at once; while an exclusive holder works, calls *on_waiting* at
    once, after the seconds in :data:`REPORT_AT`, then every minute, until
    ``VENVLOCK_TIMEOUT`` (else *default_timeout*, else 300 s) runs out
    (:class:`~venvlock.errors.LockTimeoutError`).  A lock file that cannot be
    opened or locked in a read-only environment is warned about and the block
    runs unlocked (``LockHold.locked`` False); anywhere else (a symbolic link
    at its path) it raises :class:`~venvlock.errors.LockUnavailableError`.  The lock
    file's folder is made when missing.  Leaving removes this holder's file
    and releases the lock.
    """
    timeout = lock_timeout(default_timeout)
    start = time.monotonic()
    try:
        os.makedirs(os.path.dirname(lock_path) or ".", exist_ok=True)
        fd = _acquire(environment, lock_path, timeout, start, on_waiting)
    except OSError as error:
        if isinstance(error, LockTimeoutError):
            raise
        unlockable(environment, lock_path, error, folder_made=True)  # raises unless read-only (warned)
        yield LockHold(lock_path, locked=False)
        return
    holder_file = shared_holder_path(lock_path)
    try:
        try:
            write_file(holder_file, f"{os.getpid()}\n{redact(purpose)}\n")
        except OSError:  # naming the holder is a courtesy; never fail over it
            pass
        yield LockHold(lock_path, locked=True, fd=fd, waited=time.monotonic() - start)
    finally:
        remove_file(holder_file)
        try:
            unlock_shared(fd)
        finally:
            os.close(fd)


def _acquire(
    environment: Environment,
    lock_path: str,
    timeout: float,
    start: float,
    on_waiting: Callable[[Holder | None, float], None],
) -> int:
    """A descriptor of *lock_path* locked shared; waits (reporting) while it is held exclusively."""
    reports = iter(REPORT_AT)
    next_report: float | None = None
    holder: Holder | None = None
    while True:
        fd = _open(lock_path)
        try:
            locked = try_lock_shared(fd)
        except BaseException:
            os.close(fd)
            raise
        if locked:
            if _same_file(fd, lock_path):
                return fd
            unlock_shared(fd)  # the file was replaced while we waited: lock the one at the path now
            os.close(fd)
            continue
        os.close(fd)
        waited = time.monotonic() - start
        holder = read_holder(lock_path) or holder
        if next_report is None:
            named_by = time.monotonic() + 0.1
            while holder is None and time.monotonic() < named_by:  # a holder names itself just after it locks
                time.sleep(0.01)
                holder = read_holder(lock_path)
            on_waiting(holder, 0.0)
            next_report = next(reports, waited + 60.0)
        elif waited >= next_report:
            if timeout < 0 or waited < timeout:
                on_waiting(holder, waited)
            next_report = next(reports, waited + 60.0)
        if 0 <= timeout <= waited:
            raise _timeout_error(environment, lock_path, holder, waited)
        time.sleep(POLL_SECONDS)
