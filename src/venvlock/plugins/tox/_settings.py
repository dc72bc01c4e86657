"""Whether the tox plugin is on: ``VENVLOCK_TOX`` for the process, the core setting ``venvlock`` for a project."""

from __future__ import annotations

import os

from venvlock.errors import SettingError

#: environment variable that turns the plugin off (0/false/no/off)
ENABLE_VAR = "VENVLOCK_TOX"
#: the core setting that turns the plugin off for a project (``venvlock = false``)
SETTING = "venvlock"
#: the spellings tox accepts for its own boolean settings (unset or empty: on)
_ON = {"", "1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}


def _from_environment() -> bool | None:
    """``VENVLOCK_TOX`` as a boolean; None when it is neither on nor off."""
    raw = os.environ.get(ENABLE_VAR, "").strip().lower()
    return True if raw in _ON else False if raw in _OFF else None


def enabled_by_environment() -> bool:
    """Whether ``VENVLOCK_TOX`` leaves the plugin on (a value neither on nor off does: :func:`enabled` reports it)."""
    return _from_environment() is not False


def enabled(core: object) -> bool:
    """Whether venvlock guards the run environments of the project with core settings *core*.

    Raises :class:`~venvlock.errors.SettingError` for a ``VENVLOCK_TOX`` neither on nor off.
    """
    on = _from_environment()
    if on is None:
        raw = os.environ.get(ENABLE_VAR, "")
        raise SettingError(f"{ENABLE_VAR}={raw!r} is neither 0 (tox runs unlocked) nor 1 (locked, the default)")
    if not on:
        return False
    try:
        return bool(core[SETTING])  # type: ignore[index]
    except KeyError:  # the setting was not registered (a tox that skipped tox_add_core_config)
        return True
