"""The drop-in ``session`` decorator and the ``Session`` proxy whose installs go through venvlock.

Use :func:`session` instead of ``@nox.session``; session functions then get a
:class:`Session`, a proxy of ``nox.Session`` whose installs
(:meth:`Session.install`, :meth:`Session.run_install`,
:meth:`Session.install_and_run_script`) hold the venv's environment lock and
skip the installer when venvlock finds the request already satisfied.
Everything else is nox's own.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
from typing import TYPE_CHECKING, Any, cast, overload

import nox

from venvlock.adapter import Adapter, ToolInstall, VenvlockError, installs_elsewhere
from venvlock.plugins.nox import _state

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    #: a session function
    Func = Callable[..., Any]

#: the variables of the installers' settings, which the check reads from ``os.environ``
_INSTALLER_PREFIXES = ("PIP_", "UV_")


@overload
def session(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...
@overload
def session(func: None = None, /, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]: ...


def session(func: Callable[..., Any] | None = None, /, *args: Any, **kwargs: Any) -> Any:
    """Drop-in replacement for the :func:`nox.session` decorator.

    Takes exactly what ``nox.session`` takes (``python=``, ``name=``,
    ``venv_backend=``, ``reuse_venv=``, ``tags=``, ``requires=``, ...), with
    or without parentheses, together with ``@nox.parametrize``.  The session
    function gets a :class:`Session` instead of ``nox.Session``, and its venv
    is protected: created, reused and provisioned by one run at a time.
    """
    if func is None:

        def decorate(function: Callable[..., Any]) -> Any:
            return session(function, *args, **kwargs)

        return decorate
    return nox.session(protect(func), *args, **kwargs)


def protect(function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a session function so that it gets a :class:`Session` and its session asks for protection."""
    if getattr(function, _state.PROTECT_ATTRIBUTE, False):
        return function

    @functools.wraps(function)
    def wrapper(session: nox.Session, *args: Any, **kwargs: Any) -> Any:
        return call_with_proxy(function, session, args, kwargs)

    setattr(wrapper, _state.PROTECT_ATTRIBUTE, True)
    return wrapper


