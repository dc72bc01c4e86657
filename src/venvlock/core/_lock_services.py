"""The core's two locks as its services hold them: at the lock files the hooks name, waits told through the hooks.

The core's hook implementations (:mod:`._services`: ``venvlock_creation_lock``,
``venvlock_environment_lock``, ``venvlock_waiting``) are these functions; the
shared side of the creation lock is the core's alone.  Each takes the *relay*
to ask, or None where no plugin may answer (:func:`venvlock.core.plugins_may_answer`):
then the core's own answers are taken directly, so a process that only takes
locks (a nox or tox no-op) loads neither pluggy nor the plugin manager.
"""

from __future__ import annotations

import sys

from venvlock.core import _lock
from venvlock.core._environment import EnvironmentKind, display_path
from venvlock.core._holder import describe_busy
from venvlock.core._lock import EXCLUSIVE, SHARED

__all__ = ["EXCLUSIVE", "SHARED", "creation_lock", "creation_lock_path", "environment_lock", "lock_path", "waiting"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from pluggy import HookRelay

    from venvlock.core._environment import Environment
    from venvlock.core._holder import Holder
    from venvlock.core._lock import LockHold

#: the holder each lock path's waiting line named last in this process, to say when it changes
_named: dict[str, Holder | None] = {}


def creation_lock_path(environment: Environment, relay: HookRelay | None) -> str:
    """``venvlock_creation_lock_path``'s answer: *environment*'s creation lock file (it need not exist)."""
    if relay is None:
        return environment.default_creation_lock_path()  # the core's answer
    path: str = relay.venvlock_creation_lock_path(environment=environment)
    return path


def lock_path(environment: Environment, relay: HookRelay | None) -> str:
    """``venvlock_lock_path``'s answer: *environment*'s lock file, uv's ``<env>/.lock`` (it need not exist)."""
    if relay is None:
        return environment.default_lock_path()  # the core's answer
    path: str = relay.venvlock_lock_path(environment=environment)
    return path


def creation_lock(
    environment: Environment,
    purpose: str,
    *,
    quiet: bool,
    default_timeout: float | None,
    relay: HookRelay | None,
    mode: str = EXCLUSIVE,
) -> AbstractContextManager[LockHold]:
    """*environment*'s creation lock held in *mode*; waits reported, an exclusive hold's start announced."""
    path = creation_lock_path(environment, relay)
    on_waiting, on_acquired = _notifications(environment, path, quiet, relay)
    return _lock.hold(
        environment,
        path,
        purpose=purpose,
        on_waiting=on_waiting,
        on_acquired=on_acquired if mode == EXCLUSIVE else None,
        mode=mode,
        default_timeout=default_timeout,
    )


def environment_lock(
    environment: Environment, purpose: str, *, quiet: bool, relay: HookRelay | None, path: str | None = None
) -> AbstractContextManager[LockHold]:
    """*environment*'s environment lock: venvlock's sync lock, then *path* (:func:`lock_path` when None)."""
    path = lock_path(environment, relay) if path is None else path
    on_waiting, on_acquired = _notifications(environment, path, quiet, relay)
    # A venv's folder is made only by its creator; --target/--prefix folders may be made here, as pip would.
    return _lock.hold_environment(
        environment,
        path,
        purpose=purpose,
        on_waiting=on_waiting,
        on_acquired=on_acquired,
        create_folder=environment.kind != EnvironmentKind.VENV,
    )


def waiting(environment: Environment, lock_path: str, holder: Holder | None, waited: float, quiet: bool) -> None:
    """The core's ``venvlock_waiting``: the waiting line on stderr, and later ones naming a new holder."""
    before = _named.get(lock_path)
    _named[lock_path] = holder
    if quiet:
        return
    who = describe_busy(lock_path, holder)  # no holder: readers (a tox run's commands) name themselves apart
    where = display_path(lock_path)
    if waited == 0.0:
        line = f"Waiting for lock on environment {environment.name} (held by {who}; lock file {where})"
    elif holder is not None and before is not None and holder != before:
        line = (
            f"Still waiting for lock on environment {environment.name} after {waited:.0f}s "
            f"(now held by {who}; before by pid {before.pid})"
        )
    else:
        line = f"Still waiting for lock on environment {environment.name} after {waited:.0f}s (held by {who})"
    print(line, file=sys.stderr, flush=True)


def _notifications(
    environment: Environment, lock_path: str, quiet: bool, relay: HookRelay | None
) -> tuple[Callable[[Holder | None, float], None], Callable[[float], None] | None]:
    """``venvlock_waiting`` and ``venvlock_acquired`` about *lock_path*, as the lock's callbacks (without a relay:
    the core's waiting line, and no ``acquired``, which only plugins implement)."""
    if relay is None:

        def on_waiting(holder: Holder | None, waited: float) -> None:
            waiting(environment, lock_path, holder, waited, quiet)

        return on_waiting, None
    hooks = relay

    def on_waiting_hooked(holder: Holder | None, waited: float) -> None:
        hooks.venvlock_waiting(environment=environment, lock_path=lock_path, holder=holder, waited=waited, quiet=quiet)

    def on_acquired(waited: float) -> None:
        hooks.venvlock_acquired(environment=environment, lock_path=lock_path, waited=waited)

    return on_waiting_hooked, on_acquired
