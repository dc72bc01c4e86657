"""``venvlock status [PATH ...] [--all] [--json]``: who holds an environment's locks, half-built markers, the last sync.

Takes no lock (a probe holds one for an instant when it is free) and creates
nothing: a missing lock file is a free lock.  Exits 0, or 2 when a PATH names
nothing (no folder, no creation lock, no half-built marker: a typo).

A half-built marker ``.<name>.incomplete`` beside a folder is named after the
tool that left it, as the marker says (:meth:`Marker.read_incomplete`).  An
interpreter outside any venv has neither markers nor a creation lock: nothing
creates it.
"""

from __future__ import annotations

import json
import os
import time

from venvlock.adapter import Adapter, Marker, display_path
from venvlock.cli._environments import discover, environment_at
from venvlock.core import Environment, EnvironmentKind
from venvlock.errors import SettingError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from venvlock.core import LockState


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
    interpreter = environment.kind is EnvironmentKind.INTERPRETER
    creation_lock = None if interpreter else Adapter.lock_state(Adapter.creation_lock_path(environment))
    return {
        "environment": environment.path,
        "name": environment.name,
        "kind": environment.kind.value,
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
    """Half-built markers: ``.<name>.incomplete`` beside the folder (nox's too); a venv without ``pyvenv.cfg``.

    None for an interpreter outside any venv: nothing creates it, so it is never half-built.
    """
    found: list[dict[str, str]] = []
    if environment.kind is EnvironmentKind.INTERPRETER:
        return found
    half_built = Marker.read_incomplete(environment.path)
    if half_built is not None:
        by = f" (by pid {half_built.pid}: {half_built.command})" if half_built.pid and half_built.command else ""
        found.append(
            {
                "tool": half_built.tool or "unknown tool",
                "marker": half_built.path,
                "meaning": f"its creation or removal did not finish{by}",
            }
        )
    if environment.exists() and not os.path.isfile(os.path.join(environment.path, "pyvenv.cfg")):
        found.append(
            {"tool": "venv", "marker": os.path.join(environment.path, "pyvenv.cfg"), "meaning": "no pyvenv.cfg"}
        )
    return found


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
    if report["kind"] == EnvironmentKind.INTERPRETER.value:
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
