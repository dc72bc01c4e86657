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
``VENVLOCK_TIMEOUT``, so scripts can retry; 2 for a bad setting or usage;
130 when interrupted.
"""

from __future__ import annotations

import os
import sys
import time

from venvlock.core import Environment, LockTimeoutError, SettingError, SyncRequest, hooks, recorded_sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

EX_USAGE = 2
EX_TEMPFAIL = 75
EX_INTERRUPTED = 130
#: the pip commands that change an environment and so take its lock
LOCKED_COMMANDS = ("install", "uninstall")
# pip's general options that take a value (they may stand before or after the command)
_GENERAL_WITH_VALUE = {
    "--python", "--log", "--log-file", "--local-log", "--proxy", "--retries", "--timeout", "--exists-action",
    "--trusted-host", "--cert", "--client-cert", "--cache-dir", "--use-feature", "--use-deprecated",
    "--keyring-provider", "--progress-bar", "--resume-retries",
}  # fmt: skip

HELP = """\
Usage: pip-locked <pip command> [pip options]

pip-locked is pip with the environment locked while it changes, and with
installs skipped when they are already satisfied.  Arguments are pip's own.

What it adds to pip:
  install     Resolves the environment pip would change (--python, else
              $VIRTUAL_ENV, else this interpreter's; --target/--prefix
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
                       once; negative waits forever)
  VENVLOCK_INSTALLER   "pip" (default) or "uv" (runs `uv pip ...`)
  VENVLOCK_NO_PLUGINS  set to 1 to load no third-party venvlock plugins

Exit status: pip's own; 75 when the lock stayed busy past VENVLOCK_TIMEOUT
(retry later); 2 for a bad setting; 130 when interrupted.

pip's own help: pip-locked help, pip-locked install --help.
"""


def _error(message: str) -> None:
    print(f"pip-locked: error: {message}", file=sys.stderr, flush=True)


def find_command(argv: Sequence[str]) -> int | None:
    """Index of the pip command in *argv* (the first word that is not an option or its value)."""
    skip = False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in _GENERAL_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return index
    return None


def _option_values(argv: Sequence[str], *names: str) -> list[str]:
    """Values of the options *names* in *argv* (``--opt value``, ``--opt=value``, ``-tvalue``)."""
    values = []
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                values.append(argv[index + 1])
            elif arg.startswith(name + "=") and name.startswith("--"):
                values.append(arg[len(name) + 1 :])
            elif len(name) == 2 and arg.startswith(name) and len(arg) > 2 and not arg.startswith("--"):
                values.append(arg[2:])
    return values


def _without_python(argv: Sequence[str]) -> list[str]:
    """*argv* less ``--python X``: the target's own pip is run directly."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--python":
            skip = True
        elif not arg.startswith("--python="):
            kept.append(arg)
    return kept


def quiet_level(argv: Sequence[str]) -> int:
    level = 0
    for arg in argv:
        if arg == "--quiet":
            level += 1
        elif arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) == {"q"}:
            level += len(arg) - 1
    return level


def resolve_environment(argv: Sequence[str]) -> Environment:
    """The environment pip would change for *argv*."""
    pythons = _option_values(argv, "--python")
    if pythons:
        python = os.path.expanduser(pythons[-1])
        if not os.path.exists(python):
            raise SettingError(f"--python {pythons[-1]}: no such interpreter or environment")
        base = Environment.for_python(python)
    else:
        base = Environment.current()
    for kind, names in (("target", ("-t", "--target")), ("prefix", ("--prefix",))):
        folders = _option_values(argv, *names)
        if folders:
            return Environment.for_folder(os.path.expanduser(folders[-1]), kind, python=base.python)
    return base


def _run_pip(environment: Environment, argv: list[str]) -> int:
    command = [environment.python, "-m", "pip", *argv]
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
    index = find_command(args)
    if "PIP_AUTO_COMPLETE" in os.environ or (index is not None and args[index] == "completion"):
        from venvlock.plugins import _completion  # pip's completion, bound to pip-locked

        return _completion.main(args)
    if index is None and (not args or "-h" in args or "--help" in args):
        print(HELP, end="")
        return 0
    try:
        environment = resolve_environment(args)
    except SettingError as error:
        _error(str(error))
        return EX_USAGE
    pip_args = _without_python(args)
    if index is None or args[index] not in LOCKED_COMMANDS or "-h" in args or "--help" in args:
        return _run_pip(environment, pip_args)

    command = args[index]
    command_args = _without_python(args[:index] + args[index + 1 :])
    quiet = quiet_level(command_args)
    request = SyncRequest(command_args, command=command, quiet=quiet > 0, purpose="pip-locked " + " ".join(args))
    start = time.monotonic()
    try:
        result = recorded_sync(environment, request) or hooks().venvlock_sync(environment=environment, request=request)
    except LockTimeoutError as error:
        _error(str(error))
        return EX_TEMPFAIL
    except SettingError as error:
        _error(str(error))
        return EX_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return EX_INTERRUPTED
    if not result.installed and not quiet:
        elapsed = (time.monotonic() - start) * 1000
        noun = "package" if result.checked == 1 else "packages"
        print(f"Checked {result.checked} {noun} in {elapsed:.0f}ms", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
