"""Which environments a ``venvlock`` command is about: the default one, given paths, and ``--all``.

* The default: ``$VIRTUAL_ENV``, else ``./.venv``.
* A path: a virtual environment's folder, or an interpreter (its environment).
* ``--all`` (status): also every folder of ``.nox/`` and ``.tox/`` in the
  working folder, and this project's hatch environments of type ``virtual``
  or ``venvlock`` at hatch's default location (``$HATCH_DATA_DIR``, else the
  platform's user data folder, then ``env/<type>/<project>/<project id>/``).  Environments
  configured elsewhere (hatch's ``dirs.env`` or ``path``) are named explicitly.
"""

from __future__ import annotations

import os
import sys

from venvlock.adapter import Adapter
from venvlock.core import Environment
from venvlock.errors import SettingError


def default_path() -> str:
    """``$VIRTUAL_ENV``, else ``./.venv``."""
    return os.environ.get("VIRTUAL_ENV") or os.path.join(os.getcwd(), ".venv")


def environment_at(path: str | None, *, must_exist: bool = True) -> Environment:
    """The environment at *path* (None: the default); a :class:`SettingError` when there is none to work on."""
    chosen = os.path.expanduser(path) if path else default_path()
    if os.path.isdir(chosen):
        if Environment.is_venv(chosen) or not must_exist:
            return Adapter.environment(chosen)
        raise SettingError(f"{chosen} is not a virtual environment (it has no pyvenv.cfg)")
    if os.path.isfile(chosen):
        return Adapter.environment_of_python(chosen)
    if must_exist:
        hint = "" if path else " (activate one, or give its path)"
        raise SettingError(f"no environment at {chosen}{hint}")
    return Adapter.environment(chosen)


def discover(cwd: str) -> list[Environment]:
    """The environments ``--all`` adds: ``.nox/*``, ``.tox/*`` and the project's hatch environments."""
    found: list[Environment] = []
    for tool_folder in (".nox", ".tox"):
        base = os.path.join(cwd, tool_folder)
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            path = os.path.join(base, name)
            if not name.startswith(".") and os.path.isdir(path) and not os.path.islink(path):
                found.append(Adapter.environment(path))
    found.extend(Adapter.environment(path) for path in hatch_environments(cwd))
    return found


def _project_root(cwd: str) -> str | None:
    folder = os.path.abspath(cwd)
    while True:
        if os.path.isfile(os.path.join(folder, "pyproject.toml")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


#: hatch environment types whose folders are found: hatch's own, and venvlock's hatch plugin's
HATCH_TYPES = ("virtual", "venvlock")


def hatch_data_dir() -> str:
    """hatch's data folder: ``$HATCH_DATA_DIR``, else ``platformdirs.user_data_dir("hatch")``."""
    explicit = os.environ.get("HATCH_DATA_DIR")
    if explicit:
        return os.path.expanduser(explicit)
    if sys.platform == "win32":
        return os.path.join(os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local"), "hatch")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Application Support/hatch")
    return os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "hatch")


def hatch_project_id(root: str) -> str:
    """hatch's id of the project at *root*: the first 8 characters of its path's urlsafe-base64 sha256."""
    import base64
    import hashlib

    path = root.casefold() if sys.platform in ("win32", "darwin") else root
    return base64.urlsafe_b64encode(hashlib.sha256(path.encode("utf-8")).digest()).decode("ascii")[:8]


def hatch_environments(cwd: str) -> list[str]:
    """Folders of this project's hatch environments (types :data:`HATCH_TYPES`) at hatch's default location."""
    root = _project_root(cwd)
    if root is None:
        return []
    project_id = hatch_project_id(root)
    found: list[str] = []
    for environment_type in HATCH_TYPES:
        found.extend(_hatch_environments(os.path.join(hatch_data_dir(), "env", environment_type), project_id))
    return found


def _hatch_environments(base: str, project_id: str) -> list[str]:
    found: list[str] = []
    try:
        projects = sorted(os.listdir(base))
    except OSError:
        return found
    for project in projects:
        storage = os.path.join(base, project, project_id)
        try:
            names = sorted(os.listdir(storage))
        except OSError:
            continue
        for name in names:
            path = os.path.join(storage, name)
            half_built = os.path.lexists(os.path.join(storage, f".{name}.incomplete"))
            if not name.startswith(".") and os.path.isdir(path) and (Environment.is_venv(path) or half_built):
                found.append(path)
    return found
