"""The one patch venvlock applies to nox: ``SessionRunner.execute``, for sessions that asked for it.

nox creates (and by default deletes and recreates) a session's virtual
environment in ``SessionRunner.execute``, before the session function, or any
decorator around it, runs.  So a decorator alone cannot keep two runs of one
session from clobbering each other's venv.  This module replaces
``SessionRunner.execute`` once, at import, with a function that:

* passes every session that did not ask for protection straight to nox's own
  ``execute`` (sessions decorated with :func:`venvlock.plugins.nox.session`
  ask, and so does every session after :func:`protect_all`);
* for a protected session on the ``virtualenv``, ``venv`` or ``uv`` backend,
  takes the venv's *creation lock* (beside the venv folder) when nox starts to
  create the venv and holds it until the session function has returned:
  exclusively to create, recreate or reuse-and-provision the venv, shared
  once it is provisioned (the session's commands) and by a run that reuses a
  provisioned venv, so runs that reuse it run side by side, and no run
  deletes a venv another run is using;
* under the exclusive side, holds the venv's environment lock (``<venv>/.lock``)
  while nox deletes or reuses an existing venv, so a ``pip-locked``/``uv``
  install from outside nox is not cut off (a run that reuses a provisioned
  venv on the shared side lets nox neither delete nor write it);
* rebuilds a venv an earlier run left half-made (its creation's half-built
  marker, or an interrupted install's journal) even when nox was asked to
  reuse it (``-r``, ``-R``, ``reuse_venv``); any other venv nox reuses as it
  would without venvlock.

If nox's internals are not what this module knows, it warns once and leaves
nox alone: sessions then run unprotected, exactly as with ``nox.session``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import os
from typing import TYPE_CHECKING, Any

from venvlock.adapter import Adapter, Marker, VenvlockError, fault_point, remove_tree
from venvlock.plugins.nox import _state
from venvlock.plugins.nox.proxy import call_with_proxy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import NoReturn

    from venvlock.core import Environment, LockHold

#: attribute on the patched ``execute`` that holds nox's original (and marks the patch as applied)
ORIGINAL_ATTRIBUTE = "__venvlock_original__"
#: attribute on the patched ``execute`` that holds the adapter's state, shared by later imports
STATE_ATTRIBUTE = "__venvlock_state__"
#: the provisioned marker, inside the venv's venvlock folder
MARKER_NAME = "nox-provisioned"
#: the nox backends whose environments this adapter protects
PROTECTED_BACKENDS = frozenset({"virtualenv", "venv", "uv"})


# --------------------------------------------------------------------------------------------------
# applying the patch
# --------------------------------------------------------------------------------------------------
def _arity(function: object) -> int | None:
    try:
        return len(inspect.signature(function).parameters)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _unexpected(runner_class: Any) -> str:
    """What about *runner_class* differs from the nox this adapter knows ("" when nothing)."""
    execute = getattr(runner_class, "execute", None)
    if not callable(execute) or _arity(execute) != 1:
        return "SessionRunner.execute(self) is missing or takes other arguments"
    create = getattr(runner_class, "_create_venv", None)
    if not callable(create) or _arity(create) != 1:
        return "SessionRunner._create_venv(self) is missing or takes other arguments"
    reuse = getattr(runner_class, "reuse_existing_venv", None)
    if not callable(reuse) or _arity(reuse) != 1:
        return "SessionRunner.reuse_existing_venv(self) is missing or takes other arguments"
    for name in ("envdir", "friendly_name"):
        if not isinstance(inspect.getattr_static(runner_class, name, None), property):
            return f"SessionRunner.{name} is missing or not a property"
    return ""


def apply_patch(runner_class: Any = None) -> bool:
    """Patch ``SessionRunner.execute`` of nox (or of *runner_class*); return whether it is patched.

    Idempotent: a class already patched is left as it is.  When the class is
    not as expected, warns once (:class:`VenvlockNoxWarning`) and changes
    nothing.
    """
    if runner_class is None:
        try:
            from nox.sessions import SessionRunner
        except ImportError as error:
            _state.warn_once("import", f"cannot import nox's SessionRunner ({error}); sessions run unprotected")
            return False
        runner_class = SessionRunner
    existing = getattr(runner_class, "execute", None)
    if getattr(existing, ORIGINAL_ATTRIBUTE, None) is not None:
        # patched already (this module imported again, e.g. by a second noxfile import):
        # keep that patch, and share its state so protect_all() and the current run reach it
        _state.adopt(getattr(existing, STATE_ATTRIBUTE, None))
        return True
    problem = _unexpected(runner_class)
    if problem:
        _state.warn_once(
            f"internals {runner_class!r}",
            f"this nox is not as venvlock knows it ({problem}); "
            "sessions run unprotected (concurrent runs of a session may clobber its venv)",
        )
        return False
    original = runner_class.execute

    @functools.wraps(original)
    def execute(self: Any) -> Any:
        return _execute(self, original)

    setattr(execute, ORIGINAL_ATTRIBUTE, original)
    setattr(execute, STATE_ATTRIBUTE, _state.state)
    runner_class.execute = execute
    return True


def _execute(runner: Any, original: Callable[[Any], Any]) -> Any:
    try:
        run = ProtectedRun.for_runner(runner)
    except Exception as error:  # nox's objects are not as this adapter knows them: fail open
        _state.warn_once("runtime", f"cannot protect nox sessions with this nox ({error!r}); they run unprotected")
        run = None
    if run is None:
        return original(runner)
    return run.execute(original)


def selected_backends(runner: Any) -> list[str]:
    """The backends nox may choose for *runner*'s session, in nox's order."""
    try:
        from nox.sessions import resolve_venv_backends
    except ImportError:
        config, func = runner.global_config, runner.func
        chosen = config.force_venv_backend or func.venv_backend or config.default_venv_backend or "virtualenv"
        return str(chosen).split("|")
    return list(resolve_venv_backends(runner.global_config, runner.func))


# --------------------------------------------------------------------------------------------------
# one protected run of a session
# --------------------------------------------------------------------------------------------------
class ProtectedRun:
    """The protection of one session run: its creation lock, its provisioned marker, its state.

    :ivar name: the session's name as nox shows it (``tests-3.12``).
    :ivar purpose: how waiting processes name this run (``nox -s tests``).
    :ivar environment: the venv, once nox started creating it.
    :ivar install_failed: an install of this run failed; the venv is not marked provisioned.
    """

    def __init__(self, runner: Any, *, proxied: bool) -> None:
        self.runner = runner
        self.name: str = runner.friendly_name
        self.envdir: str = envdir_of(runner)
        self.purpose = _state.nox_purpose(self.name)
        self.adapter = Adapter("nox", purpose=self.purpose)
        self.proxied = proxied
        self.environment: Environment | None = None
        self.install_failed = False
        self._marked = False
        self._exclusive: LockHold | None = None  # the creation lock's exclusive hold, until the venv is provisioned
        self._stack = contextlib.ExitStack()

    @classmethod
    def for_runner(cls, runner: Any) -> ProtectedRun | None:
        """The protection for *runner*, or None when it did not ask for it or its backend is not covered."""
        func = runner.func
        proxied = bool(getattr(func, _state.PROTECT_ATTRIBUTE, False))
        if not proxied and not _state.state.protect_all:
            return None
        if func.python is False:
            return None
        if not set(selected_backends(runner)) <= PROTECTED_BACKENDS:
            return None  # conda, mamba, micromamba, rattler, none: passed through
        return cls(runner, proxied=proxied)

    @property
    def marker(self) -> Marker:
        """``<venv>/.venvlock/nox-provisioned``: a run provisioned this venv completely."""
        assert self.environment is not None
        return Marker.in_records(self.environment, MARKER_NAME)

    def complete(self) -> bool:
        """Whether the venv was provisioned completely: marked so, and no install into it unfinished.

        Runs that share a venv install into it one at a time, and one may mark
        it provisioned while another's install is under way; an install's
        journal (``<venv>/.venvlock/journal``) stays until it ended, so one
        killed midway still says so.  Under the environment lock a journal
        is an interrupted install's; without, it may be one under way (then
        the caller takes the exclusive path, which looks again under it).
        """
        assert self.environment is not None
        return self.marker.present() and not Adapter.journal_present(self.environment)

    # ---------------------------------------------------------------------------------------------
    def execute(self, original: Callable[[Any], Any]) -> Any:
        """Run nox's ``execute`` for the runner with the protection in place."""
        runner = self.runner
        shadowed = _shadow(runner, "_create_venv", self.create_venv)
        if not shadowed:  # cannot hook creation: lock before nox starts (same protection, earlier)
            self.take_creation_lock()
            self.rebuild_if_incomplete()
        restore_func = None if self.proxied else _proxy_session_function(runner)
        _state.state.current.append(self)
        try:
            return original(runner)
        finally:
            _state.state.current.remove(self)
            if restore_func is not None:
                restore_func()
            if shadowed:
                vars(runner).pop("_create_venv", None)
            self._stack.close()

    def create_venv(self) -> None:
        """Stands in for ``SessionRunner._create_venv`` during the run: lock, check, let nox create.

        A venv that nox is to reuse and that a run provisioned completely is
        reused under the shared side of the creation lock (:meth:`reuse_shared`),
        beside other runs' commands; anything else happens under its exclusive
        side, which becomes the shared side once the venv is provisioned.
        """
        if self.reuse_shared():
            return
        self.take_creation_lock()
        assert self.environment is not None
        if not self.environment.exists():
            self.build()
        else:
            with self._environment_lock("recreate or reuse"):
                self.rebuild_if_incomplete()
                self.build()
        if getattr(self.runner.venv, "_reused", True) is False:  # a new venv: nothing provisioned yet
            self._remove_marker()

    def build(self) -> None:
        """Let nox create the venv, or reuse it; while nox makes the folder, the half-built marker is beside it.

        ``.<name>.incomplete`` (:meth:`Marker.incomplete`, as for tox, hatch
        and poetry) is set before nox creates or recreates the venv and
        cleared once it has: a run killed meanwhile leaves it, and the next
        run rebuilds the venv (:meth:`rebuild_if_incomplete`).  A venv nox
        reuses is not marked: nothing of it changes.
        """
        assert self.environment is not None
        create = functools.partial(type(self.runner)._create_venv, self.runner)
        path = self.environment.path
        if os.path.lexists(path) and self.runner.reuse_existing_venv() and _reusable_venv(self.runner) is not None:
            create()  # nox reuses the folder as it is
            return
        marker = Marker.incomplete(path, tool="nox", holder=(os.getpid(), self.purpose))
        try:
            marker.set()
        except VenvlockError as error:
            _fail(error)
        try:
            create()
        except BaseException:
            if not os.path.lexists(path):  # nox made nothing: nothing is half-built
                marker.clear()
            raise
        fault_point("create", errors=True)  # test-only: the folder is there, still marked half-built
        marker.clear()

    def take_creation_lock(self) -> None:
        """Hold the creation lock of the session's venv until the run ends."""
        self.environment = Adapter.environment(self.envdir)
        try:
            # held (shared, once provisioned) through the session's commands: a recreating run waits for them all
            self._exclusive = self._stack.enter_context(
                self.adapter.creation_lock(self.environment, default_timeout=-1.0)
            )
        except VenvlockError as error:
            _fail(error)

    def reuse_shared(self) -> bool:
        """Reuse a completely provisioned venv under the creation lock's shared side; False when that cannot be.

        False (nothing held, nothing changed) unless nox is to reuse the venv,
        its provisioned marker is there, and nox's own checks (backend, links,
        interpreter) pass, so that nox will not delete it: then the venv is
        reused in place while other runs' commands use it.  While another run
        creates or provisions it, waits for that on the shared side and looks
        then, rather than queue for the exclusive side behind its commands.
        """
        if not self.runner.reuse_existing_venv():
            return False
        self.environment = Adapter.environment(self.envdir)
        ready = self.environment.exists() and self.complete()
        if not ready and Adapter.creation_holder(self.environment) is None:
            return False
        shared = contextlib.ExitStack()
        try:
            hold = shared.enter_context(self.adapter.using_lock(self.environment, default_timeout=-1.0))
        except VenvlockError as error:
            _fail(error)
        venv = _reusable_venv(self.runner) if hold.locked and self.complete() else None
        if venv is None:
            shared.close()
            return False
        self._stack.enter_context(shared)
        venv._clean_location = lambda: False  # checked above: nox reuses it, whatever happens; never deletes it
        _ = self.runner.envdir  # nox's own reading in _create_venv, which warns here of a name it hashed
        self.runner.venv = venv
        venv.create()
        return True

    def rebuild_if_incomplete(self) -> None:
        """Delete the venv when nox would reuse it but an earlier run left it half-made (a link: never).

        Only on evidence: the half-built marker of a creation that never
        finished (:meth:`build`), or the journal of an install that never
        finished.  A venv without either is reused as stock nox reuses it,
        whoever made it (stock nox before venvlock was adopted, a run whose
        install failed): its installs run again, as nox's do.
        """
        assert self.environment is not None
        if not self.environment.exists() or not self.runner.reuse_existing_venv():
            return  # nothing to reuse, or nox recreates it anyway
        if Marker.read_incomplete(self.environment.path) is not None:
            why = "was left half-built by an earlier run"
        elif Adapter.journal_present(self.environment):
            why = "was not completely provisioned by an earlier run (an install into it was interrupted)"
        else:
            return
        name = self.environment.name
        if os.path.islink(self.environment.path):
            _state.log(
                f"venvlock: {name} {why}, but it is a symbolic link: not rebuilt (venvlock deletes nothing "
                "through a link); nox reuses it as it is"
            )
            return
        _state.log(f"venvlock: {name} {why}; recreating it")
        remove_tree(self.environment.path)  # not following links: only the venv folder itself goes

    @contextlib.contextmanager
    def _environment_lock(self, what: str) -> Iterator[None]:
        assert self.environment is not None
        with self.adapter.environment_lock(self.environment, purpose=f"{self.purpose}: {what} the venv"):
            yield

    # ---------------------------------------------------------------------------------------------
    # the provisioned marker
    # ---------------------------------------------------------------------------------------------
    def installing(self) -> None:
        """An install into the venv is about to run: the venv is not provisioned until it ends well."""
        self._remove_marker()

    def install_ended(self, ok: bool) -> None:
        if not ok:
            self.install_failed = True

    def provisioned(self) -> None:
        """The session went on to its commands (or ended): mark the venv done, unless an install failed.

        Once marked, the creation lock's exclusive hold becomes the shared one
        (in one lock call): the commands run beside other runs that reuse the
        venv, and a run that would recreate it waits for them.
        """
        self._mark_provisioned()
        if self._marked and self._exclusive is not None:
            self._exclusive.downgrade()
            self._exclusive = None

    def _mark_provisioned(self) -> None:
        if self._marked or self.install_failed or self.environment is None:
            return
        if not self.environment.exists():
            return
        if self.marker.present():
            # an earlier run's, and nothing of this run removed it (an install or a new venv would have): this run
            # holds the creation lock, so nobody else did either.  Not rewritten: a no-op run writes nothing.
            self._marked = True
            return
        try:
            self.marker.set("provisioned\n")
        except VenvlockError as error:  # without the marker the next reuse rebuilds: slower, never wrong
            _state.log(f"venvlock: {error}; the next reuse rebuilds the venv")
            return
        self._marked = True

    def _remove_marker(self) -> None:
        self._marked = False
        if self.environment is None:
            return
        self.marker.clear()


