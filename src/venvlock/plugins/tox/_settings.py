"""Whether the tox plugin is on: ``VENVLOCK_TOX`` for the process, the core setting ``venvlock`` for a project."""

from __future__ import annotations

from venvlock.adapter import SettingError, setting_flag

#: environment variable that turns the plugin off (0/false/no/off, in any case; unset or empty: on)
ENABLE_VAR = "VENVLOCK_TOX"
#: the core setting that turns the plugin off for a project (``venvlock = false``)
SETTING = "venvlock"


def _from_environment() -> bool:
    """``VENVLOCK_TOX`` as venvlock reads its on/off settings; SettingError when it is neither."""
    return setting_flag(ENABLE_VAR, default=True, on="locked, the default", off="tox runs unlocked")


def enabled_by_environment() -> bool:
    """Whether ``VENVLOCK_TOX`` leaves the plugin on (a value neither on nor off does: :func:`enabled` reports it)."""
    try:
        return _from_environment()
    except SettingError:
        return True


def enabled(core: object) -> bool:
    """Whether venvlock guards the run environments of the project with core settings *core*.

    Raises :class:`~venvlock.errors.SettingError` for a ``VENVLOCK_TOX`` neither on nor off.
    """
    if not _from_environment():
        return False
    try:
        return bool(core[SETTING])  # type: ignore[index]
    except KeyError:  # the setting was not registered (a tox that skipped tox_add_core_config)
        return True
