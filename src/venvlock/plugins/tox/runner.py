"""tox run environments whose setup is a critical section and whose commands hold the lock shared.

:func:`locked_runner` derives, from any tox run environment class (tox's
``virtualenv``, tox-uv's ``uv-venv-runner`` and ``uv-venv-lock-runner``, a
plugin's), a subclass with the same ``id()``, name and behaviour, whose
:meth:`setup` goes through a :class:`Guard`:

1. *Shared first.*  When the environment looks complete (its folder and
   tox's ``.tox-info.json`` are there, no half-built marker beside it, no
   ``-r``), tox's own setup runs while the creation lock is held *shared*,
   its shared-folder steps (emptying the log and temp folders, the checks of
   its ``.tox-info.json``) under the environment lock ``<env>/.lock`` so that
   setups take turns while other runs' commands go on.  The first step that
   would change the environment (a creation, a recreation, an install that
   tox would run, the package build that precedes tox's package reinstall,
   ``uv sync``) stops that attempt before it does anything
   (:class:`NeedsExclusive`).
2. *Exclusive when needed.*  The shared hold is released, the creation lock
   is taken exclusively (waiting for the other runs' commands, naming them),
   the half-built marker is set, and tox's setup runs again from its start;
   installs also hold the environment lock (pip runners; with tox-uv, uv takes
   `<env>/.lock` itself, lent by the core).  Then the marker is cleared.
3. *Commands shared.*  The exclusive hold becomes a shared one in one lock
   call (no other run's creation gets in between), held through the commands
   and released at teardown.

Installs in the exclusive step go through the core: each installer command
tox runs is the core's sync installer, under the environment lock.  When
the command is exactly pip run by the environment's interpreter and tox
runs it seeing the pip settings this process sees
(:mod:`~venvlock.plugins.tox._judging`), requirements that the core's
check finds satisfied are not installed again where tox's own bookkeeping
would reinstall them (tox's bookkeeping is still written); anything else
(the package tox force-reinstalls, uv, a custom ``install_command``, a
``set_env`` that changes pip's settings) goes to tox's installer unjudged.
A recreation (``-r``, a changed configuration) deletes the folder holding
the environment lock too, after the creation lock.
"""

from __future__ import annotations

import os
import sys
import time
from _thread import allocate_lock, get_ident
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tox.tox_env.errors import Fail, Recreate, Skip

from venvlock.adapter import Adapter, Marker, ToolInstall, VenvlockError, fault_point, interrupt_waits
from venvlock.plugins.tox._settings import enabled

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tox.execute.api import Outcome
    from tox.tox_env.runner import RunToxEnv

    from venvlock.core import Environment

    _Base = RunToxEnv
else:
    _Base = object

#: attribute marking a class made by :func:`locked_runner`
WRAPPED_ATTRIBUTE = "_venvlock_wrapped"
#: run ids of tox's executions that change the environment whatever called them
_CHANGING_RUN_IDS = ("venv", "uv-sync", "uv_sync")
#: the holds are long (a run's commands): wait for them as long as they last unless VENVLOCK_TIMEOUT says otherwise
WAIT_FOREVER = -1.0
#: how long to look for a creator naming itself before queueing for the creation lock
HOLDER_GRACE_SECONDS = 0.1


class NeedsExclusive(BaseException):
    """Raised inside a shared setup at the first step that would change the environment.

    A BaseException, so that no ``except Exception`` in tox or a plugin takes it for a failure.
    """


_MODE_SHARED = "shared"
_MODE_EXCLUSIVE = "exclusive"

Generation = tuple[int, int, int] | None


