"""The sync journal: a sync in progress says so, and the next holder heals what an interrupted one left.

:func:`begin` writes ``<env>/.venvlock/journal`` before an installer runs under the environment lock: the
holder (pid and start time, so a reused pid is not taken for it), the command (redacted), when it began.
:func:`end` removes it once the installer succeeded and the result is recorded.  Any other end (killed;
Ctrl-C, on which pip exits 1 without undoing a half-written distribution; a failure) leaves it.

A holder that finds a journal left behind (its writer gone, or this process in an earlier sync) calls
:func:`heal`: the stashes, unfinished dist-infos and dist-infos that sync wrote without finishing
(:func:`suspects`) are removed inside the environment's scheme only (:func:`venvlock.core._installed.repair`),
the journal is cleared, and the sync puts the removed distributions back at their versions (:func:`put_back`,
into the environment only) before it judges.  A journal of a live holder that is not this process belongs to an
outer sync this one runs under (``venvlock run -- pip-locked ...``): left alone, and no second one is written.

Plain ``os``: :func:`pending` is one ``lstat`` on the fast path.
"""

from __future__ import annotations

import os
import sys
import time
from typing import NamedTuple

from venvlock._fast import JOURNAL_NAME
from venvlock._faults import inject_fault
from venvlock.core._files import read_file_and_stat, remove_file, write_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from venvlock.core._environment import Environment


def journal_path(environment: Environment) -> str:
    return os.path.join(environment.record_dir(), JOURNAL_NAME)


def pending(environment: Environment) -> bool:
    """Whether a journal is there (a sync is running, or one was interrupted): one ``lstat``."""
    return os.path.lexists(journal_path(environment))


def process_start(pid: int) -> str:
    """An identity of *pid*'s start ("" when unknown): its start time in clock ticks since boot (Linux ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rpartition(b")")[2].split()
        return fields[19].decode("ascii")
    except (OSError, IndexError, UnicodeDecodeError):
        return ""


class Entry(NamedTuple):
    """A journal as read (*start*: see :func:`process_start`)."""

    pid: int
    start: str
    began_ns: int
    command: str

    def ours(self) -> bool:
        """Written by this very process (an earlier sync of it that did not end well)."""
        return self.pid == os.getpid() and self.start == process_start(self.pid)

    def holder_alive(self) -> bool:
        """Whether the process that wrote it still runs (the same process: a reused pid does not count)."""
        if sys.platform == "win32":
            from venvlock.core._windows import pid_alive
        else:
            from venvlock.core._unix import pid_alive

        if not pid_alive(self.pid):
            return False
        start = process_start(self.pid)
        return not (self.start and start and start != self.start)

    def left_behind(self) -> bool:
        """Left by a sync that is over: its holder is gone, or it is this process's own."""
        return self.ours() or not self.holder_alive()


def read(environment: Environment) -> Entry | None:
    """The journal of *environment*, or None; a damaged one reads as left by nobody alive.

    *began_ns* is the earlier of the time written in it and the journal file's own modification time: the files
    an installer writes get their times from the file system's clock, which is coarser than the process's (a
    folder made 1 ms after ``time.time_ns()`` is usually stamped before it) and, on a network file system, the
    server's (minutes behind, at times); the journal, written just before the installer started, was stamped
    by that same clock."""
    read = read_file_and_stat(journal_path(environment))
    if read is None:
        return None
    text, info = read
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        fields[key] = value
    try:
        pid = int(fields.get("pid", "0"))
        began = int(fields.get("began", "0"))
    except ValueError:
        pid, began = 0, 0
    return Entry(pid, fields.get("start", ""), min(began, info.st_mtime_ns), fields.get("command", "?"))


