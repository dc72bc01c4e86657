"""What the nox adapter's two halves share: which sessions asked for protection, the run in progress, messages.

The decorator and proxy (:mod:`.proxy`) and the runner patch
(:mod:`._patch`) both import this module; the patch imports the proxy, and
nothing imports the patch back: the proxy reaches the run in progress (a
``ProtectedRun`` of the patch) only as the :class:`RunInProgress` it
registered here.  The state lives on the patched
``SessionRunner.execute`` too, so that a second import of this package (nox
imports a noxfile anew for each parametrized call in some versions) shares it
(:func:`adopt`).
"""

from __future__ import annotations

import shlex
import sys
import warnings
from typing import Any, Protocol

#: attribute set on session functions that asked for protection; survives into nox's ``Func``/``Call``
PROTECT_ATTRIBUTE = "__venvlock_protect__"


class VenvlockNoxWarning(RuntimeWarning):
    """nox is not as venvlock's adapter expects; sessions run unprotected."""


class RunInProgress(Protocol):
    """What the proxy tells the protected session run in progress (the patch's ``ProtectedRun``)."""

    def installing(self) -> None:
        """An install into the venv is about to run."""

    def install_ended(self, ok: bool) -> None:
        """That install ended, well or not."""

    def provisioned(self) -> None:
        """The session went on to its commands (or ended): the venv is complete, unless an install failed."""


class State:
    """What the adapter keeps between calls in one process."""

    def __init__(self) -> None:
        self.protect_all = False
        self.warned: set[str] = set()
        self.current: list[RunInProgress] = []


#: this process's state (replaced by :func:`adopt` when an earlier import's patch is in place)
state = State()


def adopt(shared: Any) -> None:
    """Share *shared*, the state of a patch applied by an earlier import, keeping what this import set."""
    global state
    if not (hasattr(shared, "current") and hasattr(shared, "warned")) or shared is state:
        return
    shared.warned.update(state.warned)
    shared.protect_all = shared.protect_all or state.protect_all
    state = shared


def protect_all() -> None:
    """Protect every session of this noxfile, also those decorated with plain ``@nox.session``.

    Call it anywhere in the noxfile (the top is clearest).  Their session
    functions get the same :class:`venvlock.plugins.nox.Session` proxy as
    sessions decorated with :func:`venvlock.plugins.nox.session`.
    """
    state.protect_all = True


def current() -> RunInProgress | None:
    """The protected session run in progress in this process, if any."""
    return state.current[-1] if state.current else None


def warn_once(key: str, message: str) -> None:
    """Warn with *message* the first time *key* comes up in this process."""
    if key in state.warned:
        return
    state.warned.add(key)
    warnings.warn(f"venvlock: {message}", VenvlockNoxWarning, stacklevel=3)


def nox_purpose(session_name: str) -> str:
    """How a holder from this nox process names itself: nox's real command line and the session."""
    from venvlock.adapter import command_label

    return f"{command_label('nox')} (session {shlex.quote(session_name)})"


def log(message: str, *, error: bool = False) -> None:
    """A line in nox's log (an error or a warning)."""
    try:
        from nox.logger import logger
    except ImportError:  # pragma: no cover - nox always has it
        print(message, file=sys.stderr)
        return
    (logger.error if error else logger.warning)(message)
