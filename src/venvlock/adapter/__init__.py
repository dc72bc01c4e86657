"""The adapter layer: what a tool adapter needs of venvlock, typed, with the odd cases handled once.

Every adapter (``pip-locked``, hatch, nox, tox, the ``venvlock`` command)
goes through an :class:`Adapter` and nothing else of venvlock's internals::

    adapter = Adapter("tox")                           # holders name themselves "tox <this run's arguments>"
    environment = adapter.environment(".tox/py")
    with adapter.creation_lock(environment):          # create, recreate or delete the folder
        install = ToolInstall(lambda: tool_install(), failures=(ToolError,))
        result = adapter.sync(environment, ["-r", "requirements.txt"], install=install)
        install.reraise()                              # the tool's own error, after the lock is released

The route of a sync: adapter -> :meth:`Adapter.sync` -> ``venvlock_sync``
(:mod:`venvlock.hookspec`) -> the core (check, lock, check, install, record)
-> the installer (``venvlock_install``: pip, uv, or the tool's own through
:class:`ToolInstall`) -> back as a :class:`~venvlock.core.SyncResult`.

What the layer handles once, so that adapters do not:

* the holder's label (:func:`command_label`): the tool's name and this
  run's arguments, shell-quoted, with credentials redacted
  (:func:`describe_command` for any other command line);
* errors: everything venvlock raises on purpose is a
  :class:`~venvlock.errors.VenvlockError`; :func:`exit_code` maps it to the
  exit status commands use (2 settings, 75 lock busy or unavailable);
* the tool's installer: :class:`ToolInstall` runs it as the sync's installer,
  turns the tool's failure into an exit code the core understands
  (:func:`installer_exit_code`: ``SystemExit``, ``CalledProcessError``, an
  exception carrying ``returncode``/``return_code``), and keeps the tool's
  exception to raise again once the lock is released;
* readers (:meth:`Adapter.using_lock`): the creation lock held *shared*
  while commands use an environment, so that a recreation waits for them;
* markers (:class:`Marker`): files beside or inside an environment that say
  "this is not complete" (``.<name>.incomplete``, naming the tool that left
  it: :meth:`Marker.incomplete`, :meth:`Marker.find_incomplete`) or "this
  was provisioned" (:meth:`Marker.in_records`), written without following
  symbolic links;
* looking without changing (the ``venvlock`` command): who holds a lock
  (:meth:`Adapter.lock_state`), what is damaged (:meth:`Adapter.verify`) and
  what a repair would do about it (:meth:`Adapter.plan_repair`);
* the fault matrix's named points (:func:`fault_point`, test-only).

Adapters that take pip's own arguments (``pip-locked``) read them with
:mod:`venvlock.adapter.pip`, as pip reads them.  Neither adapters nor the
command import a private core module (``tests/test_import_graph.py`` checks).

This module imports only ``os`` and ``sys`` at first; the core and pluggy
load when a lock or a sync is asked for.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

from venvlock.adapter._marker import INCOMPLETE_SUFFIX, Marker
from venvlock.errors import LockTimeoutError, LockUnavailableError, SettingError, VenvlockError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from venvlock._fast import Miss
    from venvlock.audit import RepairPlan, Report
    from venvlock.audit._filesystem import Filesystem
    from venvlock.core import Environment, Holder, LockHold, LockState, SyncRequest, SyncResult, Verdict

#: exit status of commands for a bad setting or usage
EX_USAGE = 2
#: exit status of commands when the lock stayed busy past the timeout, or cannot be had (EX_TEMPFAIL)
EX_TEMPFAIL = 75
#: exit status of commands interrupted by Ctrl-C
EX_INTERRUPTED = 130

__all__ = [
    "EX_INTERRUPTED",
    "EX_TEMPFAIL",
    "EX_USAGE",
    "INCOMPLETE_SUFFIX",
    "Adapter",
    "LockTimeoutError",
    "LockUnavailableError",
    "Marker",
    "SettingError",
    "ToolInstall",
    "VenvlockError",
    "check_settings",
    "command_label",
    "describe_command",
    "display_path",
    "exit_code",
    "fault_point",
    "installer_exit_code",
    "installs_elsewhere",
    "interrupt_waits",
    "remove_tree",
    "setting_flag",
]


def describe_command(argv: Iterable[str]) -> str:
    """How waiting processes name a holder: *argv* shell-quoted, credentials redacted, program by base name."""
    from venvlock.core._holder import describe_command as described

    return described(list(argv))


def command_label(tool: str, args: Iterable[str] | None = None) -> str:
    """How a holder run by *tool* names itself: ``<tool> <args>`` (default: this run's ``sys.argv[1:]``).

    The tool's name, not ``sys.argv[0]``: a tool started as ``python -m tox``
    or through a shim still reads ``tox -e py`` in another process's waiting line.
    """
    return describe_command([tool, *(sys.argv[1:] if args is None else args)])


def installs_elsewhere(args: Sequence[str], *, uv: bool = False) -> bool:
    """Whether pip (or ``uv pip``) install options *args* send the install to another environment.

    ``--target``, ``--prefix``, ``--root``, ``--user``, ``--python`` (and uv's
    ``--system``, ``-p``) as pip reads them, abbreviations included.
    """
    from venvlock._pip.options import goes_elsewhere

    return goes_elsewhere(list(args), uv=uv)


def interrupt_waits(thread: int, *, interrupted: bool = True) -> None:
    """End the lock waits of *thread* (a ``threading.get_ident()``) with KeyboardInterrupt, until called with False.

    For a tool that runs environments in worker threads and gets Ctrl-C in its
    main thread only (tox): the waiting thread ends within a second.
    """
    from venvlock.core._nesting import interrupt_waits as interrupt

    interrupt(thread, interrupted=interrupted)


def setting_flag(name: str, *, default: bool, on: str, off: str) -> bool:
    """An adapter's on/off ``VENVLOCK_*`` variable (``VENVLOCK_TOX``, ``VENVLOCK_POETRY``), read as venvlock's own:
    1/true/yes/on or 0/false/no/off in any case, unset or empty *default*; :class:`SettingError` for anything
    else, saying what 1 (*on*) and 0 (*off*) mean."""
    from venvlock._flags import flag  # plain os: a tool's plugin reads its switch before any of the core loads

    return flag(name, default=default, on=on, off=off)


def display_path(path: str) -> str:
    """*path* as messages show it: relative to the working folder when inside it, as environments are named."""
    from venvlock.core._environment import display_path as shown

    return shown(path)


def check_settings() -> None:
    """Read every ``VENVLOCK_*`` setting; raise :class:`SettingError` for the first bad one.

    A sync does this itself; a command calls it first so that a bad setting
    is an error on every path, those that never sync included.
    """
    from venvlock.core._settings import validate

    validate()  # once per set of values: the sync that follows does not validate them again


def remove_tree(path: str) -> None:
    """Remove the folder *path* (an environment an adapter rebuilds) without following symbolic links."""
    from venvlock.core._files import remove_tree as remove

    remove(path)


def fault_point(phase: str, *, errors: bool = False) -> None:
    """Test-only: a named point of an adapter's run where the fault matrix injects its fault (usually nothing).

    ``VENVLOCK_TEST_FAULT=<phase>:<fault>`` (see :func:`venvlock._faults.inject_fault`): a signal to the
    process group, or with *errors* (a point that creates or writes) an ``OSError`` (``ENOSPC``, ``EACCES``)
    raised here as the write would.  Unset: one look at ``os.environ``, no import.
    """
    if "VENVLOCK_TEST_FAULT" not in os.environ:
        return
    from venvlock._faults import inject_fault

    inject_fault(phase, errors=errors)


def installer_exit_code(failure: BaseException) -> int:
    """The installer exit code a tool's failed install carries: never 0 (1 when it carries none).

    ``SystemExit`` (hatch, tox: its code), ``subprocess.CalledProcessError``
    and any exception with an int ``returncode`` or ``return_code`` (nox's
    ``CommandFailed``).  The default of :class:`ToolInstall`.
    """
    if isinstance(failure, SystemExit):
        code: object = failure.code
    else:
        code = getattr(failure, "returncode", None)
        if not isinstance(code, int):
            code = getattr(failure, "return_code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) and code != 0 else 1


def exit_code(error: BaseException) -> int:
    """The exit status a command reports for *error* (pip's style: 2 usage, 75 busy, 130 interrupted, else 1)."""
    if isinstance(error, SettingError):
        return EX_USAGE
    if isinstance(error, LockUnavailableError) and not error.temporary:
        return 1  # a permanent problem (a name too long, a FIFO at the lock path): "retry later" would mislead
    if isinstance(error, (LockTimeoutError, LockUnavailableError)):
        return EX_TEMPFAIL
    if isinstance(error, KeyboardInterrupt):
        return EX_INTERRUPTED
    return 1


class ToolInstall:
    """A tool's own install, run by the core as the installer of a sync.

    :param install: runs the tool's install; its return value is kept in :attr:`value`.
    :param failures: the exception types by which the tool reports a failed
        install (hatch's ``SystemExit``, nox's ``CommandFailed``, tox's ``Fail``).
    :param exit_code: the installer exit code carried by such an exception
        (default :func:`installer_exit_code`; an answer of None or 0 counts as 1).

    Called by the core under the environment lock, it returns an exit code;
    a failure's exception is kept and :meth:`reraise` raises it after the
    sync has released the lock, so the tool reports it as it always would.
    """

    __slots__ = ("_exit_code", "_failures", "_install", "error", "ran", "value")

    def __init__(
        self,
        install: Callable[[], object],
        *,
        failures: tuple[type[BaseException], ...] = (),
        exit_code: Callable[[BaseException], int | None] | None = None,
    ) -> None:
        self._install = install
        self._failures = failures
        self._exit_code = exit_code
        self.error: BaseException | None = None
        self.ran = False
        self.value: object = None

    def __call__(self) -> int:
        self.ran = True
        try:
            self.value = self._install()
        except self._failures as error:
            self.error = error
            code = self._exit_code(error) if self._exit_code is not None else installer_exit_code(error)
            return code if isinstance(code, int) and code != 0 else 1
        return 0

    def reraise(self) -> None:
        """Raise the tool's failure again, if its install failed."""
        if self.error is not None:
            raise self.error


class Adapter:
    """One tool's way into venvlock: locks, checks and syncs, typed, with their odd cases handled.

    :param tool: the tool's name, for messages (``"hatch"``, ``"nox"``, ``"tox"``).
    :param purpose: how other processes' waiting lines name this holder
        (default: the tool's name and this run's arguments, see :func:`command_label`).
    :param quiet: no waiting lines.
    """

    __slots__ = ("_checked", "purpose", "quiet", "tool")

    def __init__(self, tool: str, *, purpose: str | None = None, quiet: bool = False) -> None:
        self.tool = tool
        self.purpose = purpose if purpose is not None else command_label(tool)
        self.quiet = quiet
        #: the last :meth:`check`'s request, whose reading a :meth:`sync` of the same arguments reuses
        self._checked: SyncRequest | None = None

    def __repr__(self) -> str:
        return f"Adapter({self.tool!r}, purpose={self.purpose!r})"

    # ---------------------------------------------------------------------------------------------
    @staticmethod
    def environment(path: str | os.PathLike[str]) -> Environment:
        """The virtual environment at *path* (it need not exist yet)."""
        from venvlock.core import Environment

        return Environment.for_venv(os.fspath(path))

    @staticmethod
    def environment_of_python(python: str) -> Environment:
        """The environment interpreter *python* installs into (its venv, or the interpreter itself)."""
        from venvlock.core import Environment

        return Environment.for_python(python)

    @contextmanager
    def creation_lock(
        self, environment: Environment, *, default_timeout: float | None = None, purpose: str | None = None
    ) -> Iterator[LockHold]:
        """Hold the creation lock of *environment* (beside its folder) while inside.

        Take it around creating, recreating or deleting the folder, before the
        environment lock.  *default_timeout* applies when ``VENVLOCK_TIMEOUT``
        is unset (negative: wait forever, for a lock held through a session).
        """
        from venvlock.core import creation_lock

        with creation_lock(
            environment, purpose=purpose or self.purpose, quiet=self.quiet, default_timeout=default_timeout
        ) as hold:
            yield hold

    @contextmanager
    def using_lock(
        self, environment: Environment, *, default_timeout: float | None = None, purpose: str | None = None
    ) -> Iterator[LockHold]:
        """Hold the creation lock of *environment* *shared* while inside: the environment is in use.

        Take it around running commands in an environment that others may
        recreate: many users hold it at once, a :meth:`creation_lock` waits
        until all have let go (its waiting line names them), and a user waits
        while a creation holds it.  Never take it while holding the creation
        lock, nor the other way round, in one process (the two would wait for
        each other).  *default_timeout* as for :meth:`creation_lock`.
        ``hold.locked`` is False when the lock file cannot be had (warned about).
        """
        from venvlock.core import shared_lock

        with shared_lock(
            environment, purpose=purpose or self.purpose, quiet=self.quiet, default_timeout=default_timeout
        ) as hold:
            yield hold

    @staticmethod
    def creation_lock_path(environment: Environment) -> str:
        """The creation lock file of *environment* (it need not exist)."""
        from venvlock.core import creation_lock_path

        return creation_lock_path(environment)

    @staticmethod
    def lock_path(environment: Environment) -> str:
        """The environment lock file of *environment* (uv's ``<env>/.lock``; it need not exist)."""
        from venvlock.core import lock_path

        return lock_path(environment)

    @staticmethod
    def sync_lock_path(environment: Environment) -> str:
        """venvlock's sync lock file of :meth:`lock_path` (``<env>/.lock.sync``; a ``--target``/``--prefix``
        folder's in the user cache; it need not exist): every sync takes it with the environment lock."""
        return environment.sync_lock_path(Adapter.lock_path(environment))

    @staticmethod
    def creation_holder(environment: Environment) -> Holder | None:
        """Who holds the creation lock of *environment* exclusively now, as its holder file says (None: nobody known).

        Only a live process that holds the lock counts (a stale holder file
        names nobody).  For an adapter deciding whether to wait for a creation
        in progress (:meth:`using_lock` waits for it) rather than to queue for
        the lock itself.
        """
        from venvlock.core._probe import exclusive_holder

        return exclusive_holder(Adapter.creation_lock_path(environment))

    @contextmanager
    def environment_lock(self, environment: Environment, *, purpose: str | None = None) -> Iterator[LockHold]:
        """Hold the environment lock (venvlock's sync lock, then uv's ``<env>/.lock``) while inside.

        Around installs and deletions only.  An installer that takes
        ``<env>/.lock`` itself (uv) runs inside ``with hold.lend():``.
        """
        from venvlock.core import environment_lock

        with environment_lock(environment, purpose=purpose or self.purpose, quiet=self.quiet) as hold:
            yield hold

    def begin_journal(
        self,
        environment: Environment,
        command: str,
        hold: LockHold | None,
        *,
        reinstall: bool = True,
        pip_options: Sequence[str] = (),
    ) -> bool:
        """Inside :meth:`environment_lock`, before a command that may change *environment* runs (``venvlock run``).

        Heals what a sync interrupted earlier left (its journal says so: the
        half-installed distributions are removed and, with *reinstall*, put back
        at their versions by pip; without, the command's own installer, which
        looks at what is installed after this, puts them back from its own
        sources; *pip_options*: the options of where to find them, as ``venvlock repair -- --find-links DIR``),
        then writes this one's journal (:mod:`venvlock.core._journal`).
        Whether this process owns the journal: then :meth:`end_journal` once the
        command ended by itself with success.
        """
        from venvlock._faults import inject_fault
        from venvlock.core._journal import begin, heal, put_back
        from venvlock.core._settings import installer

        inject_fault("locked")
        healed = heal(environment)
        if healed and reinstall:  # quiet: this installer's lines are not the command's output
            put_back(
                environment,
                healed,
                list(pip_options),
                lambda args: self.install(environment, [*args, "--quiet"], hold),
                uv=installer() == "uv",
            )
        owned = begin(environment, command)
        inject_fault("journal")
        return owned

    @staticmethod
    def end_journal(environment: Environment) -> None:
        """Clear the journal :meth:`begin_journal` wrote."""
        from venvlock.core._journal import end

        end(environment)

    @staticmethod
    def journal_present(environment: Environment) -> bool:
        """Whether a sync journal is in *environment*: a sync into it runs, or one was interrupted (one ``lstat``).

        Without the environment lock it may be a sync under way; under it, an interrupted one's.
        """
        from venvlock._fast import JOURNAL_NAME  # the core's one name for it, in a module a no-op has loaded

        return Marker.in_records(environment, JOURNAL_NAME).present()

    @staticmethod
    def lock_state(lock_path: str) -> LockState:
        """Whether the lock file *lock_path* is free or held (shared or exclusive), by whom, since when.

        Holds the lock for an instant at most (when it is free) and creates
        nothing: a missing file is a free lock.
        """
        from venvlock.core import probe_lock

        return probe_lock(lock_path)

    @staticmethod
    def verify(environment: Environment, *, jobs: int = 0, use_cache: bool = True, update_cache: bool = True) -> Report:
        """What is wrong with *environment*'s installed distributions; call it inside :meth:`environment_lock`.

        *jobs*: hashing threads (0: from the CPU count).  *use_cache*: skip
        files verified before and unchanged since.  *update_cache* False:
        write nothing (a dry run).
        """
        from venvlock.audit import verify

        return verify(environment, jobs=jobs, use_cache=use_cache, update_cache=update_cache)

    @staticmethod
    def plan_repair(report: Report, environment: Environment) -> RepairPlan:
        """What a repair of *report*'s damage in *environment* removes and reinstalls (carry it out under the locks)."""
        from venvlock.audit import plan_repair

        return plan_repair(report, environment)

    def check(self, environment: Environment, args: Sequence[str], *, cwd: str | None = None) -> Verdict:
        """The core's in-process verdict on pip ``install`` *args* (no lock, no installer).

        A sync journal in *environment* (a sync runs, or one was interrupted and left half-installed
        distributions that look installed) is "install needed": only a :meth:`sync` can judge it, under the lock,
        once it healed what an interrupted sync left.
        """
        from venvlock.core import SyncRequest, Verdict, hooks

        if self.journal_present(environment):
            self._checked = None
            return Verdict.install_needed("a sync is running or was interrupted (its journal is there)")
        request = SyncRequest(list(args), cwd=cwd, quiet=True, purpose=self.purpose)
        verdict: Verdict = hooks().venvlock_check(environment=environment, request=request)  # the core's answers
        self._checked = request
        return verdict

    def install(
        self, environment: Environment, args: Sequence[str], hold: LockHold | None, *, command: str = "install"
    ) -> int:
        """Run the installer venvlock uses (``venvlock_install``: pip, or uv) for pip ``<command>`` *args*.

        No check and no record: for commands that know what must be installed
        (``venvlock repair``).  Call it inside :meth:`environment_lock`, with
        its *hold*.  Returns the installer's exit code.
        """
        from venvlock.adapter.pip import pip_for_one_install
        from venvlock.core import LockHold, SyncRequest, hooks

        held = hold if hold is not None else LockHold(environment.path, locked=False)
        with pip_for_one_install(environment) as pip:  # the environment's own pip, staying in it; pip-less: --python
            request = SyncRequest(
                list(args), command=command, quiet=self.quiet, purpose=self.purpose, judge=False, pip=pip
            )
            answer: int = hooks().venvlock_install(environment=environment, request=request, hold=held)  # core answers
        return int(answer)

    def sync(
        self,
        environment: Environment,
        args: Sequence[str],
        *,
        install: ToolInstall | None = None,
        judge: bool | Callable[[], bool] = True,
        command: str = "install",
        cwd: str | None = None,
        purpose: str | None = None,
        quiet: bool | None = None,
        installer_takes_lock: bool = False,
        pip: Sequence[str] | None = None,
        fast: Miss | None = None,
    ) -> SyncResult:
        """Sync *environment* with pip ``<command>`` *args*: check, lock, check, install if needed, record.

        *install* is the tool's own installer (None: the ``venvlock_install``
        hook's, pip by default).  *judge* False: only the installer can tell
        whether anything is to do (it always runs, under the lock); a callable
        is asked only when no fast-path entry proves the install, and must
        answer from *args* and *installer_takes_lock* alone (they key the
        entries, and only a judged install writes one): nox's "do pip's options
        send the install elsewhere?", which loads pip's option table.  The
        lock is released when this returns.  When the tool's install failed,
        ``result.returncode`` is not 0 and ``install.reraise()`` raises the
        tool's own error.  *installer_takes_lock*: the installer takes
        ``<env>/.lock`` itself (uv), so the core lends it that lock while it
        runs and keeps venvlock's sync lock.  *pip*: how to run pip when
        not as ``<env python> -m pip`` (an environment without pip of its
        own: pip-locked's pip with ``--python``).  Raises
        :class:`~venvlock.errors.VenvlockError` (timeouts, bad settings, a
        lock that cannot be had) for the adapter to report.  A judged install
        asks the fast path first (:mod:`venvlock._fast`: an entry written when
        an earlier identical sync found the environment in sync, proved again
        by a few stats); *fast*: what ``pip-locked``'s own attempt could not
        prove.  A sync that finds the environment in sync writes the entry
        that proves the next identical one.  When no record answers and another process's
        sync holds the lock, this waits for it sharing the sync lock and asks
        the record again before taking the lock (:func:`venvlock.core.recorded_after_running_sync`).
        """
        deferred = judge if callable(judge) else None  # asked after the fast path, when an entry does not prove it
        if deferred is not None and (command != "install" or fast is not None):
            judge = deferred()
            deferred = None
        checked, self._checked = self._checked, None
        cwd = cwd or os.getcwd()
        quiet_entry = fast is not None  # pip-locked's entry says -q; an adapter's always gives the count
        if fast is None and judge and command == "install":  # a few stats prove a no-op proved before, or not
            from venvlock._fast import attempt, request_words

            start = time.monotonic()
            words = request_words(command, install is not None, installer_takes_lock, pip, args)
            count, fast = attempt(words, environment.path, cwd)
            if fast is None:  # proved: no request is built
                from venvlock.core import SyncResult

                seconds = time.monotonic() - start
                return SyncResult(0, installed=False, checked=max(count, 0), seconds=seconds, recorded=True)
            if deferred is not None and not deferred():  # not proved: asked now; nothing judged, no entry
                judge, fast = False, None
        from venvlock.core import SyncRequest, hooks, recorded_after_running_sync, recorded_sync

        request = SyncRequest(
            list(args),
            command=command,
            cwd=cwd,
            installer=install,
            quiet=self.quiet if quiet is None else quiet,
            purpose=purpose or self.purpose,
            judge=bool(judge),
            installer_takes_lock=installer_takes_lock,
            pip=list(pip) if pip is not None else None,
        )
        judge = request.judge

        if (  # the check just before read these very arguments: one reading, if nothing it read changed since
            judge
            and checked is not None
            and checked.parsed is not None
            and (checked.args, checked.cwd) == (request.args, request.cwd)
            and checked.parsed.environment_path == environment.path
            and checked.parsed.current()
        ):
            request.parsed = checked.parsed
        result = recorded_sync(environment, request) if judge else None
        waited = 0.0
        if result is None and judge:
            result, waited = recorded_after_running_sync(environment, request, hooks(), self.purpose)
        if result is None:
            result = hooks().venvlock_sync(environment=environment, request=request)  # the core's answers
        result.waited += waited
        if fast is not None and judge and result.returncode == 0 and not result.installed:
            from venvlock.core._record import remember_noop

            remember_noop(environment, request, fast, quiet=request.quiet and quiet_entry)
        return result


def filesystem_of(path: str) -> Filesystem:
    """The filesystem *path* lives on (``venvlock doctor``): type, mount point, options, and how far a lock reaches.

    Linux reads it from ``/proc/self/mountinfo``; elsewhere its type is
    ``"unknown"``.  ``lock_scope()`` says how far a ``flock`` reaches there,
    ``lock_error(error)`` what a lock call's errno means.
    """
    from venvlock.audit._filesystem import filesystem_of as of

    return of(path)


def os_lock_file() -> str:
    """The file of the core's OS half of the lock (``_unix.py`` / ``_windows.py``): it imports only the standard
    library, so ``venvlock doctor``'s probe processes load it alone and lock as venvlock does."""
    if sys.platform == "win32":
        from venvlock.core import _windows as os_lock
    else:
        from venvlock.core import _unix as os_lock
    return str(os_lock.__file__)
