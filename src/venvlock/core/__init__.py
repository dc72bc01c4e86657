"""The venvlock core: one lock-and-sync engine, reached through the hooks (:func:`hooks`, see
:mod:`venvlock.hookspec`).  ``__all__`` is everything an adapter or plugin may use; ``pluggy`` and
``packaging`` load only when the work needs them.
"""

from __future__ import annotations

from venvlock.core import _lock_services
from venvlock.core._environment import Environment, EnvironmentKind
from venvlock.core._holder import Holder, redact
from venvlock.core._lock import LockHold
from venvlock.core._plugins import hooks, plugin_manager, plugins_may_answer
from venvlock.errors import LockTimeoutError, LockUnavailableError, SettingError, VenvlockError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from pluggy import HookRelay

    from venvlock.core._installer import run_installer
    from venvlock.core._probe import LockState, probe_lock
    from venvlock.core._request import SyncRequest
    from venvlock.core._results import Outcome, SyncResult, Verdict
    from venvlock.core._sync import recorded_after_running_sync, recorded_sync

#: public names whose modules load on their first use, from their own module (no forwarder): a process that only
#: takes locks (a tox or nox no-op) never loads what a sync needs
_DEFERRED = {
    "SyncRequest": "venvlock.core._request",
    "Outcome": "venvlock.core._results",
    "SyncResult": "venvlock.core._results",
    "Verdict": "venvlock.core._results",
    "LockState": "venvlock.core._probe",
    "probe_lock": "venvlock.core._probe",
    "run_installer": "venvlock.core._installer",
    "recorded_sync": "venvlock.core._sync",
    "recorded_after_running_sync": "venvlock.core._sync",
}


def __getattr__(name: str) -> object:
    module = _DEFERRED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found here from now on
    return value


def creation_lock_path(environment: Environment) -> str:
    """*environment*'s creation lock file (``venvlock_creation_lock_path``; it need not exist)."""
    return _lock_services.creation_lock_path(environment, _relay())


def lock_path(environment: Environment) -> str:
    """*environment*'s lock file, uv's ``<env>/.lock`` (``venvlock_lock_path``; it need not exist)."""
    return _lock_services.lock_path(environment, _relay())


def creation_lock(
    environment: Environment, *, purpose: str, quiet: bool = False, default_timeout: float | None = None
) -> AbstractContextManager[LockHold]:
    """Hold *environment*'s creation lock exclusively (``venvlock_creation_lock``)."""
    relay = _relay(locking=True)
    if relay is None:
        return _lock_services.creation_lock(
            environment, purpose, quiet=quiet, default_timeout=default_timeout, relay=None
        )
    manager: AbstractContextManager[LockHold] = relay.venvlock_creation_lock(
        environment=environment, purpose=purpose, quiet=quiet, default_timeout=default_timeout
    )  # the core's implementation always answers (a plugin's may answer first)
    return manager


def environment_lock(
    environment: Environment, *, purpose: str, quiet: bool = False
) -> AbstractContextManager[LockHold]:
    """Hold *environment*'s environment lock, venvlock's sync lock then uv's ``<env>/.lock``
    (``venvlock_environment_lock``)."""
    relay = _relay(locking=True)
    if relay is None:
        return _lock_services.environment_lock(environment, purpose, quiet=quiet, relay=None)
    manager: AbstractContextManager[LockHold] = relay.venvlock_environment_lock(
        environment=environment, purpose=purpose, quiet=quiet
    )  # the core's implementation always answers
    return manager


def shared_lock(
    environment: Environment, *, purpose: str, quiet: bool = False, default_timeout: float | None = None
) -> AbstractContextManager[LockHold]:
    """Hold *environment*'s creation lock shared: readers (a tox run's commands) side by side, never beside a
    creation (waits through ``venvlock_waiting``); under an ancestor's exclusive hold, at once (nested)."""
    return _lock_services.creation_lock(
        environment,
        purpose,
        quiet=quiet,
        default_timeout=default_timeout,
        relay=_relay(locking=True),
        mode=_lock_services.SHARED,
    )


def _relay(*, locking: bool = False) -> HookRelay | None:
    """The hooks to ask about locks, or None where only the core can answer: its answers are then taken without
    pluggy or the plugin manager (:func:`plugins_may_answer`, remembered by a process *locking*)."""
    return hooks() if plugins_may_answer(remember=locking) else None


__all__ = [
    "Environment",
    "EnvironmentKind",
    "Holder",
    "LockHold",
    "LockState",
    "LockTimeoutError",
    "LockUnavailableError",
    "Outcome",
    "SettingError",
    "SyncRequest",
    "SyncResult",
    "VenvlockError",
    "Verdict",
    "creation_lock",
    "creation_lock_path",
    "environment_lock",
    "hooks",
    "lock_path",
    "plugin_manager",
    "plugins_may_answer",
    "probe_lock",
    "recorded_after_running_sync",
    "recorded_sync",
    "redact",
    "run_installer",
    "shared_lock",
]