def begin(environment: Environment, command: str) -> bool:
    """Write the journal of a sync about to run *command* (redacted here); whether this process owns it now
    (False, nothing written: a live outer holder's journal is there, or it cannot be written)."""
    from venvlock.core._holder import redact

    existing = read(environment)
    if existing is not None and not existing.left_behind():
        return False
    one_line = redact(command).replace("\n", " ").replace("\r", " ")
    text = f"pid {os.getpid()}\nstart {process_start(os.getpid())}\nbegan {time.time_ns()}\ncommand {one_line}\n"
    try:
        inject_fault("journal", signals=False, errors=True)  # its signals come once it is written
        write_file(journal_path(environment), text, make_folder=True)
    except OSError:
        return False
    return True


def end(environment: Environment) -> None:
    """Clear the journal this process wrote (:func:`begin` returned True)."""
    remove_file(journal_path(environment))


def suspects(site_dirs: list[str], since_ns: int) -> list[str]:
    """What an install interrupted after *since_ns* may have left in *site_dirs* (see the module docstring).

    pip's ``~`` stashes, unfinished dist-infos, the dist-infos written since that have no INSTALLER or miss a file
    of their RECORD; and every dist-info, however old, that misses a file of its RECORD which lies in a stash (pip
    was moving its files away when it was interrupted: an uninstall, or the first half of an upgrade): the stash
    goes, and the files with it.
    """
    from venvlock.core._installed import scan

    found = scan(site_dirs)
    damaged = list(found.leftovers)
    for dist in found.distributions:
        if not dist.is_dist_info:
            continue
        if not dist.complete():
            damaged.append(dist.folder)
            continue
        try:
            changed = os.stat(dist.folder).st_mtime_ns
        except OSError:
            continue
        missing = [path for path in dist.record_files() if not os.path.lexists(path)]
        if changed >= since_ns and (missing or not os.path.isfile(os.path.join(dist.folder, "INSTALLER"))):
            damaged.append(dist.folder)  # written by that sync, and not finished
        elif missing and found.leftovers and _in_a_stash(missing, dist.site, found.leftovers):
            damaged.append(dist.folder)  # pip stashed its files away, and the stash goes
    return damaged


def _in_a_stash(missing: list[str], site: str, stashes: list[str]) -> bool:
    """Whether one of the *missing* files of a distribution in *site* lies in one of pip's *stashes*: a folder
    ``~...`` beside the one it was (as long as its name: pip puts ``~`` and other characters in place of the first
    ones) that holds the file."""
    here = [os.path.basename(stash) for stash in stashes if os.path.dirname(stash) == site]
    for path in missing:
        top, _, rest = os.path.relpath(path, site).partition(os.sep)
        if not rest or top.startswith(os.pardir):
            continue
        for stash in here:
            if len(stash) == len(top) and os.path.lexists(os.path.join(site, stash, rest)):
                return True
    return False


