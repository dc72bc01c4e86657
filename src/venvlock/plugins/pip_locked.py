"""``pip-locked``: pip, with the environment locked around every change and satisfied installs skipped.

A drop-in for ``pip`` on the commands that change an environment:

* ``pip-locked install ...`` takes pip's arguments unchanged, finds the
  environment pip would change, and syncs it through the venvlock hooks: when
  the request is already satisfied pip does not start at all (one line,
  ``Checked N packages in Xms``); otherwise the target's ``python -m pip``
  runs with the same arguments under the environment lock, and its exit code
  is returned.
* ``pip-locked uninstall ...`` runs pip under the lock.
* Every other command goes to the target's pip unchanged.

Exit codes: pip's own; 75 (EX_TEMPFAIL) when the lock was busy past
``VENVLOCK_TIMEOUT`` or cannot be taken in a writable environment (a
symbolic link planted at the lock path), so scripts can retry; 2 for a bad setting or usage;
130 when interrupted.
"""

from __future__ import annotations

import os
import sys
import time

from venvlock.adapter import EX_USAGE, Adapter, describe_command, exit_code
from venvlock.core import Environment
from venvlock.core._pip_config import python_setting
from venvlock.core._pip_options import GENERAL_TABLE, INSTALL_TABLE, Option, read_options
from venvlock.core._settings import validate
from venvlock.errors import SettingError, VenvlockError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

#: the pip commands that change an environment and so take its lock
LOCKED_COMMANDS = ("install", "uninstall")
HELP = """\
Usage: pip-locked <pip command> [pip options]

pip-locked is pip with the environment locked while it changes, and with
installs skipped when they are already satisfied.  Arguments are pip's own.

What it adds to pip:
  install     Resolves the environment pip would change (--python, else
              pip's python setting: PIP_PYTHON or python = in [global];
              else $VIRTUAL_ENV, else this interpreter's; --target/--prefix
              folders), takes its lock (<env>/.lock, the same lock uv takes),
              and runs the environment's `python -m pip install ...` under it.
              When the request (requirement specifiers, -r/-c files) is
              already satisfied, pip does not start: one line says
              "Checked N packages in Xms" (silent with -q).
  uninstall   Runs pip under the same lock.
  other       Every other command goes to pip unchanged.

While another process holds the lock, pip-locked says who, and waits.

Environment variables:
  VENVLOCK_TIMEOUT     seconds to wait for the lock (default 300; 0 fails at
                       once; negative or inf waits forever)
  VENVLOCK_INSTALLER   "pip" (default) or "uv" (runs `uv pip ...`)
  VENVLOCK_NO_PLUGINS  set to 1 to load no third-party venvlock plugins

Exit status: pip's own; 75 when the lock stayed busy past VENVLOCK_TIMEOUT
(retry later); 2 for a bad setting; 130 when interrupted.

pip's own help: pip-locked help, pip-locked install --help.
"""


def _error(message: str) -> None:
    print(f"pip-locked: error: {message}", file=sys.stderr, flush=True)


class Arguments:
    """pip-locked's arguments read as pip reads them.

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

    __slots__ = ("command", "general", "help", "passthrough", "python", "rest", "sure")

    def __init__(self, argv: Sequence[str]) -> None:
        self.command = ""
        self.general: list[str] = []
        self.rest: list[str] = []
        self.passthrough: list[str] = []
        self.python: str | None = None
        self.help = False
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
        if self.command in LOCKED_COMMANDS:
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


def resolve_environment(arguments: Arguments) -> Environment:
    """The environment pip would change: ``--python``, else pip's ``python`` setting, else the current one.

    pip's ``python`` setting is ``PIP_PYTHON``, or ``python`` in the ``[global]``
    section of its configuration files (the current environment's own
    ``pip.conf`` included).  ``--target``/``--prefix`` folders of an install
    are environments of their own.
    """
    python = arguments.python
    if python is not None:
        os.environ.pop("PIP_PYTHON", None)  # the command line wins over it, in pip as here: not an input any more
    else:
        base = Environment.current()
        python = python_setting(base.config_prefix())
        if python is None:
            return _folder_environment(arguments, base)
    expanded = os.path.expanduser(python)
    if not os.path.exists(expanded):
        raise SettingError(f"--python {python}: no such interpreter or environment")
    return _folder_environment(arguments, Environment.for_python(expanded))


def _folder_environment(arguments: Arguments, base: Environment) -> Environment:
    if arguments.command != "install":
        return base
    for kind, name in (("target", "--target"), ("prefix", "--prefix")):
        folder = _folder_option(arguments.rest, name)
        if folder is not None:
            return Environment.for_folder(os.path.expanduser(folder), kind, python=base.python)
    return base


def pip_prefix(environment: Environment) -> list[str]:
    """How to run pip for *environment*: its own ``python -m pip``, else pip-locked's pip with ``--python``.

    The second is what pip itself does for ``pip --python X`` (it runs itself
    under X), so a venv without pip works as it does with pip.
    """
    if environment.has_pip():
        os.environ["_PIP_RUNNING_IN_SUBPROCESS"] = "1"  # pip-locked already chose the environment: pip stays there
        return [environment.python, "-m", "pip"]
    os.environ.pop("_PIP_RUNNING_IN_SUBPROCESS", None)
    return [sys.executable, "-m", "pip", "--python", environment.python]


def _run_pip(command: list[str]) -> int:
    if os.name != "nt":
        try:
            os.execv(command[0], command)
        except OSError as error:
            _error(f"cannot run {command[0]}: {error.strerror}")
            return 1
    import subprocess

    return subprocess.call(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pip-locked`` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    arguments = Arguments(args)
    if "PIP_AUTO_COMPLETE" in os.environ or (arguments.sure and arguments.command == "completion"):
        from venvlock.plugins import _completion  # pip's completion, bound to pip-locked

        return _completion.main(args)
    if not args or (arguments.sure and not arguments.command and "--help" in arguments.general):
        print(HELP, end="")
        return 0
    try:
        validate()  # a bad setting is an error on every path
        environment = resolve_environment(arguments)
    except SettingError as error:
        _error(str(error))
        return EX_USAGE
    if arguments.sure and (arguments.command not in LOCKED_COMMANDS or arguments.help):
        return _run_pip([*pip_prefix(environment), *arguments.passthrough])

    prefix = pip_prefix(environment)
    if arguments.sure:
        command = arguments.command
        request_args = [*arguments.general, *arguments.rest]
    else:  # pip's reading of the arguments is not certain: lock, and let pip say what it makes of them
        command, request_args = "", arguments.passthrough
    quiet = arguments.quiet
    adapter = Adapter("pip", purpose=describe_command(["pip-locked", *args]), quiet=quiet > 0)
    start = time.monotonic()
    try:
        result = adapter.sync(
            environment,
            request_args,
            command=command,
            judge=command == "install",
            pip=prefix if prefix[0] != environment.python else None,
        )
    except (VenvlockError, KeyboardInterrupt) as error:
        _error(str(error) or "interrupted")
        return exit_code(error)
    if not result.installed and not quiet:
        elapsed = time.monotonic() - start
        noun = "package" if result.checked == 1 else "packages"
        line = f"Checked {result.checked} {noun} in {(elapsed - result.waited) * 1000:.0f}ms"
        if result.waited >= 0.05:
            line += f" (waited {result.waited:.1f}s for the lock)"
        print(line, file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
