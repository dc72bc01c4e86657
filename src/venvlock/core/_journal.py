"""The sync journal: a sync in progress says so, and the next holder heals what an interrupted one left.

Before an installer runs under the environment lock, :func:`begin` writes
``<env>/.venvlock/journal`` (atomically, never through a link, see
:mod:`venvlock.core._files`): which holder (its pid and its start time, so a
reused pid is not taken for it), what it runs (the command line, redacted),
the requirement names the request names (when known), and the wall clock when
it began.  :func:`end` removes it once the installer has ended and the result
is recorded.  An installer that did not end by itself with success (killed, a
Ctrl-C: pip exits 1 on Ctrl-C without undoing a half-written distribution, or
failed) leaves the journal for the next holder to look at.

A process that takes the lock and finds a journal whose holder is gone (or
that it wrote itself in an earlier sync) calls :func:`heal`: the environment
is suspect.  It looks, through the one model (:func:`venvlock.core._installed.scan`),
for what an interrupted install leaves: pip's ``~`` stash folders, unfinished
dist-infos (no METADATA or RECORD; the wheel's RECORD, no INSTALLER, files
missing), and among the dist-infos written since the journal began, those
without INSTALLER (the installer writes it after every file) or with a file
of their RECORD missing.  Those are removed (:func:`venvlock.core._installed.repair`,
only inside the environment's scheme, under its one containment rule), the
journal is cleared, the removed distributions are put back at their versions by the sync's
installer (:func:`reinstall_args`), and only then is the environment judged.
One line on stderr says so.

A journal whose holder is alive and is not this process belongs to an outer
holder this sync runs under (``venvlock run -- pip-locked ...``): it is left
alone, and the inner sync writes none of its own.

Plain ``os``: :func:`pending` is one ``lstat`` on the fast path.

**Test-only fault injection** (:func:`inject_fault`): ``VENVLOCK_TEST_FAULT=<phase>:<fault>``
sends *fault* (``SIGKILL``, ``SIGINT``, ``SIGTERM``) to this process's group
(``<signal>-self``: to this process alone) when a sync reaches *phase*
(:data:`PHASES`); at a point that writes (the journal, the record, a marker,
an environment's creation) *fault* may also be an error (:data:`ERRORS`:
``ENOSPC``, ``EACCES``), raised there as the write would raise it.  Each
fault injected appends ``<phase> <fault> <pid>`` to the file
``VENVLOCK_TEST_FAULT_LOG`` names (if set), so a test knows it landed.  The
points are called by the core here and in the sync, and by adapters through
:func:`venvlock.adapter.fault_point`.  The suite's fault matrix
(``tests/test_fault_matrix.py``, ``nox -s chaos``) uses it; unset, it costs
one ``os.environ.get`` on the locked (slow) path, never on the no-op path.
"""

from __future__ import annotations

import os
import sys
import time

from venvlock import _fast as fast
from venvlock.core._files import read_file, remove_file, write_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from venvlock.core._environment import Environment

#: the journal's file name, in the environment's record folder (``<env>/.venvlock``)
JOURNAL_NAME = fast.JOURNAL_NAME


#: test-only: where a fault is injected (see the module docstring)
FAULT_VARIABLE = "VENVLOCK_TEST_FAULT"
#: test-only: the file each injected fault is logged to
FAULT_LOG_VARIABLE = "VENVLOCK_TEST_FAULT_LOG"
#: the named points, in the order a run reaches them: an adapter created the environment's folder (its
#: half-built marker still set); a marker about to be written; the lock taken; the journal written (the installer
#: about to run; its write, for errors); the installer ended with success (nothing recorded yet); the record about
#: to be written; the result recorded (the journal not cleared yet); a repair of an interrupted sync under way
#: (removals done, the journal not cleared yet); ``venvlock repair`` under way (removals done, nothing reinstalled)
PHASES = ("create", "marker", "locked", "journal", "installed", "record", "recorded", "heal", "repair")
#: the errors a point that writes can be made to fail with
ERRORS = ("ENOSPC", "EACCES")


def inject_fault(phase: str, *, signals: bool = True, errors: bool = False) -> None:
    """Test-only: inject the fault ``VENVLOCK_TEST_FAULT`` names when *phase* is its phase; else nothing.

    *signals*: a signal fault is sent here; *errors*: an error fault is raised here (an ``OSError``; a point that
    writes).
    """
    wanted = os.environ.get(FAULT_VARIABLE)
    if not wanted:
        return
    at, _, how = wanted.partition(":")
    name, _, target = how.partition("-")
    if at != phase:
        return
    if name in ERRORS:
        if errors:
            import errno

            code = getattr(errno, name)
            _log_fault(phase, how)
            raise OSError(code, f"{os.strerror(code)} (injected by {FAULT_VARIABLE})")
        return
    if not signals or not name.startswith("SIG"):
        return
    import signal

    signum = getattr(signal, name, None)
    if not isinstance(signum, int):
        return
    _log_fault(phase, how)
    if target == "self" or not hasattr(os, "killpg"):
        os.kill(os.getpid(), signum)
    else:
        os.killpg(os.getpgrp(), signum)


