"""``venvlock run [-p PATH] [--creation] [--] COMMAND ...``: the ``flock(1)`` of environments.

Everything from COMMAND on is COMMAND's (``venvlock run ls -la``), as with
``uv run``; a ``--`` before it is optional.

COMMAND runs while the environment lock (``<env>/.lock``, the file uv locks)
is held, and with ``--creation`` the creation lock first, so poetry, pdm,
pip-sync, conda or a Makefile step take turns with uv, pip-locked, hatch, nox
and tox.  Waiting says who holds the lock; ``VENVLOCK_TIMEOUT`` bounds the
wait (exit 75).  COMMAND inherits the locked descriptors (it keeps the lock
if this process is killed); a ``pip-locked`` inside it goes on under this
hold instead of waiting for it (its holder is an ancestor).  A uv inside
COMMAND, which takes ``<env>/.lock`` on its own, gets that lock lent while
venvlock's sync lock stays held (uv's own timeouts are never changed): on
Linux whichever route started it (the hold sees it blocked in
``/proc/locks``); elsewhere when COMMAND itself is uv (``uv``, ``uv.exe``,
``python -m uv``).

Exit status: COMMAND's; 128+N when signal N ended it (as a shell says);
127 when it cannot be found, 126 when it cannot be run.  SIGTERM, SIGHUP and
SIGQUIT sent to venvlock are passed on to COMMAND; so is SIGINT, except when
a terminal's Ctrl-C already reached COMMAND (same foreground process group).
With ``--creation`` and no folder yet, only the creation lock is held (the
environment lock lives inside the folder); an interpreter outside any venv
has no creation lock (a usage error: nothing creates it).
"""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import ExitStack

from venvlock._uv import runs_uv
from venvlock.adapter import Adapter, SettingError, describe_command
from venvlock.cli._environments import environment_at
from venvlock.cli._messages import error
from venvlock.core import EnvironmentKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from types import FrameType

#: signals passed on to the command
FORWARDED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name))


def main(options: argparse.Namespace, command: list[str]) -> int:
    environment = environment_at(options.path, must_exist=not options.creation)
    if options.creation and environment.kind is EnvironmentKind.INTERPRETER:
        raise SettingError(
            f"--creation: {environment.name} is an interpreter outside any venv: nothing creates it, "
            "it has no creation lock (give a virtual environment)"
        )
    adapter = Adapter("venvlock")
    with ExitStack() as stack:
        descriptors: list[int] = []
        if options.creation:
            hold = stack.enter_context(adapter.creation_lock(environment))
            if hold is not None and hold.fd is not None:
                descriptors.append(hold.fd)
        if environment.exists():
            hold = stack.enter_context(adapter.environment_lock(environment))
            # COMMAND may change the environment: a journal says so until it ends by itself with success
            journal = adapter.begin_journal(environment, describe_command(command), hold)
            if hold is not None:
                if runs_uv(command):  # uv takes <env>/.lock itself: lend it, keep venvlock's sync lock
                    stack.enter_context(hold.lend())
                descriptors.extend(hold.fds)
            returncode = run_command(command, descriptors)
            if journal and returncode == 0:
                adapter.end_journal(environment)
            return returncode
        return run_command(command, descriptors)
    raise AssertionError("unreachable")  # pragma: no cover


def run_command(command: Sequence[str], descriptors: Sequence[int]) -> int:
    """Run *command* with *descriptors* inherited; its exit status, signals passed on (see module docstring).

    *command* also inherits every descriptor this process inherited (``cat <(...)``'s ``/dev/fd/63``, a make
    jobserver's), as with ``flock(1)``: nothing is closed but what Python opened itself (never inheritable).
    """
    if os.name != "nt":
        for fd in descriptors:
            os.set_inheritable(fd, True)
    try:
        child = subprocess.Popen(list(command), close_fds=False)
    except FileNotFoundError:
        error(f"cannot run {command[0]}: command not found")
        return 127
    except OSError as failure:
        error(f"cannot run {command[0]}: {failure.strerror or failure}")
        return 126

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == getattr(signal, "SIGINT", None) and _ctrl_c_reached(child.pid):
            return
        try:
            child.send_signal(signum)
        except OSError:
            pass

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
        while True:
            try:
                returncode = child.wait()
                break
            except KeyboardInterrupt:  # a SIGINT before the handler was set: the child has it too
                continue
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - returncode if returncode < 0 else returncode


def _ctrl_c_reached(pid: int) -> bool:
    """Whether a terminal's Ctrl-C reached *pid* too: it shares our process group, the terminal's foreground one."""
    if os.name == "nt":
        return True
    try:
        group = os.getpgrp()
        if os.getpgid(pid) != group:
            return False
        with open("/dev/tty", "rb") as tty:
            return os.tcgetpgrp(tty.fileno()) == group
    except OSError:
        return False
