"""Which environments a ``venvlock`` command is about: the default one, given paths, and ``--all``.

* The default: the environment pip would use, by pip-locked's rule
  (:func:`venvlock.adapter.pip.environment_pip_would_use`): ``PIP_PYTHON`` (or
  ``python`` in pip's configuration), else ``$VIRTUAL_ENV``, else the
  interpreter running venvlock.  Which one and why is said on stderr.
* A path (``-p PATH``): a virtual environment's folder, or an interpreter
  (its environment), as pip's ``--python`` takes them.
* ``--all`` (status): also ``./.venv``, every folder of ``.nox/`` and
  ``.tox/`` in the working folder, and this project's hatch environments of
  type ``virtual`` or ``venvlock`` at hatch's default location
  (``$HATCH_DATA_DIR``, else the platform's user data folder, then
  ``env/<type>/<project>/<project id>/``).  Environments configured elsewhere
  (hatch's ``dirs.env`` or ``path``) are named explicitly.
"""

from __future__ import annotations

import os
import sys

from venvlock.adapter import Adapter, Marker, display_path
from venvlock.cli._messages import note
from venvlock.core import Environment
from venvlock.errors import SettingError

#: the project's own environment, which ``--all`` adds and the default names when it is not chosen
PROJECT_VENV = ".venv"


def default_environment() -> tuple[Environment, str]:
    """The environment pip would use here, and why (for the line that names it): pip-locked's rule, shared."""
    from venvlock.adapter.pip import environment_pip_would_use

    environment, reason = environment_pip_would_use()
    if reason == "PIP_PYTHON is set":
        return environment, f"from PIP_PYTHON={os.environ.get('PIP_PYTHON', '')}"
    if reason == "$VIRTUAL_ENV":
        return environment, "from VIRTUAL_ENV"
    if reason.startswith("python in [global]"):
        return environment, f"from the python setting of pip's configuration ({reason})"
    why = f"the interpreter running venvlock, {display_path(sys.executable)}: none is active"
    project = os.path.join(os.getcwd(), PROJECT_VENV)
    if Environment.is_venv(project) and Adapter.environment(project) != environment:
        why += f"; for ./{PROJECT_VENV}, activate it or give -p {PROJECT_VENV}"
    return environment, why


def environment_at(path: str | None, *, must_exist: bool = True) -> Environment:
    """The environment at *path* (None: the default, named on stderr); a :class:`SettingError` when there is none.

    A folder without ``pyvenv.cfg`` is a virtual environment not (yet)
    complete: an error unless *must_exist* is False.  A file is an
    interpreter: its environment (a venv, or the interpreter's own).
    """
    if not path:
        environment, why = default_environment()
        note(f"environment: {environment.name} ({why})")
        return environment
    chosen = os.path.expanduser(path)
    if os.path.isdir(chosen):
        if Environment.is_venv(chosen):
            return Adapter.environment(chosen)
        if not must_exist:
            return Adapter.environment(chosen)
        raise SettingError(f"{chosen} is not a virtual environment (it has no pyvenv.cfg)")
    if os.path.isfile(chosen):
        return Adapter.environment_of_python(chosen)
    if must_exist:
        raise SettingError(f"no environment at {chosen}")
    return Adapter.environment(chosen)


def discover(cwd: str) -> list[Environment]:
    """The environments ``--all`` adds: ``./.venv``, ``.nox/*``, ``.tox/*`` and the project's hatch environments."""
    found: list[Environment] = []
    project = os.path.join(cwd, PROJECT_VENV)
    if Environment.is_venv(project):
        found.append(Adapter.environment(project))
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
            if (
                not name.startswith(".")
                and os.path.isdir(path)
                and (Environment.is_venv(path) or Marker.find_incomplete(path) is not None)
            ):
                found.append(path)
    return found
