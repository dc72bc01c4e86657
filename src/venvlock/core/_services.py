"""The core's hook implementations: the services adapters call and the default extension points.

The services (``venvlock_sync`` and the two locks, see :mod:`venvlock.hookspec`)
call the extension points through :data:`relay`, the plugin manager's own hook
relay, set by :mod:`._plugins` before it registers this module: so this module
needs no way back to the plugin manager, and plugins that answer an extension
point are heard.  Everything is registered with ``trylast=True``, so a
plugin's answer wins where it gives one.
"""

from __future__ import annotations

import sys
import threading

from venvlock._markers import hookimpl
from venvlock.core import _lock
from venvlock.core._environment import EnvironmentKind, display_path
from venvlock.core._holder import describe_busy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from pluggy import HookRelay

    from venvlock.core._environment import Environment
    from venvlock.core._holder import Holder
    from venvlock.core._lock import LockHold
    from venvlock.core._request import SyncRequest
    from venvlock.core._results import SyncResult, Verdict

#: the plugin manager's hook relay, through which the services call the extension points (set by ``_plugins``)
relay: HookRelay = None  # type: ignore[assignment]
#: ``.asked``: ``(environment path, lock path)`` while a sync runs in this thread, the lock path it asked for once
_this_thread = threading.local()
#: the holder each lock path's waiting line named last in this process, to say when it changes
_named: dict[str, Holder | None] = {}


@hookimpl(trylast=True)
def venvlock_sync(environment: Environment, request: SyncRequest) -> SyncResult:
    from venvlock.core._sync import sync

    lock_path: str = relay.venvlock_lock_path(environment=environment)  # asked once per sync
    outer, _this_thread.asked = getattr(_this_thread, "asked", None), (environment.path, lock_path)
    try:
        return sync(environment, request, relay, lock_path)
    finally:
        _this_thread.asked = outer


@hookimpl(trylast=True)
def venvlock_environment_lock(environment: Environment, purpose: str, quiet: bool) -> AbstractContextManager[LockHold]:
    asked = getattr(_this_thread, "asked", None)
    if asked is not None and asked[0] == environment.path:
        lock_path = asked[1]  # the sync's own answer: the hook is asked once per sync
    else:
        lock_path = relay.venvlock_lock_path(environment=environment)
    waiting, acquired = _notifications(relay, environment, lock_path, quiet)
    # A venv's folder is made only by its creator; --target/--prefix folders may be made here, as pip would.
    return _lock.hold_environment(
        environment,
        lock_path,
        purpose=purpose,
        on_waiting=waiting,
        on_acquired=acquired,
        create_folder=environment.kind != EnvironmentKind.VENV,
    )


@hookimpl(trylast=True)
def venvlock_creation_lock(
    environment: Environment, purpose: str, quiet: bool, default_timeout: float | None
) -> AbstractContextManager[LockHold]:
    return creation_lock(relay, environment, purpose, quiet=quiet, default_timeout=default_timeout)


def creation_lock(
    relay: HookRelay,
    environment: Environment,
    purpose: str,
    *,
    quiet: bool,
    default_timeout: float | None,
    mode: str = _lock.EXCLUSIVE,
) -> AbstractContextManager[LockHold]:
    """*environment*'s creation lock held in *mode*; waits reported, an exclusive hold's start announced."""
    lock_path: str = relay.venvlock_creation_lock_path(environment=environment)
    waiting, acquired = _notifications(relay, environment, lock_path, quiet)
    return _lock.hold(
        environment,
        lock_path,
        purpose=purpose,
        on_waiting=waiting,
        on_acquired=acquired if mode == _lock.EXCLUSIVE else None,
        mode=mode,
        default_timeout=default_timeout,
    )


def _notifications(
    relay: HookRelay, environment: Environment, lock_path: str, quiet: bool
) -> tuple[Callable[[Holder | None, float], None], Callable[[float], None]]:
    """``venvlock_waiting`` and ``venvlock_acquired`` about *lock_path*, as the lock's callbacks."""

    def waiting(holder: Holder | None, waited: float) -> None:
        relay.venvlock_waiting(environment=environment, lock_path=lock_path, holder=holder, waited=waited, quiet=quiet)

    def acquired(waited: float) -> None:
        relay.venvlock_acquired(environment=environment, lock_path=lock_path, waited=waited)

    return waiting, acquired


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
    from venvlock.core._installer import run_installer

    return run_installer(request.installer_command(environment.python), hold)


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
