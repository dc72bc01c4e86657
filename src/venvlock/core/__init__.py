"""The venvlock core: one lock-and-sync engine, reached through the hooks (:func:`hooks`, see
:mod:`venvlock.hookspec`).  ``__all__`` is everything an adapter or plugin may use; ``pluggy`` and
``packaging`` load only when the work needs them.
"""

from __future__ import annotations

from venvlock.core._environment import Environment, EnvironmentKind
from venvlock.core._holder import Holder, redact
from venvlock.core._lock import LockHold
from venvlock.core._plugins import hooks, plugin_manager
from venvlock.errors import LockTimeoutError, LockUnavailableError, SettingError, VenvlockError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextlib import AbstractContextManager

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


def shared_lock(
    environment: Environment, *, purpose: str, quiet: bool = False, default_timeout: float | None = None
) -> AbstractContextManager[LockHold]:
    """Hold *environment*'s creation lock shared: readers (a tox run's commands) side by side, never beside a
    creation (waits through ``venvlock_waiting``); under an ancestor's exclusive hold, at once (nested)."""
    from venvlock.core._lock import SHARED
    from venvlock.core._services import creation_lock

    return creation_lock(hooks(), environment, purpose, quiet=quiet, default_timeout=default_timeout, mode=SHARED)


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
    "hooks",
    "plugin_manager",
    "probe_lock",
    "recorded_after_running_sync",
    "recorded_sync",
    "redact",
    "run_installer",
    "shared_lock",
]
