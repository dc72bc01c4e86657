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

A repeated no-op is answered before anything else loads (:mod:`venvlock._fast`:
a few stats prove that nothing pip's answer depends on changed since a
verified check); everything else takes the full route.  Like :mod:`venvlock._fast`,
this module does without ``from __future__ import annotations``: the no-op
would load ``__future__`` for it.

Exit codes: pip's own; 75 (EX_TEMPFAIL) when the lock was busy past
``VENVLOCK_TIMEOUT`` or cannot be taken in a writable environment (a
symbolic link planted at the lock path), so scripts can retry; 2 for a bad setting or usage;
130 when interrupted.
"""

import os
import sys
import time

from venvlock._fast import attempt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from venvlock._fast import Miss

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
              "Checked N packages in Xms" (silent where pip would be: -q,
              PIP_QUIET, quiet = in a pip configuration file).
  uninstall   Runs pip under the same lock.
  other       Every other command goes to pip unchanged.

While another process holds the lock, pip-locked says who, and waits.

Environment variables:
  VENVLOCK_TIMEOUT     seconds to wait for the lock (default 300; 0 fails at
                       once; negative or inf waits forever)
  VENVLOCK_INSTALLER   "pip" (default) or "uv" (runs `uv pip ...`)
  VENVLOCK_UV          the uv executable for VENVLOCK_INSTALLER=uv (a path or
                       a name on PATH; default: uv on PATH)
  VENVLOCK_NO_PLUGINS  set to 1 to load no third-party venvlock plugins

Exit status: pip's own; 75 when the lock stayed busy past VENVLOCK_TIMEOUT
(retry later); 2 for a bad setting; 130 when interrupted.

pip's own help: pip-locked help, pip-locked install --help.
pip-locked --version shows venvlock's version, then pip's.
"""


def _error(message: str) -> None:
    print(f"pip-locked: error: {message}", file=sys.stderr, flush=True)


def _run_pip(command: list[str]) -> int:
    if os.name != "nt":
        try:
            os.execv(command[0], command)
        except OSError as error:
            _error(f"cannot run {command[0]}: {error.strerror}")
            return 1
    import subprocess

    return subprocess.call(command)


def main(argv: "Sequence[str] | None" = None) -> int:
    """Entry point of the ``pip-locked`` command."""
    start = time.monotonic()
    args = list(sys.argv[1:] if argv is None else argv)
    count, miss = attempt(args)  # a proven no-op: nothing else of venvlock loads
    if miss is None:
        if count >= 0:
            noun = "package" if count == 1 else "packages"
            print(f"Checked {count} {noun} in {(time.monotonic() - start) * 1000:.0f}ms", file=sys.stderr)
        return 0
    return _full_route(args, start, miss)


def _full_route(args: list[str], start: float, miss: "Miss") -> int:
    from venvlock.adapter import EX_USAGE, Adapter, check_settings, describe_command, exit_code
    from venvlock.adapter.pip import CHANGING_COMMANDS, PipArguments, pip_for, target_environment
    from venvlock.errors import SettingError, VenvlockError

    arguments = PipArguments(args)
    if "PIP_AUTO_COMPLETE" in os.environ or (arguments.sure and arguments.command == "completion"):
        from venvlock.plugins import _completion  # pip's completion, bound to pip-locked

        return _completion.main(args)
    if not args or (arguments.sure and not arguments.command and "--help" in arguments.general):
        print(HELP, end="")
        return 0
    try:
        check_settings()  # a bad setting is an error on every path
        environment = target_environment(arguments)
    except SettingError as error:
        _error(str(error))
        return EX_USAGE
    if arguments.sure and (arguments.command not in CHANGING_COMMANDS or arguments.help):
        if not arguments.command and "--version" in arguments.general:
            from venvlock import __version__

            print(f"pip-locked (venvlock {__version__}) from {os.path.dirname(os.path.dirname(__file__))}", flush=True)
        return _run_pip([*pip_for(environment), *arguments.passthrough])

    prefix = pip_for(environment)
    if arguments.sure:
        command = arguments.command
        request_args = [*arguments.general, *arguments.rest]
    else:  # pip's reading of the arguments is not certain: lock, and let pip say what it makes of them
        command, request_args = "", arguments.passthrough
    quiet = arguments.quietness(environment) > 0  # pip's -q, -v and their settings: pip says nothing then
    adapter = Adapter("pip", purpose=describe_command(["pip-locked", *args]), quiet=quiet)
    try:
        result = adapter.sync(
            environment,
            request_args,
            command=command,
            judge=command == "install",
            pip=prefix if prefix[0] != environment.python else None,
            fast=miss if command == "install" else None,
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
