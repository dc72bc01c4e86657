"""The core's services: the sync and the two locks, the hooks adapters call (see :mod:`venvlock.hookspec`).

:class:`CoreServices` is registered on the plugin manager with the manager's
own hook relay, through which it calls the extension points (lock paths,
check, install, notifications); so this module needs no way back to the
plugin manager, and plugins that answer an extension point are heard.
"""

from __future__ import annotations

from contextvars import ContextVar

from venvlock._markers import hookimpl
from venvlock.core import _lock
from venvlock.core._environment import VENV

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from pluggy import HookRelay

    from venvlock.core._environment import Environment
    from venvlock.core._holder import Holder
    from venvlock.core._lock import LockHold
    from venvlock.core._request import SyncRequest
    from venvlock.core._results import SyncResult


#: ``(environment path, lock path)`` while a sync runs in this context: the lock path it asked for once
_sync_lock_path: ContextVar[tuple[str, str] | None] = ContextVar("venvlock_sync_lock_path", default=None)


class CoreServices:
    """The core's implementations of ``venvlock_sync``, ``venvlock_environment_lock`` and ``venvlock_creation_lock``."""

    def __init__(self, relay: HookRelay) -> None:
        self._relay = relay

    @hookimpl(trylast=True)
    def venvlock_sync(self, environment: Environment, request: SyncRequest) -> SyncResult:
        from venvlock.core._sync import sync

        lock_path: str = self._relay.venvlock_lock_path(environment=environment)  # asked once per sync
        token = _sync_lock_path.set((environment.path, lock_path))
        try:
            return sync(environment, request, self._relay, lock_path)
        finally:
            _sync_lock_path.reset(token)

    @hookimpl(trylast=True)
    def venvlock_environment_lock(
        self, environment: Environment, purpose: str, quiet: bool
    ) -> AbstractContextManager[LockHold]:
        asked = _sync_lock_path.get()
        if asked is not None and asked[0] == environment.path:
            lock_path = asked[1]  # the sync's own answer: the hook is asked once per sync
        else:
            lock_path = self._relay.venvlock_lock_path(environment=environment)
        waiting, acquired = _notifications(self._relay, environment, quiet)
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
        self, environment: Environment, purpose: str, quiet: bool, default_timeout: float | None
    ) -> AbstractContextManager[LockHold]:
        return creation_lock(self._relay, environment, purpose, quiet=quiet, default_timeout=default_timeout)


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
    waiting, acquired = _notifications(relay, environment, quiet)
    return _lock.hold(
        environment,
        lock_path,
        purpose=purpose,
        on_waiting=lambda holder, waited: waiting(lock_path, holder, waited),
        on_acquired=(lambda waited: acquired(lock_path, waited)) if mode == _lock.EXCLUSIVE else None,
        mode=mode,
        create_folder=True,
        default_timeout=default_timeout,
    )


def _notifications(
    relay: HookRelay, environment: Environment, quiet: bool
) -> tuple[Callable[[str, Holder | None, float], None], Callable[[str, float], None]]:
    """``venvlock_waiting`` and ``venvlock_acquired`` for *environment*, as the lock's callbacks."""

    def waiting(lock_path: str, holder: Holder | None, waited: float) -> None:
        relay.venvlock_waiting(environment=environment, lock_path=lock_path, holder=holder, waited=waited, quiet=quiet)

    def acquired(lock_path: str, waited: float) -> None:
        relay.venvlock_acquired(environment=environment, lock_path=lock_path, waited=waited)

    return waiting, acquired
