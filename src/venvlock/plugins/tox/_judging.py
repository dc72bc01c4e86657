"""Which installer commands of tox venvlock may judge: pip, run by the environment's python, seeing what venvlock sees.

tox runs its ``install_command`` (default ``python -I -m pip install {opts}
{packages}``) with the run environment's variables: ``pass_env`` filtered
from tox's own, ``set_env`` on top.  The core's check reads pip's settings
(``PIP_*`` variables, the configuration files that ``HOME`` and
``XDG_CONFIG_*`` locate, the ``${NAME}`` a requirement file expands) from
*this* process's environment.  So a verdict is only true of tox's install
when the command is exactly pip and every variable pip would read has the
same value in both environments.  Anything else (uv, ``pip-locked``, a
script, a ``set_env`` or ``pass_env`` that changes what pip reads) cannot be
judged: tox's installer runs, as without venvlock.
"""

from __future__ import annotations

import os
import re
import shutil
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: variables pip reads, by prefix (``_PIP_`` are pip's internal ones, ``_PIP_IN_BUILD_IGNORE_CONSTRAINTS``...)
_READ_PREFIXES = ("PIP_", "_PIP_")
#: pip variables whose value changes nothing pip decides to install (tox sets the first for every run environment)
_NO_DECISION = (
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_NO_PYTHON_VERSION_WARNING",
    "PIP_NO_COLOR",
    "PIP_PROGRESS_BAR",
    "PIP_NO_INPUT",
    "PIP_ROOT_USER_ACTION",
)
#: pip's spellings of false: tox sets ``PIP_USER=0``, which is pip's default
_FALSE = ("0", "false", "no", "off", "n", "f")
#: variables that locate pip's configuration files (and ``~`` in paths)
_READ_NAMES = ("HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "APPDATA", "LOCALAPPDATA", "PROGRAMDATA", "USERPROFILE")
#: variables that change what an interpreter not run with ``-I``/``-E`` sees as installed
_INTERPRETER_NAMES = ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONNOUSERSITE", "PYTHONPLATLIBDIR")
#: interpreter flags before ``-m pip`` that change nothing pip decides (``-I``/``-E`` only ignore variables)
_HARMLESS_FLAGS = ("-I", "-E", "-s", "-B", "-u")
_INTERPRETER = re.compile(r"python(\d+(\.\d+)?)?(\.exe)?", re.IGNORECASE)
#: how pip finds variables in requirement files (``${NAME}``, upper case, digits and ``_`` only)
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_FILE_OPTION = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+|(?=\S))(\S+)")


def pip_arguments(
    command: Sequence[str],
    *,
    installer_environ: Mapping[str, str],
    bin_dir: str,
    cwd: str,
    environ: Mapping[str, str] | None = None,
) -> tuple[list[str] | None, str]:
    """The pip ``install`` arguments of tox's installer *command* if the core can judge them exactly.

    *installer_environ*: the variables tox runs *command* with; *bin_dir*:
    the run environment's scripts folder; *cwd*: where tox runs it;
    *environ*: what the core reads (default ``os.environ``).  Returns
    ``(arguments, "")``, or ``(None, why not)``.
    """
    environ = os.environ if environ is None else environ
    words = [str(word) for word in command]
    if not words or not _runs_environment_python(words[0], installer_environ, bin_dir, cwd):
        return None, "the installer is not the environment's python -m pip"
    index, flags = 1, []
    while index < len(words) and words[index] in _HARMLESS_FLAGS:
        flags.append(words[index])
        index += 1
    if words[index : index + 3] != ["-m", "pip", "install"]:
        return None, "the installer is not pip install"
    arguments = words[index + 3 :]
    names = [name for name in _union(environ, installer_environ) if name.startswith(_READ_PREFIXES)]
    names.extend(_READ_NAMES)
    if not {"-I", "-E"} & set(flags):
        names.extend(_INTERPRETER_NAMES)
    for name in names:
        if name not in _NO_DECISION and _value(environ, name) != _value(installer_environ, name):
            return None, f"tox runs pip with another {name}"
    from_settings = [_get(installer_environ, name) or "" for name in ("PIP_CONSTRAINT", "PIP_REQUIREMENT")]
    for name in _expanded(arguments, cwd, " ".join(from_settings).split()):
        if _get(environ, name) != _get(installer_environ, name):
            return None, f"a requirement file expands ${{{name}}}, which tox sets otherwise"
    return arguments, ""


def _runs_environment_python(program: str, installer_environ: Mapping[str, str], bin_dir: str, cwd: str) -> bool:
    """Whether *program*, found as tox finds it (on the installer's PATH), is an interpreter of *bin_dir*."""
    if not _INTERPRETER.fullmatch(os.path.basename(program)):
        return False
    if os.sep in program or (os.altsep and os.altsep in program):
        found: str | None = os.path.join(cwd, program)
    else:
        found = shutil.which(program, path=installer_environ.get("PATH", ""))
    if found is None or not os.path.exists(found):
        return False
    try:
        return os.path.samefile(os.path.dirname(os.path.abspath(found)), bin_dir)
    except OSError:
        return False


def _expanded(arguments: Sequence[str], cwd: str, from_settings: list[str]) -> set[str]:
    """The ``${NAME}`` that the requirement and constraint files named in *arguments* (and those they name) expand.

    Only looks for the names, reading no requirement: the core reads them.
    A file that cannot be read names nothing here (the core's check or pip
    reports it).
    """
    files = [*from_settings, *_file_values(arguments)]
    names: set[str] = set()
    seen: set[str] = set()
    while files:
        name = files.pop()
        path = os.path.normpath(os.path.join(cwd, os.path.expanduser(name)))
        if path in seen or "://" in name:
            continue
        seen.add(path)
        try:
            with open(path, encoding="utf-8", errors="replace") as file:
                text = file.read()
        except OSError:
            continue
        names.update(_VARIABLE.findall(text))
        folder = os.path.dirname(path)
        for line in text.splitlines():
            match = _FILE_OPTION.match(line)
            if match:
                files.append(os.path.join(folder, match.group(1)))
    return names


def _file_values(arguments: Sequence[str]) -> list[str]:
    found: list[str] = []
    for word, after in zip(arguments, [*arguments[1:], ""], strict=True):
        match = _FILE_OPTION.match(word)
        if word in ("-r", "-c", "--requirement", "--constraint"):
            found.append(after)
        elif match:
            found.append(match.group(1))
    return found


def _union(*environs: Mapping[str, str]) -> set[str]:
    return {_key(name) for environ in environs for name in environ}


def _key(name: str) -> str:
    return name.upper() if sys.platform == "win32" else name


def _value(environ: Mapping[str, str], name: str) -> str | None:
    """*name*'s value as pip reads it (``PIP_USER`` false is pip's default, as unset)."""
    value = _get(environ, name)
    if name == "PIP_USER" and value is not None and value.strip().lower() in _FALSE:
        return None
    return value


def _get(environ: Mapping[str, str], name: str) -> str | None:
    if sys.platform != "win32":
        return environ.get(name)
    return next((value for key, value in environ.items() if key.upper() == name), None)
