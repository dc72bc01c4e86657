"""The ``venvlock`` command (also ``python -m venvlock``): status, verify, repair, run, doctor and version.

One module per subcommand (:mod:`.status`, :mod:`.verify`, :mod:`.repair`,
:mod:`.run`, :mod:`.doctor`), each with ``main(options, extra) -> int``; this module only
parses the arguments, so ``venvlock --version`` and ``--help`` import
nothing of the core.

Every command names its environment the same way: ``-p/--python PATH``
(pip's and ``uv pip``'s spelling: an environment's folder or an interpreter),
``--env PATH`` the same; ``status``, ``verify`` and ``repair`` also take PATH
as a positional argument (their older spelling).  ``run`` takes everything
after its own options as the command, ``--`` optional (as ``uv run``).

Exit status, as pip's: 0 done; 1 damaged or failed (or the command's own, for
``run``); 2 bad usage or setting; 3 nothing verified (``verify``); 75 a lock stayed busy past
``VENVLOCK_TIMEOUT``; 130 interrupted.  Errors are one line on stderr,
``venvlock: error: ...`` (a usage error after the command's usage).
"""

from __future__ import annotations

import os
import sys

from venvlock.cli._messages import PROG, error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import NoReturn

#: subcommands whose arguments after ``--`` are passed on to the installer
_PASS_ON = {"repair"}

DESCRIPTION = "Lock, inspect and repair Python environments."

#: what the environment options mean, in every command's help
PATH_HELP = (
    "the environment: a virtual environment's folder, or an interpreter (its environment); "
    "default: the one pip would use (PIP_PYTHON, else $VIRTUAL_ENV, else the interpreter running venvlock)"
)

EPILOG = """\
environment variables:
  VENVLOCK_TIMEOUT     seconds to wait for a lock (default 300; 0 fails at once; negative waits forever)
  VENVLOCK_INSTALLER   "pip" (default) or "uv": the installer repair uses
  VENVLOCK_UV          the uv executable for VENVLOCK_INSTALLER=uv (default: uv on PATH, else the uv package's)
  PIP_PYTHON           the default environment, as for pip
  VIRTUAL_ENV          the default environment when PIP_PYTHON is unset (else the interpreter running venvlock)

exit status: 0 done; 1 damaged or failed; 2 usage; 3 nothing verified (verify); 75 a lock stayed busy (retry
later); 130 interrupted.
Each command's options: venvlock COMMAND --help.  The manual: the page "The venvlock command" of
venvlock's documentation.
"""


def version_line() -> str:
    """``venvlock <version> from <folder> (python <X.Y>)``, as ``pip --version`` says it."""
    import venvlock

    folder = os.path.dirname(os.path.abspath(venvlock.__file__))
    python = ".".join(str(part) for part in sys.version_info[:2])
    return f"{PROG} {venvlock.__version__} from {folder} (python {python})"