def heal(environment: Environment, site_dirs: list[str] | None = None) -> list[tuple[str, str]]:
    """Under the environment lock: remove what the sync of a journal left behind, clear it; ``(name, version)``
    of each distribution removed (to put back: :func:`put_back`).

    Only the package folders of the environment's own install scheme are looked at (of *site_dirs*, the sync's
    reading): never an interpreter's other site folders (Debian's ``dist-packages``, whose dist-infos apt
    writes without INSTALLER).  A project pip was replacing when it was interrupted is put back at the version of
    its half-installed dist-info, else (only pip's ``~`` stash of the old one is left) at the stashed version."""
    entry = read(environment)
    if entry is None:
        if pending(environment):  # there, but not a file venvlock reads (a link, a folder): not ours to trust
            end(environment)
        return []
    if not entry.left_behind():
        return []
    from venvlock.core._installed import Distribution, canonical_name, repair, scan, stashed_distribution

    own = environment.package_folders()
    folders = [folder for folder in site_dirs if folder in own] if site_dirs is not None else own
    damaged = suspects(folders, entry.began_ns)
    removed: dict[str, tuple[str, str]] = {}
    stashed: dict[str, tuple[str, str]] = {}
    for folder in damaged:
        if os.path.basename(folder).startswith("~"):
            found = stashed_distribution(folder)
            if found is not None:
                stashed.setdefault(canonical_name(found[0]), found)
        elif folder.endswith(".dist-info"):
            dist = Distribution(os.path.dirname(folder), os.path.basename(folder))
            if dist.name and dist.version:
                removed.setdefault(dist.key, (dist.name, dist.version))
    if damaged:
        count = sum(1 for folder in damaged if not os.path.basename(folder).startswith("~"))
        stashes = len(damaged) - count
        parts = [f"{count} distribution" + ("s" if count != 1 else "")] if count else []
        parts += [f"{stashes} of pip's leftovers"] if stashes else []
        what = " and ".join(parts)
        print(
            f"venvlock: the last sync of {environment.name} was interrupted (pid {entry.pid}, `{entry.command}`); "
            f"repairing {what}",
            file=sys.stderr,
            flush=True,
        )
        repair(damaged, folders)
    inject_fault("heal")
    if stashed:  # a stash whose project has no distribution left: pip was replacing or removing it
        left = scan(folders).by_key
        for key, old in stashed.items():
            if key not in left:
                removed.setdefault(key, old)
    if not removed:
        end(environment)
    elif not begin(environment, "put back " + " ".join(f"{name}=={version}" for name, version in removed.values())):
        end(environment)  # it cannot be written: as before any journal
    # else: this process's journal now, until the removed distributions are back (put_back), so that an
    # interruption of their reinstall is healed in turn
    return list(removed.values())


def put_back(
    environment: Environment,
    removed: list[tuple[str, str]],
    args: list[str],
    install: Callable[[list[str]], int] | None,
    *,
    uv: bool = False,
) -> None:
    """Reinstall what :func:`heal` removed, at its version, with *install* (the sync's installer, given pip
    ``install`` arguments: :func:`reinstall_args` of *args*; None: a tool's own installer, which cannot be asked).

    Only into the environment: when pip's settings (``PIP_TARGET``, ``PIP_USER``, ``target`` in a pip.conf, ...)
    would send the install elsewhere, nothing is installed.  Each time nothing is put back, one line says what
    and why, so the user installs it again.  The journal :func:`heal` wrote for the reinstall is cleared once the
    installer succeeded; otherwise the sync's own journal replaces it (or, with no sync after, the next holder
    finds it and looks again).
    """
    if not removed:
        return
    from venvlock._pip.config import elsewhere

    arguments = reinstall_args(removed, args)
    if install is None:
        why = "the tool installs with its own installer"
        end(environment)  # nothing installed: nothing half-done
    else:
        where = elsewhere(environment.config_prefix(), arguments, uv=uv)
        if where:
            why = f"{'; '.join(where)}: the installer would install elsewhere"
            end(environment)
        else:
            returncode = install(arguments)
            if returncode == 0:
                end(environment)  # the journal heal wrote for the reinstall
                return
            why = f"the installer failed, exit {returncode}"  # it may have left half-done work: the journal stays
    specs = ", ".join(f"{name}=={version}" for name, version in removed)
    print(
        f"venvlock: {specs}: removed (the interrupted sync left it half-installed), not reinstalled ({why}): "
        "install it again",
        file=sys.stderr,
        flush=True,
    )


def reinstall_args(removed: list[tuple[str, str]], args: list[str]) -> list[str]:
    """pip ``install`` arguments that put back *removed* at their versions, from where a request's *args* install:
    only its options that say where and how to find distributions (index, find-links, binaries, ``--pre``)."""
    from venvlock._pip.options import HARMLESS, read_options

    kept: list[str] = []
    for option, value in read_options(args):
        if isinstance(option, str) or option.kind != HARMLESS or option.name in ("--help", "--version"):
            continue
        kept.append(option.name)
        if option.takes_value and value is not None:
            kept.append(value)
    return [*kept, "--no-deps", *(f"{name}=={version}" for name, version in removed)]
