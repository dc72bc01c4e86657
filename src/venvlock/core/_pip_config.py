"""pip's configuration as pip 26.3 reads it: its files, in its order, and its ``PIP_*`` variables.

Files (``configuration.py``): the global ones (``$XDG_CONFIG_DIRS/pip/pip.conf``,
``/etc/pip.conf``), the user's (``~/.pip/pip.conf``, ``$XDG_CONFIG_HOME/pip/pip.conf``;
skipped with ``--isolated`` or when ``PIP_CONFIG_FILE`` names an existing
file), the *site* one, ``<sys.prefix>/pip.conf`` of the interpreter that runs
pip (a venv's own), then ``PIP_CONFIG_FILE``.  ``PIP_CONFIG_FILE=/dev/null``
skips them all.  Later files win; ``PIP_*`` variables (not read with
``--isolated``) win over files.  ``pip install`` reads the sections
``[global]`` and ``[install]``; the main parser, which decides ``--python``,
reads ``[global]`` only.

Plain Python only: this module is on the fast path.
"""

from __future__ import annotations

import os
import sys

from venvlock.core._pip_options import CONSTRAINT, ELSEWHERE, HARMLESS, setting_option

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

_CONFIG_NAME = "pip.ini" if os.name == "nt" else "pip.conf"
# PIP_* names pip does not read as settings
_IGNORED = {"version", "help", "config-file"}


class PipSettings:
    """What pip's settings say about an install.

    :ivar fingerprint: lines that change when any setting read changes (files read or absent, variables).
    :ivar constraint_files: constraint files named by settings.
    :ivar python: the interpreter pip would re-run itself under (``python`` in ``[global]``, ``PIP_PYTHON``).
    :ivar python_source: where :attr:`python` was set.
    :ivar cannot_judge: a setting the check cannot reproduce, or "".
    """

    __slots__ = ("cannot_judge", "constraint_files", "fingerprint", "python", "python_source")

    def __init__(self) -> None:
        self.fingerprint: list[str] = []
        self.constraint_files: list[str] = []
        self.python: str | None = None
        self.python_source = ""
        self.cannot_judge = ""

    def refuse(self, reason: str) -> None:
        self.cannot_judge = self.cannot_judge or reason


def config_files(prefix: str, *, isolated: bool, environ: Mapping[str, str] | None = None) -> list[str]:
    """The configuration files pip reads, in its order, for an interpreter whose ``sys.prefix`` is *prefix*."""
    environ = os.environ if environ is None else environ
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    home = os.path.expanduser("~")
    files: list[str] = []
    if os.name == "nt":
        files.append(os.path.join(environ.get("PROGRAMDATA", "C:\\ProgramData"), "pip", _CONFIG_NAME))
        appdata = environ.get("APPDATA", os.path.join(home, "AppData", "Roaming"))
        user = [os.path.join(home, "pip", _CONFIG_NAME), os.path.join(appdata, "pip", _CONFIG_NAME)]
    else:
        if sys.platform == "darwin":
            files.append(os.path.join("/Library/Application Support", "pip", _CONFIG_NAME))
        xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
        files += [os.path.join(d, "pip", _CONFIG_NAME) for d in xdg_dirs.split(os.pathsep) if d]
        files.append(os.path.join("/etc", _CONFIG_NAME))
        xdg_home = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        user = [os.path.join(home, ".pip", _CONFIG_NAME), os.path.join(xdg_home, "pip", _CONFIG_NAME)]
        if sys.platform == "darwin":
            user.append(os.path.join(home, "Library", "Application Support", "pip", _CONFIG_NAME))
    if not isolated and not (env_file and os.path.exists(env_file)):
        files += user
    files.append(os.path.join(prefix, _CONFIG_NAME))
    if env_file:
        files.append(env_file)
    return files


def config_items(text: str) -> Iterator[tuple[str, str, str]]:
    """``(section, key, value)`` of an ini file as ``configparser.RawConfigParser`` reads it (keys normalised)."""
    section, key, value = "", "", ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if raw[:1] in (" ", "\t") and key:
            value += "\n" + stripped
            continue
        if key:
            yield section, key, value
            key = ""
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            continue
        cut = min((i for i in (stripped.find("="), stripped.find(":")) if i != -1), default=-1)
        if cut != -1:
            key, value = normalise_key(stripped[:cut].strip()), stripped[cut + 1 :].strip()
    if key:
        yield section, key, value


def normalise_key(name: str) -> str:
    """pip's ``_normalize_name``: ``No_Deps`` and ``--no-deps`` are ``no-deps``."""
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


def read_settings(args: list[str], prefix: str, cwd: str) -> PipSettings:
    """pip's settings for ``pip install`` *args* run by an interpreter with ``sys.prefix`` *prefix*."""
    settings = PipSettings()
    isolated = "--isolated" in args  # pip's own test: the exact word
    read = config_files(prefix, isolated=isolated)
    # the main parser, which decides --python, is never isolated: it reads the user's files too
    for path in config_files(prefix, isolated=False):
        text = _read_text(path)
        if text is None:
            settings.fingerprint.append(f"config {path} absent")
            continue
        settings.fingerprint.append(f"config {path}\n{text}")
        for section, key, value in config_items(text):
            if section == "global" and key == "python":
                settings.python, settings.python_source = value, f"python in {path}"
            elif section in ("global", "install") and path in read:
                _apply(settings, key, value, f"{key} in [{section}] of {path}", cwd)
    if not isolated:
        for name in sorted(os.environ):
            if not name.startswith("PIP_"):
                continue
            value = os.environ[name]
            settings.fingerprint.append(f"env {name}={value}")
            key = normalise_key(name[4:])
            if key == "python":
                settings.python, settings.python_source = value, name
            elif key not in _IGNORED:
                _apply(settings, key, value, f"{name} is set", cwd)
    else:
        python = os.environ.get("PIP_PYTHON")  # the main parser reads variables even with --isolated
        settings.fingerprint.append(f"env PIP_PYTHON={python}")
        if python is not None:
            settings.python, settings.python_source = python, "PIP_PYTHON"
    return settings


def python_setting(prefix: str) -> str | None:
    """pip's ``python`` setting (``PIP_PYTHON``, else the last ``python`` in a ``[global]`` section), if any.

    The main parser reads it from every configuration file (*prefix* is the
    ``sys.prefix`` of the interpreter running pip) and the variables, even with ``--isolated``.
    """
    python = os.environ.get("PIP_PYTHON")
    if python is not None:
        return python
    for path in config_files(prefix, isolated=False):
        text = _read_text(path)
        if text is None or "python" not in text:
            continue
        for section, key, value in config_items(text):
            if section == "global" and key == "python":
                python = value
    return python


def _apply(settings: PipSettings, key: str, value: str, where: str, cwd: str) -> None:
    option = setting_option(key)
    if option is None:
        settings.refuse(f"{where}: not a setting venvlock knows")
    elif option.name == "--python":
        settings.refuse(f"{where}: pip refuses --python after the command")
    elif option.kind == CONSTRAINT:
        settings.constraint_files.extend(os.path.join(cwd, v) for v in value.split())
    elif option.kind == ELSEWHERE:
        settings.refuse(f"{where}: the install goes elsewhere")
    elif option.kind != HARMLESS:
        settings.refuse(f"{where}: for the installer to judge")


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return None
