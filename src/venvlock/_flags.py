"""The one reader of venvlock's on/off variables (``VENVLOCK_NO_PLUGINS``, ``VENVLOCK_TOX``, ``VENVLOCK_POETRY``).

Plain ``os``: tox's and poetry's plugins read their switch at every start of the tool, before any of the
core is loaded; the core's settings (:mod:`venvlock.core._settings`) read theirs here too.
"""

from __future__ import annotations

import os

from venvlock.errors import SettingError

#: the spellings of on and off (tox's, pip's), in any case
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag(name: str, *, default: bool, on: str, off: str) -> bool:
    """The on/off variable *name*: 1/true/yes/on or 0/false/no/off in any case; unset or empty: *default*.

    Anything else is a :class:`~venvlock.errors.SettingError` saying what 1 (*on*) and 0 (*off*) mean: a typo
    (``flase``) is never taken for either.
    """
    raw = os.environ.get(name, "").strip()
    value = raw.lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingError(f"{name}={raw!r} is neither 1 ({on}) nor 0 ({off})")
