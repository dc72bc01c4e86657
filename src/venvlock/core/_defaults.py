"""The core's own hook implementations: the services, and the defaults of every extension point."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from venvlock.core import _lock
from venvlock.core._environment import VENV, display_path
from venvlock.core._holder import describe_holder
from venvlock.core._plugins import hooks
from venvlock.hookspec import hookimpl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from contextlib import AbstractContextManager

    from venvlock.core._environment import Environment
    from venvlock.core._holder import Holder
    from venvlock.core._lock import LockHold
    from venvlock.core._request import SyncRequest
    from venvlock.core._results import SyncResult, Verdict

#: how long a holder waits for its installer child after Ctrl-C before it kills it (then releases the lock)
CHILD_GRACE_SECONDS = 10.0
#: how long the child gets to end on the Ctrl-C of the terminal before this process forwards it
_FORWARD_AFTER = 0.5
#: the signal forwarded to the installer child: Ctrl-C
_INTERRUPT = getattr(signal, "CTRL_C_EVENT", signal.SIGINT) if os.name == "nt" else signal.SIGINT


# --- services --------------------------------------------------------------------------------------
@hookimpl(trylast=True)
def venvlock_sync(environment: Environment, request: SyncRequest) -> SyncResult:
    from venvlock.core._sync import sync

    return sync(environment, request, hooks())


def _notifications(
    environment: Environment, quiet: bool
) -> tuple[Callable[[str, Holder | None, float], None], Callable[[str, float], None]]:
    relay = hooks()

    def waiting(lock_path: str, holder: Holder | None, waited: float) -> None:
        relay.venvlock_waiting(environment=environment, lock_path=lock_path, holder=holder, waited=waited, quiet=quiet)

    def acquired(lock_path: str, waited: float) -> None:
        relay.venvlock_acquired(environment=environment, lock_path=lock_path, waited=waited)

    return waiting, acquired


@hookimpl(trylast=True)
def venvlock_environment_lock(environment: Environment, purpose: str, quiet: bool) -> AbstractContextManager[LockHold]:
    lock_path = hooks().venvlock_lock_path(environment=environment)
    waiting, acquired = _notifications(environment, quiet)
    # A venv's folder is made only by its creator; --target/--prefix folders may be made here, as pip would.
    return _lock.hold_environment(
        environment,
        lock_path,
        purpose=purpose,
        on_waiting=waiting,
        on_acquired=acquired,
        create_folder=environment.kind != VENV,
    )


@hookimpl(trylast=True)
def venvlock_creation_lock(
    environment: Environment, purpose: str, quiet: bool, default_timeout: float | None
) -> AbstractContextManager[LockHold]:
    lock_path = hooks().venvlock_creation_lock_path(environment=environment)
    waiting, acquired = _notifications(environment, quiet)
    return _lock.hold(
        environment,
        lock_path,
        purpose=purpose,
        on_waiting=lambda holder, waited: waiting(lock_path, holder, waited),
        on_acquired=lambda waited: acquired(lock_path, waited),
        create_folder=True,
        default_timeout=default_timeout,
    )


# --- extension points ------------------------------------------------------------------------------
@hookimpl(trylast=True)
def venvlock_lock_path(environment: Environment) -> str:
    return environment.default_lock_path()


@hookimpl(trylast=True)
def venvlock_creation_lock_path(environment: Environment) -> str:
    return environment.default_creation_lock_path()


@hookimpl(trylast=True)
def venvlock_check(environment: Environment, request: SyncRequest) -> Verdict:
    from venvlock.core._check import check

    return check(environment, request)


@hookimpl(trylast=True)
def venvlock_install(environment: Environment, request: SyncRequest, hold: LockHold) -> int:
    if request.installer is not None:
        return request.installer()
    return run_installer([environment.python, "-m", "pip", request.command, *request.args], hold)


#: the holder each lock path's waiting line named last in this process, to say when it changes
_named: dict[str, Holder | None] = {}


@hookimpl(trylast=True)
def venvlock_waiting(
    environment: Environment, lock_path: str, holder: Holder | None, waited: float, quiet: bool
) -> None:
    before = _named.get(lock_path)
    _named[lock_path] = holder
    if quiet:
        return
    if holder is None:  # readers holding the lock shared (a tox run's commands) name themselves in their own files
        from venvlock.core._shared_lock import describe_shared_holders, shared_holders

        readers = shared_holders(lock_path)
        who = describe_shared_holders(readers) if readers else describe_holder(None)
    else:
        who = describe_holder(holder)
    where = display_path(lock_path)
    if waited == 0.0:
        line = f"Waiting for lock on environment {environment.name} (held by {who}; lock file {where})"
    elif holder is not None and before is not None and holder != before:
        line = (
            f"Still waiting for lock on environment {environment.name} after {waited:.0f}s "
            f"(now held by {who}; before by pid {before.pid})"
        )
    else:
        line = f"Still waiting for lock on environment {environment.name} after {waited:.0f}s (held by {who})"
    print(line, file=sys.stderr, flush=True)


# --- helpers for installers ------------------------------------------------------------------------
def run_installer(command: Sequence[str], hold: LockHold) -> int:
    """Run an installer child under *hold*; return its exit code.

    The child inherits the locked descriptors, so if this process is killed
    the child keeps the lock until it exits; it sees in ``VENVLOCK_HELD`` the
    locks of the calling thread only.  On Ctrl-C the lock is kept until the
    child has ended (see :func:`wait_for_child`).
    """
    from venvlock.core._nesting import child_environ

    pass_fds = hold.fds if os.name != "nt" else ()
    try:
        child = subprocess.Popen(list(command), pass_fds=pass_fds, env=child_environ())
    except OSError as error:
        print(f"venvlock: cannot run {command[0]}: {error.strerror}", file=sys.stderr)
        return 1
    return wait_for_child(child)


def wait_for_child(child: subprocess.Popen[bytes]) -> int:
    """Wait for *child* and return its exit code; on Ctrl-C, see it end before the interrupt goes on.

    The terminal's Ctrl-C reaches the child too; a SIGINT sent to this process
    alone is forwarded after a moment.  A child still running after
    :data:`CHILD_GRACE_SECONDS` is killed.  Only then does the
    ``KeyboardInterrupt`` propagate (and the caller release its lock): a lock
    never frees while its installer still writes.
    """
    try:
        return child.wait()
    except KeyboardInterrupt:
        _stop(child)
        raise


def _stop(child: subprocess.Popen[bytes]) -> None:
    start = time.monotonic()
    forwarded = False
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= CHILD_GRACE_SECONDS:
            break
        step = _FORWARD_AFTER - elapsed if not forwarded else CHILD_GRACE_SECONDS - elapsed
        try:
            child.wait(timeout=max(step, 0.0))
            return
        except subprocess.TimeoutExpired:
            if not forwarded:
                forwarded = True
                try:
                    child.send_signal(_INTERRUPT)
                except OSError:
                    pass
        except KeyboardInterrupt:  # Ctrl-C again: stop being polite
            break
    print("venvlock: the installer did not stop after Ctrl-C; killing it", file=sys.stderr, flush=True)
    child.kill()
    while True:
        try:
            child.wait()
            return
        except KeyboardInterrupt:
            continue
