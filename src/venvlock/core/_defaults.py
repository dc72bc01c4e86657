"""The core's own hook implementations: the services, and the defaults of every extension point."""

from __future__ import annotations

import os
import subprocess
import sys

from venvlock.core import _lock
from venvlock.core._environment import VENV, display_path
from venvlock.core._plugins import hooks
from venvlock.hookspec import hookimpl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractContextManager

    from venvlock.core._environment import Environment
    from venvlock.core._lock import Holder, LockHold
    from venvlock.core._request import SyncRequest
    from venvlock.core._results import SyncResult, Verdict

#: how long a holder waits for its installer child after Ctrl-C, before leaving it the lock
CHILD_GRACE_SECONDS = 10.0


# --- services --------------------------------------------------------------------------------------
@hookimpl(trylast=True)
def venvlock_sync(environment: Environment, request: SyncRequest) -> SyncResult:
    from venvlock.core._sync import sync

    return sync(environment, request, hooks())


def _hold(
    environment: Environment,
    lock_path: str,
    purpose: str,
    quiet: bool,
    *,
    child_environ: dict[str, str],
    create_folder: bool,
    default_timeout: float | None = None,
) -> AbstractContextManager[LockHold]:
    relay = hooks()

    def waiting(holder: Holder | None, waited: float) -> None:
        relay.venvlock_waiting(environment=environment, lock_path=lock_path, holder=holder, waited=waited, quiet=quiet)

    def acquired(waited: float) -> None:
        relay.venvlock_acquired(environment=environment, lock_path=lock_path, waited=waited)

    return _lock.hold(
        environment,
        lock_path,
        purpose=purpose,
        on_waiting=waiting,
        on_acquired=acquired,
        child_environ=child_environ,
        create_folder=create_folder,
        default_timeout=default_timeout,
    )


@hookimpl(trylast=True)
def venvlock_environment_lock(environment: Environment, purpose: str, quiet: bool) -> AbstractContextManager[LockHold]:
    lock_path = hooks().venvlock_lock_path(environment=environment)
    # uv children go through the lock venvlock holds on their behalf instead of waiting for it.
    # A venv's folder is made only by its creator; --target/--prefix folders may be made here, as pip would.
    create_folder = environment.kind != VENV
    return _hold(
        environment, lock_path, purpose, quiet, child_environ={"UV_LOCK_TIMEOUT": "0"}, create_folder=create_folder
    )


@hookimpl(trylast=True)
def venvlock_creation_lock(
    environment: Environment, purpose: str, quiet: bool, default_timeout: float | None
) -> AbstractContextManager[LockHold]:
    lock_path = hooks().venvlock_creation_lock_path(environment=environment)
    return _hold(
        environment, lock_path, purpose, quiet, child_environ={}, create_folder=True, default_timeout=default_timeout
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
    return run_installer(request.pip_command(environment.python), hold)


@hookimpl(trylast=True)
def venvlock_waiting(
    environment: Environment, lock_path: str, holder: Holder | None, waited: float, quiet: bool
) -> None:
    if quiet:
        return
    if holder is None:  # readers holding the lock shared (a tox run's commands) name themselves in their own files
        from venvlock.core._shared_lock import describe_shared_holders, shared_holders

        readers = shared_holders(lock_path)
        who = describe_shared_holders(readers) if readers else _lock.describe_holder(None)
    else:
        who = _lock.describe_holder(holder)
    where = display_path(lock_path)
    if waited == 0.0:
        line = f"Waiting for lock on environment {environment.name} (held by {who}; lock file {where})"
    else:
        line = f"Still waiting for lock on environment {environment.name} after {waited:.0f}s (held by {who})"
    print(line, file=sys.stderr, flush=True)


# --- helpers for installers ------------------------------------------------------------------------
def run_installer(command: Sequence[str], hold: LockHold) -> int:
    """Run an installer child under *hold*; return its exit code.

    The child inherits the locked descriptor, so if this process is killed the
    child keeps the lock until it exits.  On Ctrl-C (which the child receives
    too) this process waits a while for the child to finish before leaving.
    """
    pass_fds = (hold.fd,) if hold.fd is not None and os.name != "nt" else ()
    try:
        child = subprocess.Popen(list(command), pass_fds=pass_fds)
    except OSError as error:
        print(f"venvlock: cannot run {command[0]}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        return child.wait()
    except KeyboardInterrupt:
        try:
            child.wait(timeout=CHILD_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        raise
