"""pip's command line, read as pip reads it, for adapters that take pip's arguments.

A thin public layer over the core's private reading of pip's options (one
table of pip's options, checked against pip's own parsers in the tests)
and of pip's configuration files:

* :class:`PipArguments`: the command word, the general options, ``--python``,
  ``-q`` and ``--help`` of a pip command line, and whether pip's reading of it
  is certain;
* :func:`environment_pip_would_use`: pip's own rule for the environment it
  works on (``--python``, else pip's ``python`` setting, else
  ``$VIRTUAL_ENV``, else the running interpreter's), with the reason;
* :func:`target_environment`: the environment a pip command line would change.

(Whether install options send an install elsewhere, for adapters that pass
pip's options through: :func:`venvlock.adapter.installs_elsewhere`.)
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from venvlock._pip.config import PipConfiguration, elsewhere, python_setting
from venvlock._pip.options import GENERAL_TABLE, INSTALL_TABLE, Option, count_setting, read_options
from venvlock.core import Environment
from venvlock.errors import SettingError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

#: the pip commands that change an environment (and so take its lock)
CHANGING_COMMANDS = ("install", "uninstall")

__all__ = [
    "CHANGING_COMMANDS",
    "PipArguments",
    "environment_pip_would_use",
    "installs_elsewhere_because",
    "target_environment",
]


class PipArguments:
    """A pip command line (the words after ``pip``) read as pip reads it.

    :ivar command: the pip command word ("" when it cannot be told for sure: then pip
        runs under the lock of the environment, and reports its own usage error).
    :ivar general: the general options before the command, less ``--python``, each as
        its canonical ``--name=value``; they may stand after the command too.
    :ivar rest: the arguments after the command, less ``--python``.
    :ivar passthrough: *argv* less ``--python``, as written.
    :ivar python: the ``--python`` value given on the command line, if any.
    :ivar help: whether pip would print help or its version and stop.
    :ivar sure: False when pip's reading of the general options is not certain (unknown or
        ambiguous options, a missing value): pip will stop with a usage error.
    """

    __slots__ = ("_configuration", "command", "general", "help", "passthrough", "python", "rest", "sure")

    def __init__(self, argv: Sequence[str]) -> None:
        self.command = ""
        self.general: list[str] = []
        self.rest: list[str] = []
        self.passthrough: list[str] = []
        self.python: str | None = None
        self.help = False
        self._configuration: tuple[str, PipConfiguration] | None = None  # read by target_environment (not isolated)
        self.sure = self._read_general(list(argv))

    def _read_general(self, argv: list[str]) -> bool:
        """Read the general options before the command; False when pip's reading of them is not certain."""
        index = 0
        while index < len(argv):
            arg = argv[index]
            if arg == "--":
                self.passthrough.extend(argv[index:])
                return self._found(argv, index + 1)
            if not arg.startswith("-") or arg == "-":
                return self._found(argv, index)
            if arg.startswith("--"):
                name, eq, value = arg.partition("=")
                option = GENERAL_TABLE.long(name)
                if isinstance(option, str):
                    self.passthrough.extend(argv[index:])
                    return False  # unknown or ambiguous: pip stops with a usage error
                words = [arg]
                if option.takes_value and not eq:
                    if index + 1 >= len(argv):
                        self.passthrough.extend(argv[index:])
                        return False
                    value = argv[index + 1]
                    words.append(value)
                elif not option.takes_value and eq:
                    self.passthrough.extend(argv[index:])
                    return False
                index += len(words)
                if option.name == "--python":
                    self.python = value
                    continue
                self.passthrough.extend(words)
                self.help = self.help or option.name in ("--help", "--version")
                self.general.append(_canonical(option, arg, value))
                continue
            for char in arg[1:]:
                short = GENERAL_TABLE.shorts.get("-" + char)
                if short is None or short.takes_value:
                    self.passthrough.extend(argv[index:])
                    return False
                self.help = self.help or short.name in ("--help", "--version")
                self.general.append(short.name)
            self.passthrough.append(arg)
            index += 1
        return True  # no command at all: pip prints its help

    def _found(self, argv: list[str], index: int) -> bool:
        if index >= len(argv):
            return True
        self.command = argv[index]
        rest = argv[index + 1 :]
        if self.command in CHANGING_COMMANDS:
            for option, _value in read_options(rest, INSTALL_TABLE):
                if isinstance(option, Option) and option.name == "--help":
                    self.help = True
        kept: list[str] = []
        skip = False
        for position, arg in enumerate(rest):  # pip refuses --python after the command; pip-locked honours it
            if skip:
                skip = False
            elif arg == "--python" and position + 1 < len(rest):
                self.python, skip = rest[position + 1], True
            elif arg.startswith("--python="):
                self.python = arg[len("--python=") :]
            else:
                kept.append(arg)
            if arg == "--":
                kept.extend(rest[position + 1 :])
                break
        self.rest = kept
        self.passthrough.extend([self.command, *kept])
        return True

    @property
    def quiet(self) -> int:
        """pip's ``-q`` level."""
        level = sum(1 for word in self.general if word == "--quiet")
        for option, _value in read_options(self.rest, INSTALL_TABLE):
            if isinstance(option, Option) and option.name == "--quiet":
                level += 1
        return level

    def quietness(self, environment: Environment) -> int:
        """pip's quietness for this command line run by *environment*'s pip: its ``-q`` less its ``-v``, each
        counted on from its setting (``PIP_QUIET``, ``quiet =`` in a configuration file...) as pip counts them.

        0 when pip stops on those settings (pip says why).
        """
        words = [*self.general, *self.rest]
        isolated, prefix = "--isolated" in words, environment.config_prefix()
        read = self._configuration
        if read is not None and not isolated and read[0] == prefix:
            configuration = read[1]  # pip's files, read once for the environment and its quietness
        else:
            configuration = PipConfiguration(prefix, isolated=isolated)
        if configuration.error:
            return 0
        level = 0
        for key, sign in (("quiet", 1), ("verbose", -1)):
            found = configuration.value(self.command or "install", key)
            count = count_setting(found[0]) if found is not None else 0
            if count is None:
                return 0
            level += sign * count
        for option, _value in read_options(words, INSTALL_TABLE):
            if isinstance(option, Option) and option.name in ("--quiet", "--verbose"):
                level += 1 if option.name == "--quiet" else -1
        return level


