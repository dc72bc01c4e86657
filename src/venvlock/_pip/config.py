"""pip's configuration as pip 26.3 reads it: its files, in its order, and its ``PIP_*`` variables.

Files (``configuration.py``): the global ones (``$XDG_CONFIG_DIRS/pip/pip.conf``,
``/etc/pip.conf``), the user's (``~/.pip/pip.conf``, ``$XDG_CONFIG_HOME/pip/pip.conf``;
skipped with ``--isolated`` or when ``PIP_CONFIG_FILE`` names an existing
file), the *site* one, ``<sys.prefix>/pip.conf`` of the interpreter that runs
pip (a venv's own), then ``PIP_CONFIG_FILE``.  ``PIP_CONFIG_FILE=/dev/null``
skips them all.  Later files win; ``PIP_*`` variables (not read with
``--isolated``) win over files.  ``pip install`` reads the sections
``[global]`` and ``[install]``; the main parser, which decides ``--python``,
reads ``[global]`` only.  Each file is read by the parser pip uses
(:func:`read_config_file`); a file pip cannot load stops pip, so venvlock
does not judge then, and pip says what is wrong.

Plain Python only: this module is on the fast path.
"""

from __future__ import annotations

import os
import sys

from venvlock._pip.options import (
    CONSTRAINT,
    ELSEWHERE,
    GENERAL_TABLE,
    HARMLESS,
    INSTALL_TABLE,
    bound_value,
    setting_accepted,
    setting_option,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

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
    :ivar version_bound: settings only pip :data:`~venvlock._pip.options.TABLE_PIP` or newer surely reads so.
    """

    __slots__ = ("cannot_judge", "constraint_files", "fingerprint", "python", "python_source", "version_bound")

    def __init__(self) -> None:
        self.fingerprint: list[str] = []
        self.constraint_files: list[str] = []
        self.python: str | None = None
        self.python_source = ""
        self.cannot_judge = ""
        self.version_bound: list[str] = []

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


class ConfigFileError(Exception):
    """A configuration file pip cannot load (pip stops with "Configuration file could not be loaded")."""


def read_config_file(path: str) -> tuple[str, dict[str, str]] | None:
    """One configuration file as pip reads it: its text and ``{"section.key": value}``; None when pip reads nothing.

    pip's own reader: ``configparser.RawConfigParser`` with pip's key
    normalisation as ``optionxform`` and its defaults otherwise (indented
    lines continue the previous value, ``#``/``;`` comments at line start
    only, text after a section header's ``]`` ignored, ``[DEFAULT]`` items
    in every section, no ``%`` interpolation, a duplicate section or key is
    an error, a byte-order mark is not skipped), read in the locale's
    encoding (UTF-8 in UTF-8 mode).  Raises :class:`ConfigFileError` where
    pip stops.  The standard library's parser is imported only when a file
    exists.
    """
    try:
        with open(path, encoding="locale") as file:  # pip: utf-8 in UTF-8 mode, else the locale's encoding
            text = file.read()
    except UnicodeDecodeError as error:
        raise ConfigFileError(f"{path} contains invalid characters for its encoding: {error}") from None
    except OSError:
        return None  # absent, or RawConfigParser.read skips it as pip does (a folder, no permission)
    values = _PARSED.get(text)
    if values is None:
        values = _PARSED[text] = _parse(text, path)
    return text, values


#: parsed configuration texts: a sync asks for the same files several times
_PARSED: dict[str, dict[str, str]] = {}


def _parse(text: str, path: str) -> dict[str, str]:
    import configparser

    parser = configparser.RawConfigParser()
    parser.optionxform = normalise_key  # type: ignore[method-assign,assignment]  # pip's _RawConfigParser
    try:
        parser.read_string(text, source=path)
    except configparser.Error as error:
        raise ConfigFileError(str(error)) from None
    values: dict[str, str] = {}
    for section in parser.sections():
        for key, value in parser.items(section):
            values[f"{section}.{normalise_key(key)}"] = value
    return values


def normalise_key(name: str) -> str:
    """pip's ``_normalize_name``: ``No_Deps`` and ``--no-deps`` are ``no-deps``."""
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


class PipConfiguration:
    """pip's configuration files and ``PIP_*`` variables, read once, as pip's ``Configuration`` holds them.

    :ivar fingerprint: lines that change when any file read or variable changes.
    :ivar error: why pip cannot load its configuration ("" when it can): pip then stops.
    """

    __slots__ = ("_environ", "_files", "error", "fingerprint")

    def __init__(self, prefix: str, *, isolated: bool, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.fingerprint: list[str] = []
        self.error = ""
        self._files: dict[str, dict[str, str]] = {}  # pip: one dictionary per file, first seen first
        for path in config_files(prefix, isolated=isolated, environ=environ):
            try:
                read = read_config_file(path)
            except ConfigFileError as error:
                self.fingerprint.append(f"config {path} unreadable")
                self.error = self.error or f"pip cannot load its configuration file {path}: {error}"
                continue
            if read is None:
                self.fingerprint.append(f"config {path} absent")
                self._files.setdefault(path, {})
                continue
            text, values = read
            self.fingerprint.append(f"config {path}\n{text}")
            self._files.setdefault(path, {}).update(values)
        self._environ: dict[str, tuple[str, str]] = {}
        if not isolated:
            for name, value in environ.items():  # pip's order: the environment's own
                if name.startswith("PIP_") and name[4:].lower() not in ("version", "help"):
                    self._environ[normalise_key(name[4:])] = (value, name)
            self.fingerprint.extend(sorted(f"env {name}={value}" for value, name in self._environ.values()))

    def items(self, command: str) -> list[tuple[str, str, str]]:
        """``(key, value, where)`` that pip's parser for *command* applies, in its order (later wins).

        pip's ``_get_ordered_configuration_items``: ``[global]`` then
        ``[<command>]`` of every file (a later file's value replaces an
        earlier one's), then the variables; empty values are dropped last,
        so an empty value in a later file unsets the key.
        """
        sections: dict[str, dict[str, tuple[str, str]]] = {"global": {}, command: {}}
        for path, values in self._files.items():
            for section_key, value in values.items():
                section, key = section_key.split(".", 1)
                if section in sections:
                    sections[section][key] = (value, f"{key} in [{section}] of {path}")
        ordered = [(k, v, w) for s in ("global", command) for k, (v, w) in sections[s].items() if v]
        ordered += [(k, v, f"{name} is set") for k, (v, name) in self._environ.items() if v]
        return ordered

    def value(self, command: str, key: str) -> tuple[str, str] | None:
        """The value pip's parser for *command* gives setting *key*, and where it comes from; None when unset."""
        found = None
        for name, value, where in self.items(command):
            if name == key:
                found = (value, where)
        return found


def read_settings(args: list[str], prefix: str, cwd: str) -> PipSettings:
    """pip's settings for ``pip install`` *args* run by an interpreter with ``sys.prefix`` *prefix*."""
    settings = PipSettings()
    isolated = "--isolated" in args  # pip's own test: the exact word
    # the main parser, which decides --python, is never isolated: it reads the user's files and variables too
    main = PipConfiguration(prefix, isolated=False)
    settings.fingerprint = main.fingerprint
    install = main if not isolated else PipConfiguration(prefix, isolated=True)
    if main.error or install.error:
        settings.refuse(main.error or install.error)
        return settings
    python = _python_value(main)
    if python is not None:
        settings.python, settings.python_source = python
    # pip checks every value it reads, a replaced one too: its main parser the general options ([global], the
    # variables, even with --isolated), the install command's parser all its options
    for parser, table in ((main, GENERAL_TABLE), (install, INSTALL_TABLE)):
        for key, value, where in parser.items("global" if table is GENERAL_TABLE else "install"):
            option = table.longs.get("--" + key)
            if key not in _IGNORED and option is not None and not setting_accepted(option, value):
                settings.refuse(f"{where}: {value!r} is a value pip refuses")
    effective: dict[str, tuple[str, str]] = {}
    for key, value, where in install.items("install"):
        if key not in _IGNORED:
            effective[key] = (value, where)  # pip: later wins (the same option under two names: both refused)
    for key, (value, where) in effective.items():
        if key == "python" and "[install]" not in where:
            continue  # the main parser's (settings.python); in [install] pip refuses it
        _apply(settings, key, value, where, cwd)
    return settings


#: the values pip reads as false for an option that takes none (pip's ``strtobool``)
_FALSE = ("n", "no", "f", "false", "off", "0")


def elsewhere(prefix: str, args: Sequence[str], *, uv: bool) -> list[str]:
    """What would send an install with *args* out of the environment whose pip configuration *prefix* is: []
    when nothing (see :func:`venvlock.adapter.pip.installs_elsewhere_because`, the adapter layer's spelling)."""
    from venvlock._pip.options import goes_elsewhere

    found = {"--": f"-- {' '.join(args)}"} if goes_elsewhere(list(args), uv=uv) else {}
    if uv:
        return list(found.values())
    for key, value, where in PipConfiguration(prefix, isolated=False).items("install"):
        option = setting_option(key)
        if option is None or option.kind != ELSEWHERE or key == "python":
            continue
        if option.takes_value or value.strip().lower() not in _FALSE:
            found[option.name] = where  # later wins, as in pip
        else:
            found.pop(option.name, None)
    return list(found.values())


def python_setting(prefix: str, configuration: PipConfiguration | None = None) -> tuple[str, str] | None:
    """pip's ``python`` setting and where it comes from (``PIP_PYTHON``, ``python`` in ``[global]``), if any.

    pip's main parser reads it from every configuration file (*prefix* is the
    ``sys.prefix`` of the interpreter running pip) and the variables, even
    with ``--isolated``; pip ignores it in the pip it re-runs
    (``_PIP_RUNNING_IN_SUBPROCESS``).  Raises :class:`ConfigFileError` when
    pip cannot load its configuration (pip stops there).  *configuration*: the same, read already.
    """
    main = PipConfiguration(prefix, isolated=False) if configuration is None else configuration
    if main.error:
        raise ConfigFileError(main.error)
    return _python_value(main)


def _python_value(main: PipConfiguration) -> tuple[str, str] | None:
    if "_PIP_RUNNING_IN_SUBPROCESS" in os.environ:
        return None
    return main.value("global", "python")


def _apply(settings: PipSettings, key: str, value: str, where: str, cwd: str) -> None:
    option = setting_option(key)
    if option is not None and bound_value(option, value):
        settings.version_bound.append(where)
    if key == "python":
        settings.refuse(f"{where}: pip refuses --python after the command")
    elif option is None:
        settings.refuse(f"{where}: not a setting venvlock knows")
    elif option.kind == CONSTRAINT:
        settings.constraint_files.extend(os.path.join(cwd, v) for v in value.split())
    elif option.kind == ELSEWHERE:
        settings.refuse(f"{where}: the install goes elsewhere")
    elif option.kind != HARMLESS:
        settings.refuse(f"{where}: for the installer to judge")
