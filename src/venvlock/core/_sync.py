"""The double-checked sync: check, lock, check again, repair, install, record.

1. *Record*: a request found in sync before, with nothing changed since,
   returns at once (a few stats, no parsing of requirements).
2. *First check*, without the lock: a clear "satisfied" returns and records.
   Skipped while another venvlock process says it holds the lock (it is
   installing: a look now would be wasted, or see a half-done install).
3. *Lock* the environment (``venvlock_environment_lock``).
4. *Second check*: another process may have just synced it (its record,
   when it wrote one, answers without checking again).
5. *Repair* damage that interrupted installs left (only what the check found).
6. *Install* (``venvlock_install``; an installer that takes ``<env>/.lock``
   itself, uv, gets it lent while venvlock's sync lock stays held), then check once more and *record* the
   result if it is in sync.  A failed install records nothing.
7. The lock is released before :func:`sync` returns.
"""

from __future__ import annotations

import time

from venvlock.core._holder import default_purpose, read_holder
from venvlock.core._lock import SYNC_SUFFIX
from venvlock.core._record import fingerprint, forget, recorded_count, request_key, write_record
from venvlock.core._request import parse_request
from venvlock.core._results import SyncResult, Verdict
from venvlock.core._settings import validate
from venvlock.core._uv_settings import uv_cannot_judge

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pluggy import HookRelay

    from venvlock.core._environment import Environment
    from venvlock.core._request import SyncRequest


def _from_record(
    environment: Environment, request: SyncRequest
) -> tuple[SyncResult | None, str | None, list[str] | None]:
    """``(result, key, site_dirs)``: the result when a valid record answers *request*, and what the sync needs."""
    start = time.monotonic()
    validate()  # a bad setting is an error on every path, before anything is judged
    if request.command != "install" or not request.judge:
        return None, None, None
    site_dirs = environment.site_dirs()
    if site_dirs is None:
        return None, None, None
    parsed = parse_request(request.args, request.cwd, environment)
    if parsed.cannot_judge or uv_cannot_judge(request):
        return None, None, site_dirs
    key = request_key(environment, request, parsed)
    count = recorded_count(environment, key, site_dirs)
    if count is None:
        return None, key, site_dirs
    return (
        SyncResult(0, installed=False, checked=count, seconds=time.monotonic() - start, recorded=True),
        key,
        site_dirs,
    )


def recorded_sync(environment: Environment, request: SyncRequest) -> SyncResult | None:
    """The result of *request* when a record of an earlier sync still answers it, else None.

    Loads no plugin: a record is written only by a sync that went through the
    hooks, and its key covers the plugin set, the request and the interpreter.
    """
    return _from_record(environment, request)[0]


def sync(environment: Environment, request: SyncRequest, hook: HookRelay) -> SyncResult:
    """Run the double-checked sync of *request* into *environment* (see the module docstring)."""
    start = time.monotonic()
    judge = request.command == "install" and request.judge

    def done(result: SyncResult) -> SyncResult:
        hook.venvlock_synced(environment=environment, request=request, result=result)
        return result

    result, key, site_dirs = _from_record(environment, request)
    if result is not None:
        return done(result)

    def look() -> tuple[Verdict, bool]:
        """Check; record when in sync and nothing changed meanwhile."""
        if not judge:
            return Verdict.cannot_judge("the adapter asked for no check"), False
        before = fingerprint(site_dirs)[0] if site_dirs is not None else ""
        verdict: Verdict = hook.venvlock_check(environment=environment, request=request) or Verdict.cannot_judge(
            "no venvlock_check implementation"
        )
        saved = (
            verdict.satisfied
            and key is not None
            and site_dirs is not None
            and write_record(environment, key, site_dirs, before, verdict.checked)
        )
        return verdict, saved

    # while another venvlock process is syncing, a look now would see a half-done install: wait instead
    lock_path = hook.venvlock_lock_path(environment=environment)
    busy = read_holder(lock_path + SYNC_SUFFIX) or read_holder(lock_path)
    if busy is None or not busy.alive:
        verdict, saved = look()
    else:
        verdict, saved = Verdict.cannot_judge("another sync is running"), False
    if verdict.satisfied:
        elapsed = time.monotonic() - start
        return done(SyncResult(0, installed=False, checked=verdict.checked, seconds=elapsed, recorded=saved))

    purpose = request.purpose or default_purpose()
    with hook.venvlock_environment_lock(environment=environment, purpose=purpose, quiet=request.quiet) as hold:
        count = recorded_count(environment, key, site_dirs) if key is not None and site_dirs is not None else None
        if count is not None:  # the process we waited for synced it and recorded that: no need to check
            elapsed = time.monotonic() - start
            return done(
                SyncResult(0, installed=False, checked=count, seconds=elapsed, waited=hold.waited, recorded=True)
            )
        verdict, saved = look()
        if verdict.satisfied:
            elapsed = time.monotonic() - start
            return done(
                SyncResult(
                    0, installed=False, checked=verdict.checked, seconds=elapsed, waited=hold.waited, recorded=saved
                )
            )
        if key is not None:
            forget(environment, key)
        if verdict.damaged:
            from venvlock.core._installed import repair

            repair(list(dict.fromkeys(verdict.damaged)), site_dirs or [])
        if request.installer_takes_lock:  # uv: it takes <env>/.lock itself; the sync lock stays held
            with hold.lend():
                returncode = hook.venvlock_install(environment=environment, request=request, hold=hold)
        else:
            returncode = hook.venvlock_install(environment=environment, request=request, hold=hold)
        if returncode is None:
            raise RuntimeError("no venvlock_install implementation answered")
        if returncode != 0:
            hook.venvlock_failed(environment=environment, request=request, returncode=returncode)
            return SyncResult(returncode, installed=True, seconds=time.monotonic() - start, waited=hold.waited)
        after, saved = look()
    elapsed = time.monotonic() - start
    return done(
        SyncResult(0, installed=True, checked=after.checked, seconds=elapsed, waited=hold.waited, recorded=saved)
    )
