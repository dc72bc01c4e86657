"""``venvlock status [PATH ...] [--all] [--json]``: who holds an environment's locks, half-built markers, the last sync.

Takes no lock (a probe holds one for an instant when it is free) and creates
nothing: a missing lock file is a free lock.  Exits 0, or 2 when a PATH names
nothing (no folder, no creation lock, no half-built marker: a typo).

A half-built marker ``.<name>.incomplete`` beside a folder is named after the
tool that left it: tox's plugin writes its pid and command line into it (and
keeps its environments in ``.tox/``), hatch's writes ``incomplete``.  An
interpreter outside any venv has neither markers nor a creation lock: nothing
creates it.
"""

from __future__ import annotations

import json
import os
import time

from venvlock.adapter import Adapter, display_path
from venvlock.cli._environments import INTERPRETER, discover, environment_at, kind_of
from venvlock.core import Environment
from venvlock.errors import SettingError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from venvlock.core import LockState

#: the half-built marker beside the folder: ``.<name>.incomplete`` (venvlock's hatch and tox plugins)
INCOMPLETE_SUFFIX = ".incomplete"
#: the tools whose plugins write that marker, known by the command line some write into it
MARKER_TOOLS = ("tox", "hatch", "nox")
#: what hatch's plugin writes into its marker
HATCH_MARKER_TEXT = "incomplete"
#: nox's provisioned marker inside the folder (venvlock's nox adapter)
NOX_PROVISIONED = "nox-provisioned"


def main(options: argparse.Namespace, extra: list[str]) -> int:
    environments = [given(path) for path in options.paths]
    if not options.paths:
        default = environment_at(None, must_exist=False)
        if default.exists() or not options.all:
            environments.append(default)
    if options.all:
        environments.extend(discover(os.getcwd()))
    unique = list(dict.fromkeys(environments))
    reports = [environment_status(environment) for environment in unique]
    if options.json:
        print(json.dumps(reports, indent=2))
    else:
        for index, report in enumerate(reports):
            if index:
                print()
            print(format_status(report))
    return 0


def given(path: str) -> Environment:
    """The environment at *path*, which may not exist yet if a creation of it is under way or was cut short."""
    environment = environment_at(path, must_exist=False)
    if environment.exists() or markers(environment):
        return environment
    if os.path.lexists(Adapter.creation_lock_path(environment)):
        return environment
    raise SettingError(f"no environment at {path} (no folder, no creation lock, no half-built marker)")


def environment_status(environment: Environment) -> dict[str, object]:
    """What ``status`` shows about *environment*, as JSON-ready data (``creation_lock`` None for an interpreter)."""
    env_lock = Adapter.lock_state(Adapter.lock_path(environment))
    interpreter = kind_of(environment) == INTERPRETER
    creation_lock = None if interpreter else Adapter.lock_state(Adapter.creation_lock_path(environment))
    return {
        "environment": environment.path,
        "name": environment.name,
        "kind": kind_of(environment),
        "python": environment.python if interpreter else None,
        "exists": environment.exists(),
        "environment_lock": lock_status(env_lock),
        "creation_lock": None if creation_lock is None else lock_status(creation_lock),
        "markers": markers(environment),
        "last_sync": last_sync(environment),
    }


def lock_status(state: LockState) -> dict[str, object]:
    holder = state.holder
    return {
        "path": state.path,
        "state": state.state,
        "held": state.held,
        "holder": None
        if holder is None
        else {"pid": holder.pid, "command": holder.command, "alive": holder.alive, "since": state.since},
        "reason": state.reason or None,
    }


def markers(environment: Environment) -> list[dict[str, str]]:
    """Half-built markers: ``.<name>.incomplete`` beside the folder; nox's provisioned marker missing.

    None for an interpreter outside any venv: nothing creates it, so it is never half-built.
    """
    found: list[dict[str, str]] = []
    if kind_of(environment) == INTERPRETER:
        return found
    parent, name = os.path.split(environment.path.rstrip(os.sep))
    incomplete = os.path.join(parent, f".{name}{INCOMPLETE_SUFFIX}")
    if os.path.lexists(incomplete):
        tool, by = marker_author(incomplete)
        found.append({"tool": tool, "marker": incomplete, "meaning": f"its creation or removal did not finish{by}"})
    if os.path.basename(parent) == ".nox" and environment.exists():
        provisioned = os.path.join(environment.record_dir(), NOX_PROVISIONED)
        if not os.path.lexists(provisioned):
            found.append(
                {
                    "tool": "nox",
                    "marker": provisioned,
                    "meaning": "not marked provisioned: its installs did not finish, or venvlock's nox adapter "
                    "did not make it",
                }
            )
    if environment.exists() and not os.path.isfile(os.path.join(environment.path, "pyvenv.cfg")):
        found.append(
            {"tool": "venv", "marker": os.path.join(environment.path, "pyvenv.cfg"), "meaning": "no pyvenv.cfg"}
        )
    return found


