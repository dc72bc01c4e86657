"""What is asked of an environment: one request to sync it (pip arguments, or an adapter's own installer)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from venvlock._pip.requirements import ParsedRequest
    from venvlock.core._environment import Environment


class SyncRequest:
    """One request to sync an environment: the arguments of pip *command* (after the command word).

    :param installer: the adapter's own way to install (hatch's, nox's), returning an exit code; None: the
        ``venvlock_install`` hook chooses (pip by default).
    :param quiet: no waiting line and no "Checked" line.
    :param purpose: how a waiting process names this holder (default: this command line).
    :param judge: False when only the installer can say whether anything is to do.
    :param installer_takes_lock: the installer takes ``<env>/.lock`` itself (uv): the core lends it that lock
        while it runs and keeps venvlock's sync lock (``LockHold.lend``).
    :param pip: the command that runs pip, when not the environment's ``python -m pip`` (it has no pip).
    :ivar parsed: the one reading of this request (:meth:`read`), so that every check of a sync judges the same.
    """

    __slots__ = (
        "args",
        "command",
        "cwd",
        "installer",
        "installer_takes_lock",
        "judge",
        "parsed",
        "pip",
        "purpose",
        "quiet",
    )

    def __init__(
        self,
        args: list[str],
        *,
        command: str = "install",
        cwd: str | None = None,
        installer: Callable[[], int] | None = None,
        quiet: bool = False,
        purpose: str | None = None,
        judge: bool = True,
        installer_takes_lock: bool = False,
        pip: list[str] | None = None,
    ) -> None:
        self.args = list(args)
        self.command = command
        self.cwd = cwd or os.getcwd()
        self.installer = installer
        self.quiet = quiet
        self.purpose = purpose
        self.judge = judge
        self.installer_takes_lock = installer_takes_lock
        self.pip = pip
        self.parsed: ParsedRequest | None = None

    def read(self, environment: Environment, *, again: bool = False) -> ParsedRequest:
        """The one reading of this request for *environment* (:attr:`parsed`), as pip reads it (*again*: anew)."""
        if again or self.parsed is None or self.parsed.environment_path != environment.path:
            from venvlock._pip.requirements import parse_request

            self.parsed = parse_request(self.args, self.cwd, environment)
        return self.parsed

    def uv_cannot_judge(self) -> str:
        """Why the check cannot judge this request: uv installs it, with settings of its own ("" when it can)."""
        from venvlock._uv import changes_meaning, pip_only_options

        if not self._uv_installs():
            return ""
        rejected = pip_only_options(self.args)
        if rejected:
            return f"uv installs, and uv does not take {', '.join(rejected)}"
        if changes_meaning(os.environ, self.cwd):
            return "uv installs, and uv settings change what the request means"
        return ""

    def uv_settings_files(self) -> list[str]:
        """The uv configuration files :meth:`uv_cannot_judge` reads (none when pip installs)."""
        from venvlock._uv import settings_files

        return settings_files(os.environ, self.cwd) if self._uv_installs() else []

    def _uv_installs(self) -> bool:
        from venvlock.core._settings import installer

        return self.installer_takes_lock or (self.installer is None and installer() == "uv")

    def fast_key_words(self) -> list[str]:
        """What the key of a fast-path entry for this request (:func:`venvlock._fast.entry_key`) covers of it.

        All that can change the check's answer besides the environment, the working folder, the process and the
        variables, which the key covers itself: the command, who installs (uv's settings count when uv does), the
        pip that runs, the arguments.
        """
        from venvlock._fast import request_words

        return request_words(self.command, self.installer is not None, self.installer_takes_lock, self.pip, self.args)

    def installer_command(self, python: str) -> list[str]:
        """The whole pip command line of this request for an environment whose interpreter is *python*."""
        prefix = self.pip or [python, "-m", "pip"]
        return [*prefix, *([self.command] if self.command else []), *self.args]

    def __repr__(self) -> str:
        return f"SyncRequest({self.args!r}, command={self.command!r})"