def jobs_value(text: str) -> int:
    """``-j N``: a whole number of hashing threads, 0 (the default) for as many as the CPUs suit."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of threads") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: give 1 or more threads (0: as many as the CPUs suit)")
    return value


def build_parser() -> argparse.ArgumentParser:
    import argparse

    class Parser(argparse.ArgumentParser):
        """Usage errors as every venvlock error: ``venvlock: error: ...``, after the (sub)command's usage."""

        def error(self, message: str) -> NoReturn:
            self.print_usage(sys.stderr)
            self.exit(2, f"{PROG}: error: {message}\n")

    parser = Parser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-V", "--version", action="store_true", help="show the version and where it is installed")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def add_environment_option(command: argparse.ArgumentParser, *, many: bool = False) -> None:
        command.add_argument(
            "-p",
            "--python",
            "--env",
            dest="option_paths",
            action="append",
            default=[],
            metavar="PATH",
            help=PATH_HELP + (" (may be repeated)" if many else ""),
        )

    status = commands.add_parser(
        "status",
        help="who holds the locks, half-built markers, the last sync",
        description="Show, for each environment, its environment lock and creation lock (free, or held by whom "
        "since when), half-built markers and the last recorded sync.  Takes no lock and creates nothing.",
    )
    add_environment_option(status, many=True)
    status.add_argument("paths", nargs="*", metavar="PATH", help="environments, as -p PATH")
    status.add_argument(
        "--all",
        action="store_true",
        help="also ./.venv and the environments of .nox/*, .tox/* and this project's hatch envs",
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(subparser=status)

    verify = commands.add_parser(
        "verify",
        help="check installed files against RECORD, and what pip check checks",
        description="Check an environment's installed distributions: every file a RECORD lists, with its size "
        "and hash; one metadata folder per project, with RECORD and METADATA; no '~' leftovers; files no "
        "distribution owns (a warning); every requirement met (pip check).  Waits for a sync in progress.  "
        "Exit 1 when damaged, 3 when nothing was verified (no distribution found).",
    )
    add_environment_option(verify)
    verify.add_argument("path", nargs="?", metavar="PATH", help="the environment, as -p PATH")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.add_argument("--no-cache", action="store_true", help="hash every file, even those verified before")
    verify.add_argument(
        "-j", "--jobs", type=jobs_value, default=0, metavar="N", help="hashing threads (default 0: from the CPUs)"
    )
    verify.set_defaults(subparser=verify)

    repair = commands.add_parser(
        "repair",
        help="reinstall damaged distributions at their versions, remove pip's leftovers",
        usage="venvlock repair [-h] [-p PATH] [--dry-run] [--json] [PATH] [-- PIP-OPTIONS ...]",
        description="Under the environment's locks, reinstall each damaged distribution at its installed version "
        "(--no-deps --force-reinstall, with the installer venvlock uses), remove what a second or unfinished "
        "metadata folder left, and pip's '~' leftovers.  Nothing outside the environment is touched.  Options "
        "after '--' go to the installer (e.g. -- --find-links ./wheels).",
    )
    add_environment_option(repair)
    repair.add_argument("path", nargs="?", metavar="PATH", help="the environment, as -p PATH")
    repair.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    repair.add_argument(
        "--json", action="store_true", help="print JSON: the plan, the installer's status, what is left"
    )
    repair.set_defaults(subparser=repair)

    run = commands.add_parser(
        "run",
        help="run a command while the environment is locked (the flock(1) of environments)",
        usage="venvlock run [-h] [-p PATH] [--creation] [--] COMMAND [ARG ...]",
        description="Run COMMAND while the environment lock (<env>/.lock, uv's) is held, and with --creation the "
        "creation lock first; exit with COMMAND's status (128+N when a signal N ended it).  pip-locked, uv, hatch, "
        "nox and tox wait meanwhile; a pip-locked inside COMMAND goes on under this hold.  Everything from "
        "COMMAND on is COMMAND's (as with uv run); '--' before it is optional.",
    )
    add_environment_option(run)
    run.add_argument(
        "--creation", action="store_true", help="also hold the creation lock (around creating or deleting the folder)"
    )
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND", help="the command and its arguments")
    run.set_defaults(subparser=run)

    doctor = commands.add_parser(
        "doctor",
        help="whether the environment's locks work where it lives (filesystem, a live probe, uv)",
        description="Show the environment's filesystem, whether its locks keep other processes out (a live probe "
        "with child processes on a new file in its folder), whether uv and venvlock lock the same file, the lock "
        "files and their holders, and advice for network filesystems.  Exit 1 when a problem is found.",
    )
    add_environment_option(doctor)
    doctor.add_argument("path", nargs="?", metavar="PATH", help="the environment, as -p PATH")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(subparser=doctor)
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
        if _command_word(args[:split]) in _PASS_ON:
            args, passed_on = args[:split], args[split + 1 :]
    parser = build_parser()
    try:
        options = _parse(parser, args)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if options.version:
        print(version_line())
        return 0
    if options.command is None:
        parser.print_help()
        return 0
    if options.command == "run":
        passed_on = options.argv[1:] if options.argv[:1] == ["--"] else list(options.argv)
        if not passed_on:
            error("run: no command given (venvlock run [-p PATH] [--] COMMAND ...)")
            return 2
    return _dispatch(options, passed_on)


def _parse(parser: argparse.ArgumentParser, args: list[str]) -> argparse.Namespace:
    """*args* read; a usage error (SystemExit 2) after the usage of the command it concerns."""
    options, unknown = parser.parse_known_args(args)
    if unknown:
        _reject(parser, options, args, unknown)
    paths = _environment_paths(options)
    if paths is not None:
        options.path = paths[0] if paths else None
    return options


def _command_word(args: Sequence[str]) -> str | None:
    """The subcommand among *args* (the first word that is not an option: venvlock's own options take no value)."""
    return next((arg for arg in args if not arg.startswith("-")), None)


def _reject(
    parser: argparse.ArgumentParser, options: argparse.Namespace, args: list[str], unknown: list[str]
) -> NoReturn:
    """Unknown arguments: the error after the usage of the command they were given to."""
    message = f"unrecognized arguments: {' '.join(unknown)}"
    command = options.command
    try:
        before_command = command is None or args.index(command) > args.index(unknown[0])
    except ValueError:  # not given as one word: it can only be the command's
        before_command = False
    if before_command:
        parser.error(message)
    subparser: argparse.ArgumentParser = options.subparser
    subparser.error(message)


def _environment_paths(options: argparse.Namespace) -> list[str] | None:
    """The environments given (``-p``, ``--env`` or PATH); ``status`` keeps its list, the others have at most one."""
    given: list[str] | None = getattr(options, "option_paths", None)
    if given is None:
        return None
    if options.command == "status":
        options.paths = [*options.paths, *given]
        return None
    positional = getattr(options, "path", None)
    paths = list(dict.fromkeys([*given, *([positional] if positional else [])]))
    if len(paths) > 1:
        options.subparser.error(f"one environment at a time ({', '.join(paths)})")
    return paths


def _dispatch(options: argparse.Namespace, passed_on: list[str]) -> int:
    from venvlock.adapter import check_settings, exit_code
    from venvlock.errors import VenvlockError

    try:
        check_settings()  # a bad setting is an error for every command, before anything is looked at (as pip-locked)
        if options.command == "status":
            from venvlock.cli import status as module
        elif options.command == "verify":
            from venvlock.cli import verify as module  # type: ignore[no-redef]
        elif options.command == "repair":
            from venvlock.cli import repair as module  # type: ignore[no-redef]
        elif options.command == "doctor":
            from venvlock.cli import doctor as module  # type: ignore[no-redef]
        else:
            from venvlock.cli import run as module  # type: ignore[no-redef]
        return module.main(options, passed_on)
    except VenvlockError as failure:
        error(str(failure))
        return exit_code(failure)
    except KeyboardInterrupt as interrupt:
        error("interrupted")
        return exit_code(interrupt)
    except BrokenPipeError:  # `venvlock status | head -1`: the reader has gone, as for any Unix tool: no message
        _quiet_stdout()
        return 1
    except OSError as failure:  # a folder that cannot be read or written: one line, not a traceback
        where = f": {failure.filename}" if failure.filename else ""
        error(f"{failure.strerror or failure}{where}")
        return exit_code(failure)


def _quiet_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's final flush to a closed pipe says nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