class Guard:
    """The locks, marker and mode of one tox run environment's setup and commands."""

    def __init__(self, tox_env: RunToxEnv) -> None:
        self.tox_env = tox_env
        self.mode: str | None = None
        self.installing = False
        #: whether this exclusive setup began to change the environment (a deletion, a creation, an installer)
        self.touched = False
        self._seen: Generation = None
        self._probe_failed = False
        self._shared = ExitStack()
        self.adapter = Adapter("tox")
        #: tox interrupted the run (Ctrl-C): no lock wait goes on, no step after one
        self.interrupted = False
        self._setup_thread: int | None = None  # the thread in :meth:`setup`, while it is
        self._interrupt_guard = allocate_lock()

    # ---------------------------------------------------------------------------------------------
    @property
    def folder(self) -> str:
        return os.path.abspath(str(self.tox_env.env_dir))

    @property
    def environment(self) -> Environment:
        return self.adapter.environment(self.folder)

    @property
    def marker(self) -> Marker:
        return Marker.incomplete(self.folder, tool="tox", holder=(os.getpid(), self.adapter.purpose))

    @property
    def uses_uv(self) -> bool:
        """Whether tox runs uv for this environment (uv takes the environment lock itself)."""
        return any(cls.__module__.startswith("tox_uv") for cls in type(self.tox_env).__mro__)

    def looks_complete(self) -> bool:
        folder = self.folder
        return (
            os.path.isdir(folder)
            and not os.path.islink(folder)
            and os.path.isfile(os.path.join(folder, ".tox-info.json"))
            and not self.marker.present()
        )

    # ---------------------------------------------------------------------------------------------
    def setup(self, original: Callable[[], None]) -> None:
        """Run tox's *original* setup as described in the module docstring; leaves the lock held shared."""
        recreate = bool(self.tox_env.conf["recreate"])
        with self._interrupt_guard:
            self._setup_thread = get_ident()
        try:
            shared_first = not recreate and self.looks_complete()
            self._seen = self._generation()
            while True:
                if shared_first and self._shared_setup(original):
                    return
                if self._exclusive_setup(original, recreate=recreate):
                    return  # set up, and held shared (or no lock to be had: tox's setup ran as stock tox's would)
                shared_first = True  # another run set it up meanwhile: look again, sharing
        except VenvlockError as error:
            self.release()
            raise Fail(str(error)) from None
        except KeyboardInterrupt:  # a lock wait that tox's interruption ended (see :meth:`interrupt`)
            if not self.interrupted:
                raise
            self.release()
            raise SystemExit(-2) from None  # what tox's own steps raise once interrupted: the run ends "code -2"
        finally:
            with self._interrupt_guard:
                thread, self._setup_thread = self._setup_thread, None
                if self.interrupted and thread is not None:
                    interrupt_waits(thread, interrupted=False)

    def interrupt(self) -> None:
        """tox was interrupted (Ctrl-C reaches its main thread only): end this run's lock waits and its setup."""
        with self._interrupt_guard:
            self.interrupted = True
            if self._setup_thread is not None:
                interrupt_waits(self._setup_thread)

    def _stop_if_interrupted(self) -> None:
        """After a wait: an interrupted run changes nothing more."""
        if self.interrupted:
            raise KeyboardInterrupt

    def _take_shared(self) -> bool:
        """Hold the creation lock shared (until :meth:`release`); whether it is really locked."""
        hold = self._shared.enter_context(self.adapter.using_lock(self.environment, default_timeout=WAIT_FOREVER))
        return hold.locked

    def _generation(self) -> Generation:
        """What changes when tox sets the environment up anew: its ``.tox-info.json`` (rewritten by replacing)."""
        if self.marker.present():
            return None
        try:
            stat = os.stat(os.path.join(self.folder, ".tox-info.json"), follow_symlinks=False)
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def _shared_setup(self, original: Callable[[], None]) -> bool:
        """Take the lock shared and run tox's setup changing nothing; False (lock released) if it must change."""
        if not self._take_shared():  # no lock to be had here: tox's own setup, as stock tox would
            self._unlocked_setup(original)
            return True
        self._stop_if_interrupted()
        if not self.looks_complete():
            self.release()
            return False
        self.mode = _MODE_SHARED
        try:
            original()
        except NeedsExclusive:
            self._probe_failed = True
            self._seen = self._generation()
            self._reset()
            self.release()
            return False
        finally:
            self.mode = None
        return True

    def _unlocked_setup(self, original: Callable[[], None]) -> None:
        self.mode = _MODE_EXCLUSIVE
        try:
            original()
        finally:
            self.mode = None

    def _exclusive_setup(self, original: Callable[[], None], *, recreate: bool) -> bool:
        """tox's setup under the exclusive creation lock, marked half-built until done; then held shared.

        The exclusive hold becomes the shared one in one lock call
        (``LockHold.downgrade``): no other run's creation gets in between
        this setup and its commands.  True when set up (or when no lock could
        be had and tox's setup ran unlocked); False, with nothing done, when
        another run set the environment up while this one waited (a shared
        setup may do now).
        """
        if not recreate and self._creation_in_progress():
            # another run is creating or changing it: wait for that sharing, then look, rather than queue for
            # the lock behind the commands of every run that comes after it
            return False
        hold = self._shared.enter_context(self.adapter.creation_lock(self.environment, default_timeout=WAIT_FOREVER))
        try:
            self._stop_if_interrupted()
            if not hold.locked:
                self._unlocked_setup(original)
                return True
            if not recreate and self.looks_complete() and self._generation() != self._seen:
                self.release()
                return False
            leftover = self.marker.present() and os.path.lexists(self.folder)
            self.marker.set()
            self.touched = leftover  # what a killed setup left is half-built already
            self.mode = _MODE_EXCLUSIVE
            try:
                if leftover:  # what a killed setup left: rebuilt, never reused
                    print(
                        f"venvlock: {self.tox_env.name}: the environment was left half-built; recreating it",
                        file=sys.stderr,
                        flush=True,
                    )
                    self.tox_env._clean(transitive=False)
                original()
            except BaseException as error:
                # tox's bookkeeping knows which steps are done, as without venvlock; and a setup that ended before it
                # changed anything (a lock wait interrupted or timed out) left the environment as it found it
                if _step_failure(error) or not self.touched:
                    self.marker.clear()
                raise  # a crash or an interruption while changing keeps the marker: the next run rebuilds
            finally:
                self.mode = None
            self.marker.clear()
            hold.downgrade()
            return True
        except BaseException:
            self.release()
            raise

    def _creation_in_progress(self) -> bool:
        """Whether another process holds the creation lock exclusively now.

        A holder names itself just after it locks: when other runs are about
        (the lock file is there) and this run has not just found the
        environment needing a change, look for a name a moment longer.
        """
        grace = not self._probe_failed and os.path.exists(self.adapter.creation_lock_path(self.environment))
        deadline = time.monotonic() + (HOLDER_GRACE_SECONDS if grace else 0.0)
        while True:
            holder = self.adapter.creation_holder(self.environment)
            if holder is not None:
                return holder.pid != os.getpid()
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _reset(self) -> None:
        """Forget the stopped shared attempt, so that tox's setup runs again from its start."""
        self.tox_env._run_state.update({"setup": False, "clean": False})

    def release(self) -> None:
        """Let go of the shared hold, if any (after the commands, at teardown)."""
        self._shared.close()
        self._shared = ExitStack()

    # ---------------------------------------------------------------------------------------------
    # the steps of tox's setup
    # ---------------------------------------------------------------------------------------------
    def changing(self, what: str) -> None:
        """Called before a step that changes the environment: stops a shared setup."""
        if self.mode == _MODE_SHARED:
            raise NeedsExclusive(what)

    def touching(self) -> None:
        """Called as a step of an exclusive setup starts to change the environment, after any wait for a lock."""
        if self.mode == _MODE_EXCLUSIVE:
            self.touched = True

    @contextmanager
    def recreation_stops(self) -> Iterator[None]:
        """Around tox's setup steps: in a shared setup, tox finding a reason to recreate stops the attempt.

        Before tox says why it recreates (``recreate env because ...``): the
        run under the exclusive lock finds the reason again and says it once.
        """
        try:
            yield
        except Recreate as reason:
            if self.mode != _MODE_SHARED:
                raise
            raise NeedsExclusive(f"recreation: {reason}") from None

    @contextmanager
    def folder_steps(self) -> Iterator[None]:
        """Around tox's ``_setup_env`` in a shared setup: one setup at a time touches the shared folders."""
        if self.mode != _MODE_SHARED:
            yield
            return
        try:  # the interpreter discovery (slow, touches no folder of the environment) before taking turns
            getattr(self.tox_env, "base_python", None)
        except Exception:  # tox raises it again at its own place, inside the block
            pass
        with self.adapter.environment_lock(self.environment):
            yield

    @contextmanager
    def removing(self) -> Iterator[None]:
        """Around tox's deletion of the environment folder: the environment lock too, after the creation lock.

        No installer (``pip-locked``, uv, a ``venvlock run --env`` command)
        is inside the folder while it goes, as hatch and nox do it.
        """
        folder = self.folder
        if self.mode != _MODE_EXCLUSIVE or not os.path.isdir(folder) or os.path.islink(folder):
            self.touching()
            yield
            return
        with self.adapter.environment_lock(
            self.environment, purpose=f"{self.adapter.purpose}: removing the environment"
        ):
            self.touching()
            yield

    def install(self, original: Callable[[], None]) -> None:
        """Run tox's install *original* (its bookkeeping, then its installer commands: see :meth:`execute`)."""
        self.installing = True
        try:
            original()
        finally:
            self.installing = False

    def execute(self, original: Callable[[], Outcome], cmd: Any, run_id: str, cwd: Path | None) -> Outcome:
        """tox's ``execute``: stops a shared setup before a changing command; installer commands go through the core."""
        changing = self.installing or run_id.startswith(_CHANGING_RUN_IDS)
        if changing:
            self.changing(run_id)
        if self.installing and self.mode == _MODE_EXCLUSIVE:
            return self._installer(original, cmd, run_id, cwd)
        if changing:
            self.touching()
        return original()

    def _installer(self, original: Callable[[], Outcome], cmd: Any, run_id: str, cwd: Path | None) -> Outcome:
        """Run tox's installer command *cmd* as the core's sync installer, under the environment lock.

        Judged only when it is exactly pip and tox runs it seeing the pip
        settings this process sees (:func:`pip_arguments`); when the core
        finds everything installed, no installer runs and tox gets a success.
        """
        from venvlock.plugins.tox._judging import pip_arguments  # installs only: a no-op never loads it

        words = [str(word) for word in cmd]
        folder = str(cwd) if cwd is not None else str(self.tox_env.core["tox_root"])
        try:
            bin_dir = str(self.tox_env.env_bin_dir())  # type: ignore[attr-defined]
            installer_environ = dict(self.tox_env.environment_variables)
        except Exception:  # a run environment type without them: nothing to judge with
            arguments: list[str] | None = None
        else:
            arguments, _ = pip_arguments(words, installer_environ=installer_environ, bin_dir=bin_dir, cwd=folder)
        outcomes: list[Outcome] = []

        def run() -> None:
            self.touching()
            outcome = original()
            outcomes.append(outcome)
            if outcome.exit_code != 0:  # tox's Outcome.OK
                raise _InstallerFailed(outcome.exit_code or 1)

        tool = ToolInstall(run, failures=(_InstallerFailed,))
        # uv takes <env>/.lock itself: the core lends it that lock and keeps venvlock's sync lock
        from venvlock._uv import runs_uv

        takes_lock = self.uses_uv or runs_uv(words)
        judge = arguments is not None
        result = self.adapter.sync(
            self.environment, arguments or [], install=tool, judge=judge, cwd=folder, installer_takes_lock=takes_lock
        )
        if outcomes:
            return outcomes[0]
        return _done(self.tox_env, words, run_id, cwd, result.checked)


