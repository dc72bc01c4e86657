"""What a check and a sync found."""

from __future__ import annotations


class Verdict:
    """The answer of ``venvlock_check``.

    :ivar satisfied: True (nothing to install), False (install needed), None
        (cannot be judged exactly; the installer decides).
    :ivar checked: how many distributions the check looked at.
    :ivar reason: why not satisfied, or why it cannot be judged.
    :ivar damaged: folders of installed distributions found damaged (to repair before installing).
    """

    __slots__ = ("checked", "damaged", "reason", "satisfied")

    def __init__(
        self, satisfied: bool | None, *, checked: int = 0, reason: str = "", damaged: list[str] | None = None
    ) -> None:
        self.satisfied = satisfied
        self.checked = checked
        self.reason = reason
        self.damaged = damaged or []

    def __repr__(self) -> str:
        return f"Verdict({self.satisfied}, checked={self.checked}, reason={self.reason!r})"


class SyncResult:
    """The result of ``venvlock_sync``.

    :ivar returncode: the installer's exit code; 0 when nothing was to do.
    :ivar installed: whether the installer ran.
    :ivar checked: distributions checked by the last check (for "Checked N packages").
    :ivar seconds: wall time of the whole sync.
    :ivar waited: seconds spent waiting for the lock.
    :ivar recorded: whether the result was recorded as synced.
    """

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
