"""The core's hook implementations: the services adapters call and the default extension points.

The services (``venvlock_sync``, and the two locks of :mod:`._lock_services`;
see :mod:`venvlock.hookspec`) call the extension points through :data:`relay`,
the plugin manager's own hook relay, set by :mod:`._plugins` before it
registers this module: so this module needs no way back to the plugin
manager, and plugins that answer an extension point are heard.  Everything
is registered with ``trylast=True``, so a plugin's answer wins where it
gives one.
"""

from __future__ import annotations

import threading

from venvlock._markers import hookimpl
from venvlock.core import _lock_services

TYPE_CHECKING = False
if TYPE_CHECKING:
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
    path = asked[1] if asked is not None and asked[0] == environment.path else None  # a sync asks it only once
    return _lock_services.environment_lock(environment, purpose, quiet=quiet, relay=relay, path=path)


@hookimpl(trylast=True)
def venvlock_creation_lock(
    environment: Environment, purpose: str, quiet: bool, default_timeout: float | None
) -> AbstractContextManager[LockHold]:
    return _lock_services.creation_lock(environment, purpose, quiet=quiet, default_timeout=default_timeout, relay=relay)


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
    _lock_services.waiting(environment, lock_path, holder, waited, quiet)