def _canonical(option: Option, word: str, value: str) -> str:
    """A general option as it may stand after the command: its full name (an abbreviation there may be ambiguous).

    ``--isolated`` stays an abbreviation when it was one: pip reads its
    configuration isolated only for the exact word.
    """
    if option.name == "--isolated" and word != "--isolated":
        return "--isolat"
    return f"{option.name}={value}" if option.takes_value else option.name


def _folder_option(rest: Sequence[str], name: str) -> str | None:
    """The last value of install option *name* (``--target``, ``--prefix``) in *rest*, abbreviations included."""
    found = None
    for option, value in read_options(rest, INSTALL_TABLE):
        if isinstance(option, Option) and option.name == name and value is not None:
            found = value
    return found


def environment_pip_would_use(python: str | None = None) -> tuple[Environment, str]:
    """The environment pip works on, by pip's own rule, and why: ``(environment, reason)``.

    *python* is a ``--python`` given on the command line; else pip's
    ``python`` setting (``PIP_PYTHON``, else ``python`` in a ``[global]``
    section of its configuration files, the current environment's own
    ``pip.conf`` included; ignored in a pip that pip itself re-ran); else
    ``$VIRTUAL_ENV``; else the running interpreter's environment.  *reason*
    says which (``--python``, ``PIP_PYTHON is set``, ``python in [global]
    of <file>``, ``$VIRTUAL_ENV``, ``this interpreter``).  Raises
    :class:`~venvlock.errors.SettingError` for an interpreter that does not exist.
    """
    environment, reason, _configuration = _environment_and_configuration(python)
    return environment, reason


def _environment_and_configuration(python: str | None) -> tuple[Environment, str, PipConfiguration | None]:
    """:func:`environment_pip_would_use`, with pip's configuration (not isolated) as read for the environment's
    own pip when it was read on the way (None otherwise): one reading of the files for both questions."""
    reason = "--python"
    if python is None:
        base = Environment.current()
        configuration = PipConfiguration(base.config_prefix(), isolated=False)
        setting = None if configuration.error else python_setting(base.config_prefix(), configuration)
        if setting is None:  # (a configuration pip cannot load: pip stops on it, and says why, in any environment)
            return base, "$VIRTUAL_ENV" if os.environ.get("VIRTUAL_ENV") else "this interpreter", configuration
        python, reason = setting
    expanded = os.path.expanduser(python)
    if not os.path.exists(expanded):
        named = f"--python {python}" if reason == "--python" else f"{python} ({reason})"
        raise SettingError(f"{named}: no such interpreter or environment")
    return Environment.for_python(expanded), reason, None