class _InstallerFailed(Exception):
    """tox's installer command ended with a non-zero exit code (tox reports it from the outcome)."""

    def __init__(self, returncode: int) -> None:
        super().__init__(returncode)
        self.returncode = returncode  # what the adapter layer's installer_exit_code reads


def _step_failure(error: BaseException) -> bool:
    """Whether *error* is tox reporting a failed step (a failed install, a missing interpreter), not a crash."""
    from tox.report import HandledError

    if isinstance(error, (Fail, Skip, Recreate, HandledError)):
        return True
    return isinstance(error, SystemExit) and isinstance(error.code, int) and error.code > 0


def _done(tox_env: RunToxEnv, cmd: Any, run_id: str, cwd: Path | None, checked: int) -> Outcome:
    """A successful outcome for an installer command that the core found nothing to do for.

    tox logs each command it runs (``py: install_deps> python -I -m pip install ...``, in ``execute_async``);
    this one's line is logged the same way, with what venvlock did instead, as the nox adapter says it.
    """
    import logging

    from tox.execute.api import Outcome, StdinSource
    from tox.execute.request import ExecuteRequest

    now = time.monotonic()
    words = [str(word) for word in cmd]
    folder = cwd or Path(str(tox_env.core["tox_root"]))
    request = ExecuteRequest(words, folder, tox_env.environment_variables, StdinSource.OFF, run_id)
    shown = getattr(request, "shell_cmd_redacted", None) or request.shell_cmd
    here = Path.cwd()
    where = "" if folder == here else f" {here.relative_to(folder) if here.is_relative_to(folder) else folder}"
    skipped = f"already satisfied, skipped by venvlock: {checked} package{'s' if checked != 1 else ''} checked"
    logging.getLogger("tox.tox_env.api").warning("%s%s> %s (%s)", run_id, where, shown, skipped)
    message = "venvlock: already satisfied, not installed again\n"
    return Outcome(request, False, Outcome.OK, message, "", now, now, words, {})