def call_with_proxy(function: Func, session: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call a session function with a :class:`Session` proxy; mark the venv provisioned when it ends.

    It ends when it returns or raises an exception (``session.skip()``,
    ``session.error()``, a failed command): its installs that ran are done,
    and one that failed keeps the venv unmarked.  An interruption (Ctrl-C,
    ``SystemExit``) leaves it unmarked.
    """
    proxy = session if isinstance(session, Session) else Session(session)
    try:
        result = function(proxy, *args, **kwargs)
    except Exception:
        _provisioned()
        raise
    _provisioned()
    return result


def _provisioned() -> None:
    run = _state.current()
    if run is not None:
        run.provisioned()


class _SessionProxy:
    """Proxy for :class:`nox.Session`: every attribute not defined here is nox's."""

    def __init__(self, session: nox.Session) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class Session(_SessionProxy):
    """Proxy for :class:`nox.Session`, passed to session functions decorated with :func:`session`.

    Overrides the installs, which hold the venv's environment lock and skip the
    installer when the request is satisfied, and :meth:`run`, which marks the
    venv provisioned when the session moves on to its commands.
    """

    def __init__(self, session: nox.Session) -> None:
        super().__init__(session)
        self._run = _state.current()

    # ---------------------------------------------------------------------------------------------
    # installs
    # ---------------------------------------------------------------------------------------------
    def install(self, *args: str, **kwargs: Any) -> None:
        """Install packages into the session's venv as :meth:`nox.Session.install` does, under the venv lock.

        Skipped, with a line saying so, when venvlock finds everything asked
        for already installed (plain requirement specifiers, ``-r``/``-c``
        files).  Local paths, editables, URLs and anything unclear go to the
        installer (pip, or ``uv pip`` on the ``uv`` backend).  Paths are taken too, as nox takes them.
        """
        venv = self._virtualenv()
        words = _words(args)
        if venv is None or not words or self._nox_skips_installs(venv):
            self._by_nox(self._session.install, *args, **kwargs)  # nox's own rules: errors, --no-install
            return
        uv = venv.venv_backend == "uv"
        command = ["uv", "pip", "install"] if uv else ["python", "-m", "pip", "install"]

        def call(extra_env: Mapping[str, str]) -> Any:
            self._session.install(*args, **_with_env(kwargs, extra_env))
            return None

        self._sync(venv, words, call, command=[*command, *words], uv=uv, kwargs=kwargs, judge=True, takes_lock=uv)

    def run_install(self, *args: Any, **kwargs: Any) -> Any:
        """Run an install step, as :meth:`nox.Session.run_install` does, under the venv's lock.

        ``pip install ...``, ``python -m pip install ...`` and
        ``uv pip install ...`` are skipped when satisfied, like :meth:`install`,
        unless ``silent=True`` asks for the installer's output; any other
        command (a Python callable too, as nox takes one) always runs (under the lock).
        """
        venv = self._virtualenv()
        if venv is None or not args or self._nox_skips_installs(venv):
            return self._by_nox(self._session.run_install, *args, **kwargs)
        words = _words(args)
        if words is None:  # nox's callable form (or what nox alone makes sense of): run under the lock, as it is
            labels = [getattr(arg, "__name__", None) or repr(arg) for arg in args]

            def call_as_it_is(extra_env: Mapping[str, str]) -> Any:
                return self._session.run_install(*args, **_with_env(kwargs, extra_env))

            return self._sync(
                venv, [], call_as_it_is, command=labels, uv=False, kwargs=kwargs, judge=False, takes_lock=True
            )
        pip = _pip_install_args(words)
        uv = _program(words[0]) == "uv"
        if pip is not None and venv.venv_backend == "uv" and not uv and words[0] != "python":
            pip = None  # a uv venv has no pip: "pip" is someone else's
        target = None
        if pip is not None and not uv and not _runs_in(words[0], venv.location):
            # another interpreter's pip (external=True): not judged; locked where it installs, when that is known
            pip, target = None, _foreign_environment(words[0])

        judged = pip is not None and not kwargs.get("silent")  # silent=True: the caller wants the installer's output

        def call(extra_env: Mapping[str, str]) -> Any:
            return self._session.run_install(*args, **_with_env(kwargs, extra_env))

        return self._sync(
            venv,
            pip if pip is not None and judged else [],
            call,
            command=words,
            uv=uv,
            kwargs=kwargs,
            judge=judged,
            environment=target,
            # uv takes <venv>/.lock itself, and any other program may run uv: lend it the lock
            takes_lock=uv or pip is None,
        )

    def run_always(self, *args: str | os.PathLike[str], **kwargs: Any) -> Any:
        """An alias of :meth:`run_install`, as in nox."""
        return self.run_install(*args, **kwargs)

    def install_and_run_script(
        self, script: str | os.PathLike[str], *args: str | os.PathLike[str], **kwargs: Any
    ) -> Any:
        """Install a PEP 723 script's dependencies (skipped when satisfied) and run it, as nox does."""
        # nox's own implementation, with this proxy as ``self``: its ``self.install`` and
        # ``self.run`` are the ones above, everything else is delegated to nox.
        return nox.Session.install_and_run_script(cast("nox.Session", self), script, *args, **kwargs)

    def run(self, *args: str | os.PathLike[str], **kwargs: Any) -> Any:
        """Run a command, as :meth:`nox.Session.run` does.

        The first command marks the venv provisioned: a later run that reuses
        the venv (``-r``/``-R``) trusts it only after that.
        """
        if self._run is not None:
            self._run.provisioned()
        return self._session.run(*args, **kwargs)

    # ---------------------------------------------------------------------------------------------
    def _by_nox(self, install: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """An install left to nox as it is; one that fails keeps the venv from being marked provisioned."""
        try:
            return install(*args, **kwargs)
        except BaseException:
            if self._run is not None:
                self._run.install_ended(False)
            raise

    def _virtualenv(self) -> Any:
        """The session's venv when it is one this adapter locks (virtualenv, venv, uv), else None."""
        from nox.virtualenv import VirtualEnv

        try:
            venv = self._session.virtualenv
        except ValueError:  # no venv at all
            return None
        return venv if isinstance(venv, VirtualEnv) and getattr(venv, "location", None) else None

    def _nox_skips_installs(self, venv: Any) -> bool:
        """``--no-install``/``-R`` on a reused venv: nox skips installs, and so does the proxy.

        When nox's objects do not tell, say yes: the install then goes to nox
        unchanged (unprotected, never wrong).
        """
        config = getattr(getattr(self._session, "_runner", None), "global_config", None)
        no_install = getattr(config, "no_install", None)
        reused = getattr(venv, "_reused", None)
        if no_install is None or reused is None:
            _state.warn_once("no_install", "cannot read nox's --no-install state; installs are not locked")
            return True
        return bool(no_install and reused)

    def _sync(
        self,
        venv: Any,
        pip_args: list[str],
        call: Callable[[Mapping[str, str]], Any],
        *,
        command: list[str],
        uv: bool,
        kwargs: Mapping[str, Any],
        judge: bool,
        takes_lock: bool,
        environment: Any = None,
    ) -> Any:
        """Install through venvlock's sync: lock, check, and *call* nox's install only if needed.

        *environment* is the one the install goes to, when not the session's venv.
        """
        environment = environment or Adapter.environment(venv.location)
        effective = _effective_env(self._session.env, kwargs)

        def judged() -> bool:  # pip's options are read only when no fast-path entry proves the install
            return not installs_elsewhere(pip_args, uv=uv)  # uv is takes_lock when judged: both key the entries

        run = self._run

        def install() -> Any:
            ok = False
            if run is not None:
                run.installing()
            try:
                value = call({})
                ok = True
                return value
            finally:
                if run is not None:
                    run.install_ended(ok)

        tool = ToolInstall(install, failures=(nox.command.CommandFailed,))  # its return_code, when it has one
        adapter = Adapter("nox", purpose=f"{_state.nox_purpose(self._session.name)}: {shlex.join(command)}")
        try:
            with _pip_settings_as(effective):
                asked = judged if judge else False
                result = adapter.sync(environment, pip_args, install=tool, judge=asked, installer_takes_lock=takes_lock)
        except VenvlockError as error:
            if run is not None:
                run.install_ended(False)
            _state.log(f"venvlock: {error}", error=True)
            raise nox.command.CommandFailed(str(error)) from error
        tool.reraise()
        if result.returncode != 0:
            if run is not None:
                run.install_ended(False)
            code = result.returncode
            raise nox.command.CommandFailed(f"Returned code {code}", return_code=code)
        if tool.ran:
            return tool.value
        if kwargs.get("log", True):  # nox's log=False: the command is not logged
            self._session.log(f"{shlex.join(command)} (already satisfied, skipped by venvlock: {_checked(result)})")
        return True


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _checked(result: Any) -> str:
    count = getattr(result, "checked", 0)
    return f"{count} package{'s' if count != 1 else ''} checked"


def _with_env(kwargs: Mapping[str, Any], extra: Mapping[str, str]) -> dict[str, Any]:
    if not extra:
        return dict(kwargs)
    env = dict(kwargs.get("env") or {})
    for key, value in extra.items():
        env.setdefault(key, value)
    return {**kwargs, "env": env}


def _words(args: tuple[Any, ...]) -> list[str] | None:
    """The arguments of an install as the command line's words (nox takes paths too); None when one is neither a
    string nor a path (nox's callable form of ``run_install``)."""
    words = [os.fspath(arg) if isinstance(arg, os.PathLike) else arg for arg in args]
    return words if all(isinstance(word, str) for word in words) else None


def _program(word: str) -> str:
    name = os.path.basename(word).lower()
    return name[:-4] if name.endswith(".exe") else name


def _pip_install_args(words: list[str]) -> list[str] | None:
    """The ``pip install`` arguments of a command line that is a pip (or ``uv pip``) install, else None."""
    program = _program(words[0])
    if program in ("pip", "pip3") or (program.startswith("pip3.") and program[5:].isdigit()):
        rest = words[1:]
    elif program.startswith("python") and words[1:3] == ["-m", "pip"]:
        rest = words[3:]
    elif program == "uv" and words[1:2] == ["pip"]:
        rest = words[2:]
    else:
        return None
    return rest[1:] if rest[:1] == ["install"] else None


def _foreign_environment(program: str) -> Any:
    """The environment a Python (or a pip script) outside the session venv installs into, or None when unclear."""
    import shutil

    path = program if os.sep in program else shutil.which(program)
    if not path:
        return None
    name = _program(path)
    python = path if name.startswith("python") else os.path.join(os.path.dirname(path), "python")
    try:
        return Adapter.environment_of_python(python)
    except VenvlockError:
        return None


def _runs_in(program: str, location: str) -> bool:
    """Whether *program* (``python``, ``pip``, a path) is the venv's own, as nox finds it (venv's bin first)."""
    bin_dir = os.path.join(location, "Scripts" if os.name == "nt" else "bin")
    if os.sep in program or (os.altsep and os.altsep in program):
        return os.path.abspath(os.path.dirname(program)) == os.path.abspath(bin_dir)
    names = [program, program + ".exe"] if os.name == "nt" else [program]
    return any(os.path.isfile(os.path.join(bin_dir, name)) for name in names)


def _effective_env(session_env: Mapping[str, str | None], kwargs: Mapping[str, Any]) -> dict[str, str]:
    """The ``PIP_*``/``UV_*`` variables the installer will see (nox's merge of its env layers)."""
    merged: dict[str, str | None] = {}
    if kwargs.get("include_outer_env", True):
        merged.update(os.environ)
    merged.update(session_env)
    merged.update(kwargs.get("env") or {})
    return {k: v for k, v in merged.items() if v is not None and k.startswith(_INSTALLER_PREFIXES)}


@contextlib.contextmanager
def _pip_settings_as(effective: Mapping[str, str]) -> Iterator[None]:
    """Make ``os.environ``'s ``PIP_*``/``UV_*`` variables those the installer sees, so the check reads them.

    nox gives the installer ``os.environ`` overlaid with the session's and the
    call's ``env``; venvlock's check reads ``os.environ``.  Restored after.
    """
    wanted = dict(effective)
    saved = {k: v for k, v in os.environ.items() if k.startswith(_INSTALLER_PREFIXES)}
    if saved == wanted:
        yield
        return
    for key in saved:
        del os.environ[key]
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith(_INSTALLER_PREFIXES)]:
            del os.environ[key]
        os.environ.update(saved)
