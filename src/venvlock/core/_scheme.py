"""What an interpreter says of where its installer puts things: its prefixes, install scheme and PEP 508 markers.

Asked once per process and interpreter (:func:`ask_interpreter`).  Loaded when an
environment's package folders or an interpreter's answers are needed (a check,
verify, repair, an interpreter outside any venv), never by a process that only
takes locks (a nox or tox no-op).
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

from venvlock.errors import SettingError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Scheme(NamedTuple):
    """Where an environment's installer puts things, as its interpreter says.

    *packages*: purelib and platlib; *other*: the scripts and data folders; *extra_sites*: the interpreter's
    other site folders (``site.getsitepackages()``: Debian's ``dist-packages``), read by verify, never written.
    """

    prefix: str
    base_prefix: str
    packages: list[str]
    other: list[str]
    extra_sites: list[str]

    def site_folders(self) -> list[str]:
        """Real paths of the existing package folders, purelib/platlib first, no duplicates."""
        return _unique_real([*self.packages, *self.extra_sites], existing=True)

    def package_folders(self) -> list[str]:
        """Real paths of the existing purelib/platlib folders, no duplicates (no other site folder)."""
        return _unique_real(self.packages, existing=True)

    def roots(self) -> list[str]:
        """Real paths of the folders the installer writes to: the one containment of every delete."""
        return _unique_real([*self.packages, *self.other], existing=False)

    @classmethod
    def of_interpreter(cls, python: str) -> Scheme:
        """Ask *python* for its prefixes and install scheme; SettingError when it cannot answer."""
        said = ask_interpreter(python)
        try:
            return cls(
                str(said["prefix"]),
                str(said["base_prefix"]),
                [str(said["purelib"]), str(said["platlib"])],
                [str(said["scripts"]), str(said["data"])],
                [str(folder) for folder in said["sites"]],
            )
        except (KeyError, TypeError):
            raise SettingError(f"{python} is not a Python interpreter") from None


def ask_interpreter(python: str) -> dict[str, Any]:
    """What *python* says of itself (once per process): its prefixes, install scheme and, unless it is the running
    interpreter (whose markers are packaging's ``default_environment``), its PEP 508 ``markers``; SettingError
    when it cannot answer."""
    if python in _asked:
        return _asked[python]
    said: object = None
    if python == sys.executable:
        facts: dict[str, Any] = {}
        exec(_SCHEME_CODE, facts)  # our own constant: the very code another interpreter is asked to run
        said = facts["answer"]
    else:
        import json
        import subprocess

        command = [python, "-I", "-c", _SCHEME_CODE + _MARKERS_CODE + "import json; print(json.dumps(answer))\n"]
        try:
            answer = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as error:
            raise SettingError(f"{python} is not a Python interpreter ({error})") from None
        try:
            said = json.loads(answer.stdout) if answer.returncode == 0 else None
        except ValueError:
            pass
    if not isinstance(said, dict) or not os.path.isabs(str(said.get("prefix"))):
        raise SettingError(f"{python} is not a Python interpreter")
    _asked[python] = said
    return said


#: what each interpreter asked in this process said
_asked: dict[str, dict[str, Any]] = {}

#: what an interpreter is asked: it leaves its answer in ``answer``
_SCHEME_CODE = """
import site, sys, sysconfig
paths = sysconfig.get_paths()
answer = {"prefix": sys.prefix, "base_prefix": sys.base_prefix, "purelib": paths["purelib"],
    "platlib": paths["platlib"], "scripts": paths["scripts"], "data": paths["data"],
    "sites": site.getsitepackages() if hasattr(site, "getsitepackages") else []}
"""
#: ... and, another interpreter, its marker values (as packaging's ``default_environment``)
_MARKERS_CODE = """
import os, platform
info = sys.implementation.version
version = "%d.%d.%d" % (info.major, info.minor, info.micro)
if info.releaselevel != "final":
    version += info.releaselevel[0] + str(info.serial)
answer["markers"] = {
    "implementation_name": sys.implementation.name, "implementation_version": version,
    "os_name": os.name, "platform_machine": platform.machine(), "platform_release": platform.release(),
    "platform_system": platform.system(), "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]), "sys_platform": sys.platform,
}
"""


def _unique_real(folders: list[str], *, existing: bool) -> list[str]:
    unique: list[str] = []
    for folder in folders:
        real = os.path.realpath(folder)
        if real not in unique and (not existing or os.path.isdir(real)):
            unique.append(real)
    return unique
