"""The record of a sync: what was found in sync, so the next identical request costs a few stats.

A record is a small file ``<env>/.venvlock/synced/<key>``.  Its *key* is a
digest of every input the check read: the interpreter, the arguments, the
contents of every ``-r``/``-c`` file, each ``${VAR}`` those files expand
(value, or unset), every pip configuration file pip would read (content, or
absent), the ``PIP_*`` variables, and the venvlock plugin set.  Its
content is the environment's *fingerprint* when it was found in sync: the
modification time and inode of each package folder, which change whenever a
distribution is added, removed, upgraded or reinstalled there.

A record is trusted only when the fingerprint still matches and the record is
strictly newer than every package folder, so a change in the same clock tick
as the record (coarse file-system clocks) is never missed: such a record is
ignored and the full check runs (as Git treats "racily clean" index entries).
"""

from __future__ import annotations

import os
import sys

from venvlock.core._environment import Environment, short_digest
from venvlock.core._files import read_file_and_stat, remove_file, write_file
from venvlock.core._request import ParsedRequest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from venvlock.core._request import SyncRequest


def fingerprint(site_dirs: list[str]) -> tuple[str, int]:
    """``(text, newest mtime_ns)`` of the environment's package folders."""
    lines, newest = [], 0
    for folder in site_dirs:
        try:
            stat = os.stat(folder)
        except OSError:
            lines.append(f"{folder} missing")
            continue
        lines.append(f"{folder} {stat.st_mtime_ns} {stat.st_ino}")
        newest = max(newest, stat.st_mtime_ns)
    return "\n".join(lines), newest


def _plugin_set() -> str:
    """What identifies the installed venvlock plugins: the folder venvlock is installed in, and its mtime."""
    import venvlock

    folder = os.path.dirname(os.path.dirname(os.path.abspath(venvlock.__file__)))
    try:
        mtime = os.stat(folder).st_mtime_ns
    except OSError:
        mtime = 0
    return f"venvlock {venvlock.__version__} {folder} {mtime} {os.environ.get('VENVLOCK_INSTALLER', '')}"


def request_key(environment: Environment, request: SyncRequest, parsed: ParsedRequest) -> str:
    """The record key of *request* (see the module docstring)."""
    parts = [
        environment.path,
        os.path.realpath(environment.python),
        request.command,
        request.cwd,
        "\0".join(request.args),
        os.environ.get("PYTHONPATH", ""),
        _plugin_set(),
        sys.platform,
    ]
    try:
        stat = os.stat(environment.python)
        parts.append(f"{stat.st_mtime_ns} {stat.st_size}")
    except OSError:
        parts.append("no interpreter")
    parts.extend(parsed.settings.fingerprint)
    for path, text in parsed.files:
        parts.append(f"file {path}\n{text}")
    for name, value in sorted(parsed.variables.items()):
        parts.append(f"variable {name} unset" if value is None else f"variable {name}={value}")
    return short_digest("\n\0".join(parts))


def _record_path(environment: Environment, key: str) -> tuple[str, str]:
    """``(path, below)``: the record file of *key*, and the folder venvlock's own folders on the way hang from.

    ``.venvlock`` and ``synced`` are venvlock's: made and opened without following links (a
    ``<env>/.venvlock`` planted as a link to another folder is never written through).
    """
    folder = environment.record_dir()
    return os.path.join(folder, "synced", key), os.path.dirname(folder)


def recorded_count(environment: Environment, key: str, site_dirs: list[str]) -> int | None:
    """The number of distributions checked when *key* was recorded, if the record still holds; else None."""
    path, below = _record_path(environment, key)
    read = read_file_and_stat(path, below=below)
    if read is None:
        return None
    content, status = read
    record_mtime = status.st_mtime_ns
    count, _, stored = content.partition("\n")
    text, newest = fingerprint(site_dirs)
    if stored != text or record_mtime <= newest:
        return None
    try:
        return int(count)
    except ValueError:
        return None


def write_record(environment: Environment, key: str, site_dirs: list[str], before: str, checked: int) -> bool:
    """Record *key* as in sync if the fingerprint is still *before* (taken before the check). Atomic."""
    text, _ = fingerprint(site_dirs)
    if text != before:
        return False
    try:
        path, below = _record_path(environment, key)
        write_file(path, f"{checked}\n{text}", make_folder=True, below=below)
    except OSError:
        return False
    return True


def forget(environment: Environment, key: str) -> None:
    """Remove the record of *key* (a failed install records nothing as synced)."""
    path, below = _record_path(environment, key)
    remove_file(path, below=below)
