"""What venvlock knows of uv: the settings that make ``uv pip install`` do more than pip's reading of a request says.

When uv installs (``VENVLOCK_INSTALLER=uv``, nox's uv backend, hatch's
``installer = "uv"``, tox-uv), uv reads its own settings, not pip's: a
``UV_UPGRADE`` or a ``[pip]`` table in a ``uv.toml`` changes what the request
means.  Then the check cannot judge, no record answers, and uv runs.  Imports
no core module; plain ``os`` only: on the fast path when uv installs.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# uv settings that change what a request means.
# (UV_PYTHON and UV_PROJECT_ENVIRONMENT are absent on purpose: nox sets them to the session's venv.)
MEANINGFUL = (
    "UV_CONSTRAINT", "UV_OVERRIDE", "UV_EXCLUDE", "UV_BUILD_CONSTRAINT", "UV_NO_DEPS", "UV_REINSTALL",
    "UV_UPGRADE", "UV_UPGRADE_PACKAGE", "UV_REINSTALL_PACKAGE", "UV_RESOLUTION", "UV_PRERELEASE",
    "UV_TORCH_BACKEND", "UV_EXCLUDE_NEWER", "UV_SYSTEM_PYTHON", "UV_BREAK_SYSTEM_PACKAGES", "UV_TARGET",
    "UV_PREFIX",
)  # fmt: skip


def changes_meaning(environ: Mapping[str, str], cwd: str) -> bool:
    """Whether uv settings may make ``uv pip install`` do more than pip's reading of the request says."""
    if any(key in environ for key in MEANINGFUL) or "UV_CONFIG_FILE" in environ:
        return True
    return any(_SECTIONS[os.path.basename(path)] in _read(path) for path in settings_files(environ, cwd))


def settings_files(environ: Mapping[str, str], cwd: str) -> list[str]:
    """The uv configuration files :func:`changes_meaning` reads for *cwd*, present or not, in uv's order.

    The nearest ``uv.toml`` and ``pyproject.toml`` up from *cwd*, the user's
    ``uv.toml`` (``$XDG_CONFIG_HOME/uv``, ``~/.config/uv``; ``%APPDATA%\\uv``),
    the system's (``$XDG_CONFIG_DIRS/uv``, by default ``/etc/xdg/uv``, then ``/etc/uv``;
    ``%PROGRAMDATA%\\uv``); none with ``UV_NO_CONFIG``.  A proof that a request
    means the same as before (:mod:`venvlock._fast`) looks at each.
    """
    if "UV_NO_CONFIG" in environ:
        return []
    files = []
    folder = os.path.abspath(cwd)
    while True:
        files += [os.path.join(folder, "uv.toml"), os.path.join(folder, "pyproject.toml")]
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    folders = [environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")]
    if os.name == "nt":
        folders += [environ[name] for name in ("APPDATA", "PROGRAMDATA") if environ.get(name)]
    else:
        folders += [*filter(None, (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)), "/etc"]
    return [*files, *(os.path.join(folder, "uv", "uv.toml") for folder in folders)]


#: the table of a configuration file, by its name, whose settings change what ``uv pip install`` does
_SECTIONS = {"uv.toml": "[pip", "pyproject.toml": "[tool.uv.pip"}


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return ""