def marker_author(marker: str) -> tuple[str, str]:
    """Which tool left the half-built *marker*, and ``" (by pid N: COMMAND)"`` when it says so.

    A ``tool = NAME`` line says it (the adapter layer's markers); else tox's
    plugin writes ``<pid>\\n<command line>``, hatch's ``incomplete``, and a
    marker in ``.tox/`` is tox's.  The marker is read without following a
    symbolic link, only if it is a small regular file.
    """
    lines = _read_small(marker).splitlines()
    pid, command = [*lines, "", ""][:2]
    program = os.path.basename(command.split(" ", 1)[0]) if pid.strip().isdigit() else ""
    by = f" (by pid {pid.strip()}: {command})" if program else ""
    for line in lines:  # the adapter layer's marker names its tool: "tool = hatch"
        key, _, value = line.partition("=")
        if key.strip() == "tool" and value.strip():
            return value.strip(), by
    if program in MARKER_TOOLS:
        return program, by
    if os.path.basename(os.path.dirname(marker)) == ".tox":
        return "tox", by
    if lines[:1] == [HATCH_MARKER_TEXT]:
        return "hatch", by
    return (program or "unknown tool"), by


def _read_small(path: str, limit: int = 4096) -> str:
    """The start of the regular file *path* ("" for a link, a FIFO or an unreadable file)."""
    import stat

    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return ""
        return os.read(descriptor, limit).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(descriptor)


def last_sync(environment: Environment) -> float | None:
    """When venvlock last recorded a sync of *environment* (the newest record), or None."""
    folder = os.path.join(environment.record_dir(), "synced")
    newest: float | None = None
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return None
    for entry in entries:
        if entry.name.endswith(".tmp"):
            continue
        try:
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        newest = mtime if newest is None else max(newest, mtime)
    return newest


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "unknown"
    ago = max(time.time() - stamp, 0.0)
    if ago < 120:
        age = f"{ago:.0f}s ago"
    elif ago < 7200:
        age = f"{ago / 60:.0f} min ago"
    elif ago < 172800:
        age = f"{ago / 3600:.0f} h ago"
    else:
        age = f"{ago / 86400:.0f} days ago"
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(stamp))} ({age})"


def _lock_line(lock: dict[str, object]) -> str:
    state = str(lock["state"])
    where = display_path(str(lock["path"]))
    if state == "missing":
        return f"free (no lock file yet: {where})"
    if state == "free":
        return f"free ({where})"
    if state == "unknown":
        return f"unknown: {lock['reason']} ({where})"
    holder = lock["holder"]
    if not isinstance(holder, dict):
        return f"held ({state}) by a process that did not say who it is, e.g. uv ({where})"
    who = f"pid {holder['pid']}: {holder['command']}"
    if not holder["alive"]:
        who = f"a child of pid {holder['pid']}, which has exited: {holder['command']}"
    return f"held ({state}) by {who}, since {_when(holder['since'])} ({where})"


def format_status(report: dict[str, object]) -> str:
    """The lines ``status`` prints for one environment."""
    header = f"{report['name']}" + ("" if report["exists"] else "  (no folder)")
    if report["kind"] == INTERPRETER:
        header += f"  (the interpreter {display_path(str(report['python']))}, not a virtual environment)"
    lines = [header, f"  environment lock: {_lock_line(report['environment_lock'])}"]  # type: ignore[arg-type]
    creation = report["creation_lock"]
    if isinstance(creation, dict):
        lines.append(f"  creation lock:    {_lock_line(creation)}")
    else:
        lines.append("  creation lock:    none (an interpreter outside any venv: nothing creates it)")
    found = report["markers"]
    if isinstance(found, list) and found:
        for marker in found:
            where = display_path(marker["marker"])
            lines.append(f"  half-built:       {marker['tool']}: {marker['meaning']} ({where})")
    else:
        lines.append("  half-built:       no marker")
    stamp = report["last_sync"]
    lines.append(f"  last sync:        {_when(stamp) if isinstance(stamp, float) else 'none recorded'}")
    return "\n".join(lines)
