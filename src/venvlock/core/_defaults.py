"""The core's default implementations of the extension points (lock paths, check, install, waiting line).

Registered with ``trylast=True``, so a plugin's answer wins where it gives
one.  The services (sync and the two locks) are in :mod:`._services`.
"""

from __future__ import annotations

import sys

from venvlock._markers import hookimpl
from venvlock.core._environment import display_path
from venvlock.core._holder import describe_busy
from venvlock.core._installer import run_installer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from venvlock.core._environment import Environment
    from venvlock.core._holder import Holder
    from venvlock.core._lock import LockHold
    from venvlock.core._request import SyncRequest
    from venvlock.core._results import Verdict


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
    who = describe_busy(lock_path, holder)  # no holder: readers (a tox run's commands) name themselves apart
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
