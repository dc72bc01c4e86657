"""The ``venvlock`` command (also ``python -m venvlock``): status, verify, repair, run and version.

One module per subcommand (:mod:`.status`, :mod:`.verify`, :mod:`.repair`,
:mod:`.run`), each with ``main(options, extra) -> int``; this module only
parses the arguments, so ``venvlock --version`` and ``--help`` import
nothing of the core.

Exit status, as pip's: 0 done; 1 damaged or failed (or the command's own, for
``run``); 2 bad usage or setting; 75 a lock stayed busy past
``VENVLOCK_TIMEOUT``; 130 interrupted.  Errors are one line on stderr,
``venvlock: error: ...``.
"""

from __future__ import annotations

import os
import sys

from venvlock.cli._messages import PROG, error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

#: subcommands whose arguments after ``--`` are passed on (to pip, or as the command to run)
_PASS_ON = {"repair", "run"}

DESCRIPTION = """\
Lock, inspect and repair Python environments.

commands:
  status   who holds an environment's locks, half-built markers, the last sync
  verify   check installed files against their RECORD hashes, and what pip check checks
  repair   reinstall damaged distributions at their versions, remove pip's leftovers
  run      run a command while the environment is locked (the flock(1) of environments)
"""

EPILOG = """\
environment variables:
  VENVLOCK_TIMEOUT     seconds to wait for a lock (default 300; 0 fails at once; negative waits forever)
  VENVLOCK_INSTALLER   "pip" (default) or "uv": the installer repair uses
  VIRTUAL_ENV          the default environment (else ./.venv)

exit status: 0 done; 1 damaged or failed; 2 usage; 75 a lock stayed busy (retry later); 130 interrupted.
See docs/cli.md.
"""


def version_line() -> str:
    """``venvlock <version> from <folder> (python <X.Y>)``, as ``pip --version`` says it."""
    import venvlock

    folder = os.path.dirname(os.path.abspath(venvlock.__file__))
    python = ".".join(str(part) for part in sys.version_info[:2])
    return f"{PROG} {venvlock.__version__} from {folder} (python {python})"


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-V", "--version", action="store_true", help="show the version and where it is installed")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = commands.add_parser(
        "status",
        help="who holds the locks, half-built markers, the last sync",
        description="Show, for each environment, its environment lock and creation lock (free, or held by whom "
        "since when), half-built markers and the last recorded sync.  Takes no lock and creates nothing.",
    )
    status.add_argument("paths", nargs="*", metavar="PATH", help="environments (default: $VIRTUAL_ENV, else ./.venv)")
    status.add_argument(
        "--all", action="store_true", help="also the environments of .nox/*, .tox/* and this project's hatch envs"
    )
    status.add_argument("--json", action="store_true", help="print JSON")

    verify = commands.add_parser(
        "verify",
        help="check installed files against RECORD, and what pip check checks",
        description="Check an environment's installed distributions: every file a RECORD lists, with its size "
        "and hash; one metadata folder per project, with RECORD and METADATA; no '~' leftovers; files no "
        "distribution owns (a warning); every requirement met (pip check).  Waits for a sync in progress.  "
        "Exit 1 when damaged.",
    )
    verify.add_argument("path", nargs="?", metavar="PATH", help="the environment (default: $VIRTUAL_ENV, else ./.venv)")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.add_argument("--no-cache", action="store_true", help="hash every file, even those verified before")
    verify.add_argument("-j", "--jobs", type=int, default=0, metavar="N", help="hashing threads (default: from CPUs)")

    repair = commands.add_parser(
        "repair",
        help="reinstall damaged distributions at their versions, remove pip's leftovers",
        usage="venvlock repair [-h] [--dry-run] [--json] [PATH] [-- PIP-OPTIONS ...]",
        description="Under the environment's locks, reinstall each damaged distribution at its installed version "
        "(--no-deps --force-reinstall, with the installer venvlock uses), remove what a second or unfinished "
        "metadata folder left, and pip's '~' leftovers.  Nothing outside the environment is touched.  Options "
        "after '--' go to the installer (e.g. -- --find-links ./wheels).",
    )
    repair.add_argument("path", nargs="?", metavar="PATH", help="the environment (default: $VIRTUAL_ENV, else ./.venv)")
    repair.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    repair.add_argument(
        "--json", action="store_true", help="print JSON: the plan, the installer's status, what is left"
    )

    run = commands.add_parser(
        "run",
        help="run a command while the environment is locked",
        usage="venvlock run [-h] [--env PATH] [--creation] -- COMMAND [ARG ...]",
        description="Run COMMAND while the environment lock (<env>/.lock, uv's) is held, and with --creation the "
        "creation lock first; exit with COMMAND's status (128+N when a signal N ended it).  pip-locked, uv, hatch, "
        "nox and tox wait meanwhile; a pip-locked inside COMMAND goes on under this hold.",
    )
    run.add_argument("--env", metavar="PATH", help="the environment (default: $VIRTUAL_ENV, else ./.venv)")
    run.add_argument(
        "--creation", action="store_true", help="also hold the creation lock (around creating or deleting the folder)"
    )
    run.add_argument("argv", nargs="*", metavar="COMMAND", help="the command and its arguments")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``venvlock`` and ``python -m venvlock``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        print(version_line())
        return 0
    passed_on: list[str] = []
    if "--" in args:
        split = args.index("--")
        command = next((a for a in args[:split] if not a.startswith("-")), None)
        if command in _PASS_ON:
            args, passed_on = args[:split], args[split + 1 :]
    parser = build_parser()
    try:
        options = parser.parse_args(args)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if options.version:
        print(version_line())
        return 0
    if options.command is None:
        parser.print_help()
        return 0
    if options.command == "run":
        passed_on = [*options.argv, *passed_on]
        if not passed_on:
            error("run: no command given (venvlock run [--env PATH] -- COMMAND ...)")
            return 2
    return _dispatch(options, passed_on)


def _dispatch(options: argparse.Namespace, passed_on: list[str]) -> int:
    from venvlock.adapter import exit_code
    from venvlock.errors import VenvlockError

    try:
        if options.command == "status":
            from venvlock.cli import status as module
        elif options.command == "verify":
            from venvlock.cli import verify as module  # type: ignore[no-redef]
        elif options.command == "repair":
            from venvlock.cli import repair as module  # type: ignore[no-redef]
        else:
            from venvlock.cli import run as module  # type: ignore[no-redef]
        return module.main(options, passed_on)
    except VenvlockError as failure:
        error(str(failure))
        return exit_code(failure)
    except KeyboardInterrupt as interrupt:
        error("interrupted")
        return exit_code(interrupt)
    except OSError as failure:  # a folder that cannot be read or written: one line, not a traceback
        where = f": {failure.filename}" if failure.filename else ""
        error(f"{failure.strerror or failure}{where}")
        return 1