# --------------------------------------------------------------------------------------------------
# the runner classes
# --------------------------------------------------------------------------------------------------
class LockedRun(_Base):
    """Mixed in before a tox run environment class; see the module docstring."""

    _venvlock_guard: Guard | None = None

    def _venvlock(self) -> Guard | None:
        if not enabled(self.core):
            return None
        if self._venvlock_guard is None:
            self._venvlock_guard = Guard(self)
        return self._venvlock_guard

    def setup(self) -> None:
        try:
            guard = self._venvlock()
        except VenvlockError as error:  # a bad setting: the environment fails before anything changes
            raise Fail(str(error)) from None
        if guard is None or self._run_state["setup"]:
            super().setup()
            return
        guard.setup(super().setup)

    def interrupt(self) -> None:
        super().interrupt()
        if self._venvlock_guard is not None:
            self._venvlock_guard.interrupt()

    def teardown(self) -> None:
        try:
            super().teardown()
        finally:
            if self._venvlock_guard is not None:
                self._venvlock_guard.release()

    def _setup_env(self) -> None:
        guard = self._venvlock_guard
        if guard is None:
            super()._setup_env()
            return
        with guard.folder_steps(), guard.recreation_stops():
            super()._setup_env()

    def _setup_with_env(self) -> None:
        guard = self._venvlock_guard
        if guard is None:
            super()._setup_with_env()
            return
        with guard.recreation_stops():
            super()._setup_with_env()

    def _clean(self, transitive: bool = False) -> None:
        guard = self._venvlock_guard
        if guard is None or self._run_state["clean"]:
            super()._clean(transitive)
            return
        guard.changing("recreation")
        with guard.removing():
            super()._clean(transitive)

    def create_python_env(self) -> None:
        guard = self._venvlock_guard
        if guard is not None:
            guard.changing("creation")
            guard.touching()
        super().create_python_env()  # type: ignore[misc]
        if guard is not None:
            fault_point("create", errors=True)  # test-only: the folder is there, still marked half-built

    def _build_packages(self) -> Any:
        guard = self._venvlock_guard
        if guard is not None and not getattr(self.options, "package_only", False):
            guard.changing("package install")  # tox reinstalls the package it builds on every run
        return super()._build_packages()  # type: ignore[safe-super]

    def _install(self, arguments: Any, section: str, of_type: str) -> None:
        guard = self._venvlock_guard
        if guard is None or guard.mode is None:
            super()._install(arguments, section, of_type)
            return

        def install() -> None:
            super(LockedRun, self)._install(arguments, section, of_type)

        guard.install(install)

    def execute(self, cmd: Any, stdin: Any, *args: Any, **kwargs: Any) -> Outcome:
        """tox's ``execute(cmd, stdin, show, cwd, run_id, executor, *, capture)``, passed through as called."""
        guard = self._venvlock_guard
        if guard is None or guard.mode is None:
            return super().execute(cmd, stdin, *args, **kwargs)
        cwd = kwargs["cwd"] if "cwd" in kwargs else (args[1] if len(args) > 1 else None)
        run_id = kwargs["run_id"] if "run_id" in kwargs else (args[2] if len(args) > 2 else "")

        def run() -> Outcome:
            return super(LockedRun, self).execute(cmd, stdin, *args, **kwargs)

        return guard.execute(run, cmd, str(run_id or ""), cwd)


_made: dict[type, type] = {}


def locked_runner(runner: type[RunToxEnv]) -> type[RunToxEnv]:
    """*runner* with venvlock's setup: same ``id()``, ``__name__`` and module (tox records the class name)."""
    if getattr(runner, WRAPPED_ATTRIBUTE, False):
        return runner
    made = _made.get(runner)
    if made is None:
        made = type(
            runner.__name__,
            (LockedRun, runner),
            {"__module__": runner.__module__, "__qualname__": runner.__qualname__, WRAPPED_ATTRIBUTE: True},
        )
        _made[runner] = made
    return made
