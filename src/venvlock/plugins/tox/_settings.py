"""Whether the tox plugin is on: ``VENVLOCK_TOX`` for the process, the core setting ``venvlock`` for a project."""

from __future__ import annotations

import os

#: environment variable that turns the plugin off (0/false/no/off)
ENABLE_VAR = "VENVLOCK_TOX"
#: the core setting that turns the plugin off for a project (``venvlock = false``)
SETTING = "venvlock"
_OFF = {"0", "false", "no", "off"}


def enabled_by_environment() -> bool:
    """Whether ``VENVLOCK_TOX`` leaves the plugin on."""
    return os.environ.get(ENABLE_VAR, "").strip().lower() not in _OFF


def enabled(core: object) -> bool:
    """Whether venvlock guards the run environments of the project with core settings *core*."""
    if not enabled_by_environment():
        return False
    try:
        return bool(core[SETTING])  # type: ignore[index]
    except KeyError:  # the setting was not registered (a tox that skipped tox_add_core_config)
        return True