def _log_fault(phase: str, how: str) -> None:
    log = os.environ.get(FAULT_LOG_VARIABLE)
    if log:
        with open(log, "a", encoding="utf-8") as file:
            file.write(f"{phase} {how} {os.getpid()}\n")


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


class Entry:
    """A journal as read: :ivar pid:, :ivar start: (see :func:`process_start`), :ivar began_ns:,
    :ivar command: (redacted), :ivar names: (the requirement names the request named; empty: unknown)."""

    __slots__ = ("began_ns", "command", "names", "pid", "start")

    def __init__(self, pid: int, start: str, began_ns: int, command: str, names: list[str]) -> None:
        self.pid = pid
        self.start = start
        self.began_ns = began_ns
        self.command = command
        self.names = names

    def __repr__(self) -> str:
        return f"Entry(pid={self.pid}, command={self.command!r})"

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
    """The journal of *environment*, or None (none, or unreadable: a damaged one reads as left by nobody alive)."""
    text = read_file(journal_path(environment))
    if text is None:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        fields[key] = value
    try:
        pid = int(fields.get("pid", "0"))
        began = int(fields.get("began", "0"))
    except ValueError:
        pid, began = 0, 0
    names = fields.get("names", "").split()
    return Entry(pid, fields.get("start", ""), began, fields.get("command", "?"), names)


def begin(environment: Environment, command: str, names: list[str] | None = None) -> bool:
    """Write the journal of a sync about to run *command* (redacted here); whether this process owns it now.

    False (nothing written) when a live outer holder's journal is there, or it cannot be written.
    """
    from venvlock.core._holder import redact

    existing = read(environment)
    if existing is not None and not existing.left_behind():
        return False
    one_line = redact(command).replace("\n", " ").replace("\r", " ")
    text = (
        f"pid {os.getpid()}\nstart {process_start(os.getpid())}\nbegan {time.time_ns()}\n"
        f"command {one_line}\nnames {' '.join(names or [])}\n"
    )
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
    """What an install interrupted after *since_ns* may have left in *site_dirs* (see the module docstring)."""
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
        if changed < since_ns:  # not written since the journal began: not that sync's
            continue
        if not os.path.isfile(os.path.join(dist.folder, "INSTALLER")) or any(
            not os.path.lexists(path) for path in dist.record_files()
        ):
            damaged.append(dist.folder)
    return damaged


def heal(environment: Environment, site_dirs: list[str] | None = None) -> list[tuple[str, str]]:
    """Under the environment lock: if a journal was left behind, remove what its sync left; clear it.

    Returns ``(name, version)`` of each distribution removed (to put back at
    that version: :func:`reinstall_args`).  A journal of a live outer holder
    is left alone.
    """
    entry = read(environment)
    if entry is None:
        if pending(environment):  # there, but not a file venvlock reads (a link, a folder): not ours to trust
            end(environment)
        return []
    if not entry.left_behind():
        return []
    from venvlock.core._installed import Distribution, repair

    folders = site_dirs if site_dirs is not None else environment.site_folders()
    damaged = suspects(folders, entry.began_ns)
    removed = []
    for folder in damaged:
        if folder.endswith(".dist-info"):
            dist = Distribution(os.path.dirname(folder), os.path.basename(folder))
            if dist.name and dist.version:
                removed.append((dist.name, dist.version))
    if damaged:
        count = len(damaged)
        what = f"{count} distribution" + ("s" if count != 1 else "")
        print(
            f"venvlock: the last sync of {environment.name} was interrupted (pid {entry.pid}, `{entry.command}`); "
            f"repairing {what}",
            file=sys.stderr,
            flush=True,
        )
        repair(damaged, folders)
    inject_fault("heal")
    end(environment)
    return removed


def reinstall_args(removed: list[tuple[str, str]], args: list[str]) -> list[str]:
    """pip ``install`` arguments that put back *removed* at their versions, from where a request's *args* install.

    The request's options that say where and how to find distributions (index, find-links, binaries, ``--pre``)
    are kept; its requirements, files and options that change what is installed are not.
    """
    from venvlock._pip.options import HARMLESS, read_options

    kept: list[str] = []
    for option, value in read_options(args):
        if isinstance(option, str) or option.kind != HARMLESS or option.name in ("--help", "--version"):
            continue
        kept.append(option.name)
        if option.takes_value and value is not None:
            kept.append(value)
    return [*kept, "--no-deps", *(f"{name}=={version}" for name, version in removed)]
