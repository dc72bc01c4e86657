"""The double-checked sync: check, lock, check again, repair, install, record.

1. *Record*: a request found in sync before, nothing changed since, returns at once (a few stats).
2. *First check*, without the lock: a clear "satisfied" returns and records.  Skipped while another venvlock
   process holds the lock (it is installing: a look would be wasted, or see a half-done install).
3. *Lock* the environment (``venvlock_environment_lock``).
4. *Second check*: another process may have just synced it (its record, if any, answers without a check).
5. *Repair* what interrupted installs left: a dead holder's journal (:func:`venvlock.core._journal.heal`),
   then the damage the check found.
6. *Install* (``venvlock_install``; uv, which takes ``<env>/.lock`` itself, is lent it) under a sync journal,
   cleared once the installer succeeded and the result is recorded; check once more and *record* if in sync.
   A failed install records nothing.  The lock is released before :func:`sync` returns.

One reading per sync (:meth:`SyncRequest.read`, shared with :func:`recorded_sync`): every check and the record
key judge it; under the lock it is read again only when a few stats say an input changed, as pip reads its
files once when it starts (docs/design.md, "One reading per sync").
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import NamedTuple

from venvlock._fast import fingerprint
from venvlock._faults import inject_fault
from venvlock._pip.requirements import ParsedRequest
from venvlock.core._holder import default_purpose, describe_command, read_holder
from venvlock.core._journal import begin, end, heal, pending, put_back
from venvlock.core._record import forget, recorded_count, request_key, write_record
from venvlock.core._request import SyncRequest
from venvlock.core._results import SyncResult, Verdict
from venvlock.core._settings import validate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pluggy import HookRelay

    from venvlock.core._environment import Environment
    from venvlock.core._holder import Holder
    from venvlock.core._lock import LockHold


class Reading(NamedTuple):
    """What every step of the sync judges, from one parse: None for what is not judged (*parsed*: not
    ``install``, no judging asked, or *site_dirs* beyond the check; *key*: nothing is recorded)."""

    parsed: ParsedRequest | None
    site_dirs: list[str] | None
    key: str | None


def read_request(environment: Environment, request: SyncRequest, *, again: bool = False) -> Reading:
    """The reading of *request* for *environment* (:meth:`SyncRequest.read`: once per request; *again*: anew)."""
    validate()  # a bad setting is an error on every path, before anything is judged
    site_dirs = environment.site_folders_to_judge() if request.command == "install" and request.judge else None
    if site_dirs is None:
        return Reading(None, None, None)
    parsed = request.read(environment, again=again)
    if parsed.cannot_judge or request.uv_cannot_judge():
        return Reading(parsed, site_dirs, None)
    return Reading(parsed, site_dirs, request_key(environment, request, parsed))


def reread_if_changed(environment: Environment, request: SyncRequest, reading: Reading) -> Reading:
    """*reading*, or a new one when an input changed since (a few stats): an installer started under the lock
    reads the files now, so the check under the lock judges what it would read."""
    if reading.parsed is None or reading.parsed.current():
        return reading
    return read_request(environment, request, again=True)


def recorded_sync(environment: Environment, request: SyncRequest) -> SyncResult | None:
    """The result of *request* when a record of an earlier sync still answers it, else None.

    No plugin, no process (adapters call it before ``hooks().venvlock_sync``): a record is written only by a
    sync that went through the hooks, and its key covers the plugin set.
    """
    start = time.monotonic()
    count = _recorded(read_request(environment, request), environment)
    if count is None:
        return None
    return SyncResult(0, installed=False, checked=count, seconds=time.monotonic() - start, recorded=True)


def recorded_after_running_sync(
    environment: Environment, request: SyncRequest, relay: HookRelay, purpose: str
) -> tuple[SyncResult | None, float]:
    """When another process's sync holds *environment*'s lock: wait for it to end, then ask its record.

    The wait holds venvlock's sync lock *shared* (timeout and waiting lines as every wait), so all the processes
    queued behind one install (8 concurrent cold installs: the seven after the first) wake together and read
    the record it wrote, instead of taking the lock one after another to find the same (a record holds without
    the lock, as before the wait: only while the package folders are unchanged and no journal is there).
    Returns the record's answer (None: nothing waited for, or no record answers) and the seconds waited.
    """
    import os

    from venvlock.core._lock import SHARED, hold

    lock_path: str = relay.venvlock_lock_path(environment=environment)
    sync_path = environment.sync_lock_path(lock_path)
    holder = read_holder(sync_path)
    if holder is None or not holder.alive or holder.pid == os.getpid():
        return None, 0.0

    def waiting(holder: Holder | None, waited: float) -> None:
        relay.venvlock_waiting(
            environment=environment, lock_path=lock_path, holder=holder, waited=waited, quiet=request.quiet
        )

    with hold(
        environment,
        sync_path,
        purpose=request.purpose or purpose,
        on_waiting=waiting,
        mode=SHARED,
        create_folder=False,
        shown_path=lock_path,
    ) as held:
        if not held.locked or held.nested:
            return None, held.waited
        if request.parsed is not None and not request.parsed.current():
            request.parsed = None  # a file it read changed while this process waited: read again
        return recorded_sync(environment, request), held.waited


def _recorded(reading: Reading, environment: Environment) -> int | None:
    """The count of the record that still answers *reading*, else None."""
    if reading.key is None or reading.site_dirs is None or pending(environment):  # a journal: a sync runs, or died
        return None
    return recorded_count(environment, reading.key, reading.site_dirs)


def sync(environment: Environment, request: SyncRequest, hook: HookRelay, lock_path: str) -> SyncResult:
    """Run the double-checked sync of *request* into *environment* (see the module docstring); *lock_path*: the
    environment lock's file, asked of ``venvlock_lock_path`` once by the caller."""
    start = time.monotonic()
    judge = request.command == "install" and request.judge

    def done(checked: int, *, installed: bool = False, waited: float = 0.0, recorded: bool = False) -> SyncResult:
        seconds = time.monotonic() - start
        result = SyncResult(0, installed=installed, checked=checked, seconds=seconds, waited=waited, recorded=recorded)
        hook.venvlock_synced(environment=environment, request=request, result=result)
        return result

    reading = read_request(environment, request)
    count = _recorded(reading, environment)
    if count is not None:
        return done(count, recorded=True)

    def look() -> tuple[Verdict, bool]:
        """Check the reading; record when in sync and nothing changed meanwhile."""
        if not judge:
            return Verdict.cannot_judge("the adapter asked for no check"), False
        site_dirs, key = reading.site_dirs, reading.key
        before = fingerprint(site_dirs)[0] if site_dirs is not None else ""
        request.parsed = reading.parsed  # the default venvlock_check judges this reading, not a new one
        verdict: Verdict = hook.venvlock_check(environment=environment, request=request)  # the core's answers
        saved = (
            verdict.satisfied
            and key is not None
            and site_dirs is not None
            and write_record(environment, key, site_dirs, before, verdict.checked)
        )
        return verdict, saved

    # while another venvlock process is syncing, a look now would see a half-done install: wait instead
    busy = read_holder(environment.sync_lock_path(lock_path)) or read_holder(lock_path)
    if (busy is None or not busy.alive) and not pending(environment):
        verdict, saved = look()
    else:
        verdict, saved = Verdict.cannot_judge("another sync is running"), False
    if verdict.satisfied:
        return done(verdict.checked, recorded=saved)

    purpose = request.purpose or default_purpose()
    with hook.venvlock_environment_lock(environment=environment, purpose=purpose, quiet=request.quiet) as hold:
        inject_fault("locked")
        reading = reread_if_changed(environment, request, reading)
        healed = heal(environment, reading.site_dirs)  # a sync that was interrupted: repair what it left, then judge
        if healed:
            _put_back(healed, environment, request, hook, hold)
        count = _recorded(reading, environment)
        if count is not None:  # the process we waited for synced it and recorded that: no need to check
            return done(count, waited=hold.waited, recorded=True)
        verdict, saved = look()
        if verdict.satisfied:
            return done(verdict.checked, waited=hold.waited, recorded=saved)
        if reading.key is not None:
            forget(environment, reading.key)
        # damage the check found (a dist-info without RECORD, two of one project, pip's ~ leftovers) is the
        # installer's to meet, as without venvlock: a sync removes only what its own journal proves an
        # interrupted sync left (heal, above); `venvlock repair` is the one that puts damage right
        journal = begin(environment, describe_command(["pip", request.command, *request.args]))
        inject_fault("journal")
        returncode = _install(environment, request, hook, hold)
        if returncode != 0:
            hook.venvlock_failed(environment=environment, request=request, returncode=returncode)
            return SyncResult(returncode, installed=True, seconds=time.monotonic() - start, waited=hold.waited)
        inject_fault("installed")
        after, saved = look()  # the reading the installer was started with, under this lock
        inject_fault("recorded")
        if journal:  # the installer ended by itself, with success, and its result is recorded
            end(environment)
    return done(after.checked, installed=True, waited=hold.waited, recorded=saved)


def _install(environment: Environment, request: SyncRequest, hook: HookRelay, hold: LockHold) -> int:
    """``venvlock_install`` under *hold*; an installer that takes ``<env>/.lock`` itself (uv) is lent it meanwhile."""
    with hold.lend() if request.installer_takes_lock else nullcontext():
        returncode: int = hook.venvlock_install(environment=environment, request=request, hold=hold)  # core answers
    return returncode


def _put_back(
    removed: list[tuple[str, str]], environment: Environment, request: SyncRequest, hook: HookRelay, hold: LockHold
) -> None:
    """Reinstall what the heal removed, at its version, with the sync's installer (pip or uv; a tool's own: not)."""
    from venvlock.core._settings import installer

    def install(args: list[str]) -> int:
        again = SyncRequest(
            args,
            cwd=request.cwd,
            quiet=True,
            purpose=request.purpose,
            judge=False,
            installer_takes_lock=request.installer_takes_lock,
            pip=request.pip,
        )
        return _install(environment, again, hook, hold)

    args = request.args if request.command == "install" else []
    put_back(environment, removed, args, install if request.installer is None else None, uv=installer() == "uv")
