"""What a check and a sync found."""

from __future__ import annotations

import enum


class Outcome(enum.Enum):
    """What a check concluded: one of three, never a flag."""

    #: the request is met: nothing to install (pip's "already satisfied")
    SATISFIED = "satisfied"
    #: something is missing, too old or damaged: the installer must run
    INSTALL_NEEDED = "install needed"
    #: the check cannot tell exactly (the request or the environment is beyond it): the installer runs and decides
    CANNOT_JUDGE = "cannot judge"


class Verdict:
    """The answer of ``venvlock_check``: :meth:`already_satisfied`, :meth:`install_needed` or :meth:`cannot_judge`.

    ``Verdict(True/False/None)`` and :meth:`nothing_to_do` are venvlock 0.x's spellings, still accepted.
    *checked*: how many distributions the check looked at; *damaged*: the damaged folders it found (the
    installer meets them, as without venvlock; ``venvlock repair`` puts them right).
    """

    __slots__ = ("checked", "damaged", "outcome", "reason")

    def __init__(
        self,
        outcome: Outcome | bool | None,
        *,
        checked: int = 0,
        reason: str = "",
        damaged: list[str] | None = None,
    ) -> None:
        self.outcome = outcome if isinstance(outcome, Outcome) else _LEGACY[outcome]
        self.checked = checked
        self.reason = reason
        self.damaged = damaged or []

    @classmethod
    def already_satisfied(cls, *, checked: int) -> Verdict:
        return cls(Outcome.SATISFIED, checked=checked)

    @classmethod
    def nothing_to_do(cls, *, checked: int) -> Verdict:
        """:meth:`already_satisfied` as venvlock 0.x spelt it."""
        return cls.already_satisfied(checked=checked)

    @classmethod
    def install_needed(cls, reason: str, *, checked: int = 0, damaged: list[str] | None = None) -> Verdict:
        return cls(Outcome.INSTALL_NEEDED, checked=checked, reason=reason, damaged=damaged)

    @classmethod
    def cannot_judge(cls, reason: str) -> Verdict:
        """The check cannot tell, for *reason*: the installer runs and decides, as without venvlock."""
        return cls(Outcome.CANNOT_JUDGE, reason=reason)

    @property
    def satisfied(self) -> bool:
        """Only a clear :attr:`Outcome.SATISFIED`: never a guess."""
        return self.outcome is Outcome.SATISFIED

    def __repr__(self) -> str:
        return f"Verdict({self.outcome}, checked={self.checked}, reason={self.reason!r})"


_LEGACY = {True: Outcome.SATISFIED, False: Outcome.INSTALL_NEEDED, None: Outcome.CANNOT_JUDGE}


class SyncResult:
    """The result of ``venvlock_sync``: the installer's *returncode* (0 when nothing was to do), whether it ran
    (*installed*), the distributions of the last check (*checked*), the seconds of the sync and of its wait for the
    lock, whether the result was *recorded* as synced."""

    __slots__ = ("checked", "installed", "recorded", "returncode", "seconds", "waited")

    def __init__(
        self,
        returncode: int,
        *,
        installed: bool,
        checked: int = 0,
        seconds: float = 0.0,
        waited: float = 0.0,
        recorded: bool = False,
    ) -> None:
        self.returncode = returncode
        self.installed = installed
        self.checked = checked
        self.seconds = seconds
        self.waited = waited
        self.recorded = recorded

    def __repr__(self) -> str:
        return f"SyncResult(returncode={self.returncode}, installed={self.installed}, checked={self.checked})"
