"""The record of a sync: what was found in sync, so the next identical request costs a few stats.

``<env>/.venvlock/synced/<key>``: *key* digests every input the check read (:func:`request_key`), the content
is the environment's fingerprint when it was found in sync.  Trusted only while the fingerprint matches and it
is strictly newer than every package folder (:func:`venvlock._fast.record_holds`: a change in the record's clock
tick is never missed, as Git's "racily clean" rule; docs/design.md).  :func:`remember_noop` writes the entry
by which ``pip-locked``'s fast path (:mod:`venvlock._fast`) proves a repeated no-op without the rest of venvlock.
"""

from __future__ import annotations

import os
import sys

from venvlock._fast import Miss, entry_path, entry_text, fingerprint, path_signatures, record_holds, signature
from venvlock._faults import inject_fault
from venvlock._pip.requirements import ParsedRequest
from venvlock.core._environment import Environment, EnvironmentKind, short_digest
from venvlock.core._files import read_file_and_stat, remove_file, write_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from venvlock.core._request import SyncRequest


def _plugin_set() -> str:
    """What identifies the venvlock plugins this process loads: venvlock's version, its settings, ``sys.path``
    and the stats of its folders (adding or removing a plugin changes them; the fast path reads the same).

    Not the working folder's stat (its name stays): it is on nox's and pytest's paths and changes with every file.
    """
    import venvlock

    folder = os.path.dirname(os.path.dirname(os.path.abspath(venvlock.__file__)))
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    paths = " ".join(
        " ".join(map(str, seen)) if seen else "-" for path, seen in path_signatures() if path not in (".", cwd)
    )
    settings = [os.environ.get(name, "") for name in ("VENVLOCK_INSTALLER", "VENVLOCK_NO_PLUGINS")]
    return f"venvlock {venvlock.__version__} {folder} {settings} {sys.path} {paths}"


def request_key(environment: Environment, request: SyncRequest, parsed: ParsedRequest) -> str:
    """The record key of *request*: the interpreter, the arguments, the contents of every ``-r``/``-c`` file, each
    ``${VAR}`` they expand (value, or unset), pip's settings and configuration files, the venvlock plugin set."""
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
    """``(path, below)``: the record file of *key*, and the folder below which ``.venvlock/synced`` are venvlock's
    (made and opened without following links: a planted ``<env>/.venvlock`` link is never written through)."""
    folder = environment.record_dir()
    return os.path.join(folder, "synced", key), os.path.dirname(folder)


def recorded_count(environment: Environment, key: str, site_dirs: list[str]) -> int | None:
    """The number of distributions checked when *key* was recorded, if the record still holds; else None."""
    path, below = _record_path(environment, key)
    read = read_file_and_stat(path, below=below)
    if read is None:
        return None
    content, status = read
    return record_holds(content, status.st_mtime_ns, site_dirs)


def write_record(environment: Environment, key: str, site_dirs: list[str], before: str, checked: int) -> bool:
    """Record *key* as in sync if the fingerprint is still *before* (taken before the check). Atomic."""
    text, _ = fingerprint(site_dirs)
    if text != before:
        return False
    try:
        path, below = _record_path(environment, key)
        inject_fault("record", errors=True)  # test-only (venvlock.core._journal)
        write_file(path, f"{checked}\n{text}", make_folder=True, below=below)
    except OSError:
        return False
    return True


def forget(environment: Environment, key: str) -> None:
    """Remove the record of *key* (a failed install records nothing as synced)."""
    path, below = _record_path(environment, key)
    remove_file(path, below=below)


def remember_noop(environment: Environment, request: SyncRequest, miss: Miss, *, quiet: bool) -> bool:
    """Write the fast path's entry for a run that found *request* in sync; whether one was written (only for a
    venv whose folder the fast path looks in, a request with a record key, stats old enough to prove anything)."""
    parsed = request.parsed
    if (
        miss.key is None
        or parsed is None
        or parsed.cannot_judge
        or environment.kind != EnvironmentKind.VENV
        or os.path.realpath(miss.folder) != os.path.realpath(environment.path)
    ):
        return False
    site_dirs = environment.site_folders_to_judge()
    if site_dirs is None:
        return False
    own = [
        (path, signature(path)) for path in (environment.python, os.path.join(environment.path, "pyvenv.cfg"))
    ]  # looked at before the key, which reads the interpreter's stat: a change after this shows
    uv_settings = [(path, signature(path)) for path in request.uv_settings_files()]  # what uv_cannot_judge read
    key = request_key(environment, request, parsed)
    if recorded_count(environment, key, site_dirs) is None:
        return False  # the entry proves a record: only one that holds now
    text = entry_text(
        miss,
        record_key=key,
        site_dirs=site_dirs,
        inputs=[*own, *parsed.inputs, *uv_settings],
        variables=parsed.variables,
        quiet=quiet,
    )
    if text is None:
        return False
    try:
        write_file(entry_path(miss.folder, miss.key), text, make_folder=True, below=miss.folder)
    except OSError:
        return False
    return True
