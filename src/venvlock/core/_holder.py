"""Who holds a lock: the holder file beside it, how holders describe themselves, and credential redaction.

The *holder file* ``<lock>.holder`` says which process holds a lock and what
it is doing (``<pid>\\n<description>\\n``), so that waiters can name it.  It
is written through :func:`venvlock.core._files.write_file` (a new file,
never through a symbolic link, mode 0644) after the lock is taken, and
removed before it is released.

Every description that is written or printed goes through :func:`redact`
first: the password of ``https://user:password@host`` in an index URL or a
requirement URL becomes ``****``, as pip shows it.  Other local users can
read holder files and waiting lines; they never see a credential.
"""

from __future__ import annotations

import os
import sys

from venvlock.core._files import read_file, remove_file, write_file

if sys.platform == "win32":
    from venvlock.core._windows import pid_alive
else:
    from venvlock.core._unix import pid_alive


class Holder:
    """Who holds a lock, as its holder file says.

    :ivar pid: the holding process.
    :ivar command: its description (credentials redacted).
    :ivar alive: whether that process still runs (else a child of it holds the lock).
    """

    __slots__ = ("alive", "command", "pid")

    def __init__(self, pid: int, command: str, alive: bool) -> None:
        self.pid = pid
        self.command = command
        self.alive = alive

    def __repr__(self) -> str:
        return f"Holder(pid={self.pid}, command={self.command!r}, alive={self.alive})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Holder) and (self.pid, self.command) == (other.pid, other.command)

    def __hash__(self) -> int:
        return hash((self.pid, self.command))


def redact(text: str) -> str:
    """*text* with the credentials of every URL in it hidden, as pip's ``redact_auth_from_url`` does.

    ``scheme://user:password@host`` becomes ``scheme://user:****@host``;
    ``scheme://token@host`` (a lone user part, often a token) becomes
    ``scheme://****@host``.  Anything else is left as it is.
    """
    from venvlock.core._redact import redact_text

    return redact_text(text)


def describe_command(argv: list[str]) -> str:
    """*argv* as one line a shell would take back (``shlex.join``), the program by its base name, redacted."""
    from venvlock.core._redact import redact_command

    words = list(argv) or [sys.executable]
    words[0] = os.path.basename(words[0]) or words[0]
    return redact_command(words)


def default_purpose() -> str:
    """This process's command line (``sys.argv``), as holders describe themselves by default."""
    return describe_command(list(sys.argv))


def describe_holder(holder: Holder | None) -> str:
    """The holder as the waiting line names it."""
    if holder is None:
        return "another process (uv, or one that did not say who it is)"
    command = redact(holder.command)
    if holder.alive:
        return f"pid {holder.pid}: {command}"
    return f"a child of pid {holder.pid}, which has exited: {command}"


def holder_path(lock_path: str) -> str:
    return lock_path + ".holder"


def read_holder(lock_path: str) -> Holder | None:
    """Who holds *lock_path*, from its holder file; None when unknown (never follows a link)."""
    text = read_file(holder_path(lock_path))
    if text is None:
        return None
    pid_line, _, command = text.partition("\n")
    try:
        pid = int(pid_line)
    except ValueError:
        return None
    return Holder(pid, command.strip(), pid_alive(pid))


def write_holder(lock_path: str, purpose: str) -> None:
    """Say that this process holds *lock_path* for *purpose* (redacted); a failure is ignored (a courtesy)."""
    first_line = redact(purpose).replace("\n", " ").replace("\r", " ")
    try:
        write_file(holder_path(lock_path), f"{os.getpid()}\n{first_line}\n", mode=0o644)
    except OSError:
        pass


def remove_holder(lock_path: str) -> None:
    remove_file(holder_path(lock_path))
