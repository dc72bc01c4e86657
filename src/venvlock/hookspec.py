"""The venvlock hook specifications: the contract between core, adapters and plugins.

Every hook is called through the plugin manager of project ``venvlock``
(:func:`venvlock.core.hooks`).  Third-party plugins are modules or objects
registered under the entry-point group ``venvlock``; they implement any of
these hooks with :data:`hookimpl`.

The route of a sync, in one sitting::

    adapter (pip-locked, hatch, nox, tox, the venvlock command)
      -> venvlock.adapter.Adapter.sync(...)                    # the typed adapter layer
      -> hooks().venvlock_sync(environment, request)           # implemented by the core
           -> venvlock_check(...)        lock-free first look
           -> venvlock_environment_lock(...) -> venvlock_lock_path(...)
                                          waiting/acquired notifications
           -> venvlock_check(...)        second look, under the lock
           -> venvlock_install(...)      pip (default), uv (plugin), or the tool's own
           -> venvlock_synced / venvlock_failed
      <- SyncResult

Two groups of hooks:

* **Services** (``venvlock_sync``, ``venvlock_environment_lock``,
  ``venvlock_creation_lock``): the core implements them and the adapters call
  them, through :class:`venvlock.adapter.Adapter`.  A plugin may wrap them (``hookwrapper=True``/``wrapper=True``) to
  observe or veto, but should not replace them.
* **Extension points** (the rest): the core calls them; the core ships a
  default implementation registered with ``trylast=True``, so a plugin's
  answer wins where it gives one.

All hooks take keyword arguments only (pluggy's rule).  Values passed:

* ``environment``: a :class:`venvlock.core.Environment`.
* ``request``: a :class:`venvlock.core.SyncRequest`.
"""

from __future__ import annotations

from venvlock._markers import hookimpl, hookspec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    # the defining modules, not the package: venvlock.core builds the plugin manager from this module
    from venvlock.core._environment import Environment
    from venvlock.core._holder import Holder
    from venvlock.core._lock import LockHold
    from venvlock.core._request import SyncRequest
    from venvlock.core._results import SyncResult, Verdict

__all__ = [  # the markers live in venvlock._markers; plugins import them from here, as in 0.x
    "hookimpl",
    "hookspec",
    "venvlock_acquired",
    "venvlock_check",
    "venvlock_creation_lock",
    "venvlock_creation_lock_path",
    "venvlock_environment_lock",
    "venvlock_failed",
    "venvlock_install",
    "venvlock_lock_path",
    "venvlock_sync",
    "venvlock_synced",
    "venvlock_waiting",
]


# --------------------------------------------------------------------------------------------------
# Services: implemented by the core, called by adapters.
# --------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def venvlock_sync(environment: Environment, request: SyncRequest) -> SyncResult | None:
    """Bring *environment* in line with *request*, safely against other processes.

    Called by an adapter each time its tool is about to install into an
    environment (``pip-locked install``, hatch's dependency sync, nox's
    ``session.install``).

    The core's implementation runs the double-checked sync: a lock-free
    :func:`venvlock_check`; if that is not a clear "satisfied", it takes the
    environment lock, checks again, repairs damage left by killed installs,
    calls :func:`venvlock_install`, checks the result and records it; the lock
    is released before this hook returns.

    :returns: a :class:`venvlock.core.SyncResult`; ``returncode`` is the
        installer's exit code (0 when nothing had to be installed).
    :raises venvlock.core.LockTimeoutError: the lock could not be had in time.
    """


@hookspec(firstresult=True)
def venvlock_environment_lock(
    environment: Environment, purpose: str, quiet: bool
) -> AbstractContextManager[LockHold] | None:
    """Return a context manager that holds the environment lock while entered.

    Called by adapters that install into an environment with their tool's own
    machinery outside :func:`venvlock_sync`, and by the core inside it.  The
    lock is an exclusive OS file lock on :func:`venvlock_lock_path` (uv's
    ``<env>/.lock``), so uv, pip-locked, hatch and nox exclude each other.

    *purpose* describes the holder for other processes' waiting line (by
    default the command line); *quiet* silences the waiting line.

    The core's lock is venvlock's sync lock ``<lock>.sync`` (venvlock processes
    only), then ``<lock>``; ``hold.lend()`` lets go of ``<lock>`` while an
    installer that takes it itself (uv) runs, keeping the sync lock.

    Entering waits as the core defines (``VENVLOCK_TIMEOUT``); another thread
    of this process waits too; a child process of a holder goes through
    without waiting.  A lock that cannot be had in a writable environment
    raises :class:`venvlock.core.LockUnavailableError`.  Leaving releases.
    Hold it around the sync only, never around the user's command.
    """


