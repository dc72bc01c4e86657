"""A venvlock plugin that installs with ``uv pip`` instead of pip.

Registered under entry-point group ``venvlock`` as ``uv-installer``; it
answers ``venvlock_install`` only when the user selects it with
``VENVLOCK_INSTALLER=uv`` and the adapter did not bring its own installer.
uv is found as ``$VENVLOCK_UV`` (the uv executable to run: a path, or a
name looked up on ``PATH``), else ``uv`` on ``PATH``, else the one of the
``uv`` Python package; none found is a bad setting (exit 2, in the
command's own words).  uv takes ``<env>/.lock`` itself, so venvlock lends it that lock
while uv runs (``LockHold.lend``) and keeps its own sync lock: other venvlock
processes wait for the sync lock, other uv processes for ``<env>/.lock``, and
uv's own lock timeouts (its cache locks too) stay as the user set them.
"""

from __future__ import annotations

import os
import shutil

from venvlock.hookspec import hookimpl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from venvlock.core import Environment, LockHold, SyncRequest

#: environment variable that selects the installer
INSTALLER_VAR = "VENVLOCK_INSTALLER"


#: environment variable that names the uv executable
UV_VAR = "VENVLOCK_UV"


def find_uv() -> str | None:
    """The uv executable: ``$VENVLOCK_UV``, ``uv`` on ``PATH``, or the one of the ``uv`` package.

    Raises :class:`~venvlock.errors.SettingError` when ``VENVLOCK_UV`` names no executable.
    """
    explicit = os.environ.get(UV_VAR)
    if explicit:
        named = shutil.which(explicit)
        if named is None:
            from venvlock.errors import SettingError

            raise SettingError(f"{UV_VAR}={explicit!r} names no executable uv")
        return named
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return str(find_uv_bin())


@hookimpl
def venvlock_install(environment: Environment, request: SyncRequest, hold: LockHold) -> int | None:
    if os.environ.get(INSTALLER_VAR, "").strip().lower() != "uv" or request.installer is not None:
        return None
    if not request.command:  # pip's reading of the arguments was not certain: pip says what is wrong
        return None
    from venvlock.core import run_installer

    uv = find_uv()
    if uv is None:  # a bad setting: the adapter says so in its own words and exits 2, before anything is done
        from venvlock.errors import SettingError

        raise SettingError(
            f"{INSTALLER_VAR}=uv but no uv was found on PATH: install uv, or set {UV_VAR} to the uv executable"
        )
    command = [uv, "pip", request.command, "--python", environment.python, *_folder_args(environment, request)]
    with hold.lend():
        return run_installer([*command, *request.args], hold)


#: uv's options that send an install into a folder of its own, as ``--option VALUE``, ``--option=VALUE``, ``-tVALUE``
_FOLDER_OPTIONS = ("--target", "--prefix", "-t")


def _folder_args(environment: Environment, request: SyncRequest) -> list[str]:
    """``--target``/``--prefix`` *environment* when it is such a folder that pip's settings chose (``PIP_TARGET``,
    ``target`` in ``[install]`` of ``pip.conf``): uv reads none of pip's settings, and installs where venvlock
    locked and judges.  None when the arguments name the folder themselves (uv reads them)."""
    from venvlock.core import EnvironmentKind

    if environment.kind not in (EnvironmentKind.TARGET, EnvironmentKind.PREFIX):
        return []
    if any(arg.startswith(_FOLDER_OPTIONS) for arg in request.args):
        return []
    return [f"--{environment.kind}", environment.path]