def _fail(error: VenvlockError) -> NoReturn:
    """Fail this session the way nox fails one, with venvlock's message and no traceback."""
    from nox.command import CommandFailed

    _state.log(f"venvlock: {error}", error=True)
    raise CommandFailed(str(error)) from error


def envdir_of(runner: Any) -> str:
    """*runner*'s venv folder, read without nox's warnings: nox warns each time it computes the folder of a session
    whose name it hashes (too long, or no ASCII), and its own ``_create_venv`` reads it once, as without venvlock."""
    import logging

    logger = logging.getLogger("nox")
    disabled, logger.disabled = logger.disabled, True
    try:
        return str(os.fspath(runner.envdir))
    finally:
        logger.disabled = disabled


def _reusable_venv(runner: Any) -> Any:
    """The venv object nox's ``_create_venv`` makes for *runner*, not yet created, when nox will reuse the folder.

    None when nox would recreate it, or when nox's internals are not as this
    module knows them (the run then takes the exclusive lock, as always).
    """
    try:
        from nox.virtualenv import VirtualEnv

        sessions: Any = importlib.import_module("nox.sessions")  # get_virtualenv is not in its __all__
        config, func = runner.global_config, runner.func
        venv = sessions.get_virtualenv(
            *sessions.resolve_venv_backends(config, func),
            download_python=sessions.resolve_download_python(config, func),
            envdir=envdir_of(runner),
            reuse_existing=True,
            interpreter=func.python,
            venv_params=func.venv_params,
        )
        checks = [getattr(venv, f"_check_reused_environment_{what}") for what in ("type", "links", "interpreter")]
        if not isinstance(venv, VirtualEnv) or not all(check() for check in checks):  # nox's, in _clean_location
            return None
    except Exception:  # any surprise: the exclusive path, where nox decides as always
        return None
    return venv


def _shadow(runner: Any, name: str, replacement: Callable[[], None]) -> bool:
    """Set instance attribute *name* of *runner* to *replacement*; False when it takes no attributes."""
    try:
        setattr(runner, name, replacement)
    except AttributeError:
        return False
    return True


def _proxy_session_function(runner: Any) -> Callable[[], None] | None:
    """Have a plain ``@nox.session`` function receive the venvlock Session proxy for this run.

    nox calls ``runner.func(session)``; its ``Func.__call__`` calls ``Func.func``.
    Returns the function that undoes this, or None when ``Func`` is not as expected.
    """
    target = runner.func
    inner = vars(target).get("func") if hasattr(target, "__dict__") else None
    if not callable(inner):
        _state.warn_once("func", "cannot give plain @nox.session functions venvlock's Session; installs not skipped")
        return None

    @functools.wraps(inner)
    def proxying(session: Any, *args: Any, **kwargs: Any) -> Any:
        return call_with_proxy(inner, session, args, kwargs)

    target.func = proxying

    def restore() -> None:
        target.func = inner

    return restore
