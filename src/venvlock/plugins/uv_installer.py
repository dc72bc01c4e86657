"""A venvlock plugin that installs with ``uv pip`` instead of pip.

Registered under entry-point group ``venvlock`` as ``uv-installer``; it
answers ``venvlock_install`` only when the user selects it with
``VENVLOCK_INSTALLER=uv`` and the adapter did not bring its own installer.
uv is found as ``$VENVLOCK_UV``, on ``PATH``, or from the ``uv`` Python
package.  uv takes ``<env>/.lock`` itself, so venvlock lends it that lock
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


def find_uv() -> str | None:
    """The uv executable: ``$VENVLOCK_UV``, ``uv`` on ``PATH``, or the one of the ``uv`` package."""
    explicit = os.environ.get("VENVLOCK_UV")
    if explicit:
        return explicit
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
    if uv is None:
        import sys

        print(f"venvlock: error: {INSTALLER_VAR}=uv but no uv was found (set VENVLOCK_UV)", file=sys.stderr)
        return 1
    with hold.lend():
        return run_installer([uv, "pip", request.command, "--python", environment.python, *request.args], hold)