def target_environment(arguments: PipArguments) -> Environment:
    """The environment pip would change: :func:`environment_pip_would_use`, or a ``--target``/``--prefix`` folder.

    ``--target``/``--prefix`` folders of an install are environments of their own.
    """
    if arguments.python is not None:
        os.environ.pop("PIP_PYTHON", None)  # the command line wins over it, in pip as here: not an input any more
    base, _reason, configuration = _environment_and_configuration(arguments.python)
    if configuration is not None:
        arguments._configuration = (base.config_prefix(), configuration)
    return _folder_environment(arguments, base, configuration)


def _folder_environment(
    arguments: PipArguments, base: Environment, configuration: PipConfiguration | None
) -> Environment:
    """*base*, or the ``--target``/``--prefix`` folder an install goes to: given on the command line, else by
    pip's settings (``PIP_TARGET``, ``target`` in ``[install]`` of a configuration file, ...), as pip reads them
    (*configuration*: read already for *base*'s pip, not isolated; else read here)."""
    if arguments.command != "install":
        return base
    kinds = (("target", "--target"), ("prefix", "--prefix"))
    for kind, name in kinds:
        folder = _folder_option(arguments.rest, name)
        if folder is not None:
            return Environment.for_folder(os.path.expanduser(folder), kind, python=base.python)
    isolated = "--isolated" in arguments.general
    if configuration is None or isolated:
        configuration = PipConfiguration(base.config_prefix(), isolated=isolated)
    if configuration.error:
        return base  # pip stops on its configuration, and says why
    for kind, name in kinds:
        found = configuration.value("install", name[2:])
        if found is not None:
            return Environment.for_folder(os.path.expanduser(found[0]), kind, python=base.python)
    return base


def installs_elsewhere_because(environment: Environment, args: Sequence[str]) -> list[str]:
    """What would send an install with *args* by venvlock's installer out of *environment*: [] when nothing.

    Install options in *args* (``--target``, ``--prefix``, ``--root``, ``--user``, and uv's ``--system``,
    ``-p``, as the installer reads them), and when pip installs, pip's settings: ``PIP_TARGET``,
    ``PIP_PREFIX``, ``PIP_ROOT``, ``PIP_USER`` (true) and the same keys in the ``[global]`` or ``[install]``
    section of pip's configuration files (the environment's own included); not ``python``, which the
    environment's own pip, re-run, does not follow (:func:`pip_for`).  Each named as pip's reading names it
    (``PIP_TARGET is set``, ``root in [install] of <file>``).  For commands that must install into the
    environment and nowhere else (``venvlock repair``, the heal's reinstall: :func:`venvlock._pip.config.elsewhere`).
    """
    from venvlock.core._settings import installer

    return elsewhere(environment.config_prefix(), args, uv=installer() == "uv")


#: pip's marker of a pip that pip itself re-ran under another interpreter: such a pip follows no ``python`` setting
RERUN_MARKER = "_PIP_RUNNING_IN_SUBPROCESS"


def pip_for(environment: Environment) -> list[str]:
    """:meth:`Environment.pip_command`, with pip's marker of a re-run pip set to match in ``os.environ``.

    The environment's own ``python -m pip`` runs with :data:`RERUN_MARKER`
    set: the environment is chosen already (by pip's ``python`` setting, or
    named), and that pip must not follow ``PIP_PYTHON`` or a ``python`` in
    its ``pip.conf`` to another one.  The running interpreter's pip with
    ``--python`` (a venv without pip) runs without it, so it re-runs itself
    under the environment's interpreter as ``pip --python X`` does.  For a
    process that ends with pip (``pip-locked``); one that goes on uses
    :func:`pip_for_one_install`.
    """
    command = environment.pip_command()
    if command == [environment.python, "-m", "pip"]:
        os.environ[RERUN_MARKER] = "1"
    else:
        os.environ.pop(RERUN_MARKER, None)
    return command


@contextmanager
def pip_for_one_install(environment: Environment) -> Iterator[list[str]]:
    """:func:`pip_for` while inside; ``os.environ``'s marker is put back as it was after, so the commands a
    process runs later (``venvlock run``'s, a tool's) see pip's settings as they were given."""
    before = os.environ.get(RERUN_MARKER)
    try:
        yield pip_for(environment)
    finally:
        if before is None:
            os.environ.pop(RERUN_MARKER, None)
        else:
            os.environ[RERUN_MARKER] = before