@hookspec(firstresult=True)
def venvlock_creation_lock(
    environment: Environment, purpose: str, quiet: bool, default_timeout: float | None
) -> AbstractContextManager[LockHold] | None:
    """Return a context manager that holds the creation lock of *environment*.

    Called by adapters whose tool creates or deletes the environment folder
    itself (hatch, nox, tox).  The lock file lies beside the folder
    (:func:`venvlock_creation_lock_path`), since a lock inside a folder cannot
    guard deleting it.  Always take it before the environment lock, never
    after.  Its shared side (readers, such as a tox run's commands) is
    :func:`venvlock.core.shared_lock`, not a hook.

    *default_timeout* is the wait when ``VENVLOCK_TIMEOUT`` is not set: None
    for the usual 300 s; a negative number to wait forever, as an adapter
    does that holds this lock through a whole session (nox, like tox).
    """


# --------------------------------------------------------------------------------------------------
# Extension points: called by the core, default implementations in the core.
# --------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def venvlock_lock_path(environment: Environment) -> str | None:
    """Return the path of the environment lock file for *environment*.

    Called once per sync (the sync's lock uses the same answer) and once per
    lock taken outside a sync.  The default: ``<env>/.lock`` for a virtual
    environment, ``<folder>/.lock`` for ``--target``/``--prefix`` folders, and
    for an interpreter outside any venv a file in the per-user cache folder
    named by a digest of its prefix.
    """


@hookspec(firstresult=True)
def venvlock_creation_lock_path(environment: Environment) -> str | None:
    """Return the path of the creation lock file, beside the environment folder.

    Called once per creation lock.  The default: ``<parent>/.<name>.create.lock``, of the link's target
    when the folder is a symbolic link.
    """


@hookspec(firstresult=True)
def venvlock_check(environment: Environment, request: SyncRequest) -> Verdict | None:
    """Tell whether *request* is already satisfied in *environment*.

    Called twice per sync: once without the lock, once under it, and again
    after an install; every time with the same ``request``, whose
    ``request.parsed`` is the core's one reading of it (the default judges
    that reading; it is read again under the lock only when a file changed).
    Keep it in-process: the default starts no process, except once per
    foreign interpreter to learn its marker values (cached).  Return a
    :class:`venvlock.core.Verdict`:
    ``Verdict.already_satisfied(checked=n)``, ``Verdict.install_needed(reason)``,
    or ``Verdict.cannot_judge(reason)`` (this request cannot be judged exactly;
    the installer runs and decides).  Returning ``None`` from the hook itself
    passes the question to the next implementation.
    """


@hookspec(firstresult=True)
def venvlock_install(environment: Environment, request: SyncRequest, hold: LockHold) -> int | None:
    """Run the installer for *request* under the environment lock; return its exit code.

    Called with the lock held.  While it is held, ``os.environ`` carries
    ``VENVLOCK_HELD`` (nested venvlock calls go through without waiting).
    Pass ``hold.fds`` to the child process (``pass_fds``), or use
    :func:`venvlock.core.run_installer`: the child then keeps the lock if this
    process is killed, so no second install can start beside it.  An
    installer that takes ``<env>/.lock`` itself (uv) must run inside
    ``with hold.lend():`` (the core does that when the request says
    ``installer_takes_lock``), or it would wait for the lock held for it.

    The default runs ``request.installer`` when the adapter gave one (the
    tool's own install), else ``<env python> -m pip <command> <args>``.  The
    ``uv`` plugin answers when the user selected it with
    ``VENVLOCK_INSTALLER=uv``.  Return None to pass to the next implementation.
    """


@hookspec
def venvlock_waiting(
    environment: Environment, lock_path: str, holder: Holder | None, waited: float, quiet: bool
) -> None:
    """Notify that the lock is busy; called at once, then again now and then while waiting.

    *holder* is who holds it, where that can be known; *waited* is the
    seconds waited so far (0.0 on the first call).  The default
    implementation prints the waiting line to stderr unless *quiet*.
    """


@hookspec
def venvlock_acquired(environment: Environment, lock_path: str, waited: float) -> None:
    """Notify that the lock at *lock_path* is now held by this process, after *waited* seconds."""


@hookspec
def venvlock_synced(environment: Environment, request: SyncRequest, result: SyncResult) -> None:
    """Notify that a sync finished with exit code 0 (*result* says whether anything was installed).

    Not called for a no-op that :func:`venvlock.core.recorded_sync` answered
    before any plugin was loaded (``pip-locked``'s fast path).
    """


@hookspec
def venvlock_failed(environment: Environment, request: SyncRequest, returncode: int) -> None:
    """Notify that the installer failed with *returncode*; nothing was recorded as synced."""
