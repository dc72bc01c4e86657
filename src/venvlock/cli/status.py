"""``venvlock status [PATH ...] [--all] [--json]``: who holds an environment's locks, half-built markers, the last sync.

Takes no lock (a probe holds one for an instant when it is free) and creates
nothing: a missing lock file is a free lock.  Always exits 0.
"""

from __future__ import annotations

import json
import os
import time

from venvlock.adapter import Adapter, display_path
from venvlock.cli._environments import discover, environment_at
from venvlock.core import Environment

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from venvlock.core import LockState

#: hatch's half-built marker beside the folder (venvlock's hatch plugin)
HATCH_INCOMPLETE = ".incomplete"
#: nox's provisioned marker inside the folder (venvlock's nox adapter)
NOX_PROVISIONED = "nox-provisioned"


def main(options: argparse.Namespace, extra: list[str]) -> int:
    environments = [environment_at(path, must_exist=False) for path in options.paths]
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


def environment_status(environment: Environment) -> dict[str, object]:
    """What ``status`` shows about *environment*, as JSON-ready data."""
    env_lock = Adapter.lock_state(Adapter.lock_path(environment))
    creation_lock = Adapter.lock_state(Adapter.creation_lock_path(environment))
    return {
        "environment": environment.path,
        "name": environment.name,
        "exists": environment.exists(),
        "environment_lock": lock_status(env_lock),
        "creation_lock": lock_status(creation_lock),
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
    """Half-built markers: hatch's ``.<name>.incomplete`` beside the folder; nox's provisioned marker missing."""
    found: list[dict[str, str]] = []
    parent, name = os.path.split(environment.path.rstrip(os.sep))
    incomplete = os.path.join(parent, f".{name}{HATCH_INCOMPLETE}")
    if os.path.lexists(incomplete):
        found.append({"tool": "hatch", "marker": incomplete, "meaning": "half-built: its creation did not finish"})
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
    lines = [f"{report['name']}" + ("" if report["exists"] else "  (no folder)")]
    lines.append(f"  environment lock: {_lock_line(report['environment_lock'])}")  # type: ignore[arg-type]
    lines.append(f"  creation lock:    {_lock_line(report['creation_lock'])}")  # type: ignore[arg-type]
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
