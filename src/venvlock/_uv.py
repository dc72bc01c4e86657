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
    if "UV_NO_CONFIG" in environ:
        return False
    # uv's configuration files: the nearest pyproject.toml/uv.toml up from here, the user's, the system's
    folder = os.path.abspath(cwd)
    while True:
        for name, section in (("uv.toml", "[pip"), ("pyproject.toml", "[tool.uv.pip")):
            if section in _read(os.path.join(folder, name)):
                return True
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    config_home = environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    user, system = os.path.join(config_home, "uv", "uv.toml"), "/etc/uv/uv.toml"
    return "[pip" in _read(user) or "[pip" in _read(system)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return ""
