"""venvlock's own settings, the ``VENVLOCK_*`` environment variables: one reader a variable (the users' table:
``docs/index.md``; ``VENVLOCK_UNLOCKED``: ``docs/faq.md``).  Plain ``os``/``sys``: on the fast path.

Each reader raises :class:`~venvlock.errors.SettingError` for a value that makes no sense; :func:`validate`
reads them all, so that a bad setting is an error on every path (the record fast path too) before any judging.
"""

from __future__ import annotations

import os
import sys

from venvlock._flags import flag
from venvlock.errors import SettingError

TIMEOUT_VAR = "VENVLOCK_TIMEOUT"
INSTALLER_VAR = "VENVLOCK_INSTALLER"
NO_PLUGINS_VAR = "VENVLOCK_NO_PLUGINS"
CACHE_DIR_VAR = "VENVLOCK_CACHE_DIR"
UNLOCKED_VAR = "VENVLOCK_UNLOCKED"
#: seconds to wait for a lock when ``VENVLOCK_TIMEOUT`` is unset
DEFAULT_TIMEOUT = 300.0
#: the installers ``VENVLOCK_INSTALLER`` may name
INSTALLERS = ("pip", "uv")


def timeout(default: float | None = None) -> float:
    """``VENVLOCK_TIMEOUT`` in seconds (unset: *default*, or :data:`DEFAULT_TIMEOUT`): 0 fails at once, negative
    (or ``inf``) waits forever; ``nan`` is an error."""
    raw = os.environ.get(TIMEOUT_VAR, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT if default is None else default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if seconds != seconds:  # nan, or not a number at all
        raise SettingError(
            f"{TIMEOUT_VAR}={raw!r} is not a number of seconds (use e.g. 300; 0 fails at once; -1 waits forever)"
        )
    return -1.0 if seconds == float("inf") or seconds < 0 else seconds


def installer() -> str:
    """``VENVLOCK_INSTALLER``: ``"pip"`` (unset or empty) or ``"uv"``."""
    raw = os.environ.get(INSTALLER_VAR, "").strip()
    if not raw:
        return "pip"
    if raw.lower() not in INSTALLERS:
        raise SettingError(f"{INSTALLER_VAR}={raw!r} is not an installer venvlock knows (use pip or uv)")
    return raw.lower()


def no_plugins() -> bool:
    """``VENVLOCK_NO_PLUGINS``: whether third-party plugins stay unloaded."""
    return flag(NO_PLUGINS_VAR, default=False, on="load no plugins", off="load them, the default")


def cache_dir() -> str:
    """``VENVLOCK_CACHE_DIR``, else the platform's per-user cache folder followed by ``venvlock``."""
    explicit = os.environ.get(CACHE_DIR_VAR)
    if explicit:
        return explicit
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "venvlock")


def unlocked() -> str:
    """``VENVLOCK_UNLOCKED``, where an environment cannot be locked at all: ``"warn"`` (unset) and go on unlocked,
    as uv; or ``"fail"`` (exit 75)."""
    raw = os.environ.get(UNLOCKED_VAR, "").strip().lower()
    if raw in ("", "warn"):
        return "warn"
    if raw == "fail":
        return "fail"
    raise SettingError(f"{UNLOCKED_VAR}={raw!r} is neither warn (go on unlocked, the default) nor fail")


def format_timeout(value: float) -> str:
    """A timeout as messages show it: ``300s``, or ``forever``."""
    return "forever" if value < 0 else f"{value:g}s"


def validate() -> None:
    """Read every ``VENVLOCK_*`` setting, once per set of values in this process; SettingError for the first bad one."""
    global _validated
    values = tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("VENVLOCK_")))
    if values != _validated:
        timeout()
        unlocked()
        installer()
        no_plugins()
        _validated = values


_validated: tuple[tuple[str, str], ...] | None = None
