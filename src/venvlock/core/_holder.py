"""Who holds a lock: the holder files beside it, how holders describe themselves, and credential redaction.

The *holder file* ``<lock>.holder`` (``<lock>.holder.<pid>`` for each shared holder)
says which process holds a lock and what
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

from venvlock.core._files import read_file, write_file

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
    from venvlock._pip.redact import redact_text

    return redact_text(text)


def describe_command(argv: list[str]) -> str:
    """*argv* as one line a shell would take back (``shlex.join``), the program by its base name, redacted."""
    from venvlock._pip.redact import redact_command

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


def shared_holder_path(lock_path: str, pid: int | None = None) -> str:
    """The holder file of the shared holder *pid* (default: this process): each shared holder has its own."""
    return f"{lock_path}.holder.{os.getpid() if pid is None else pid}"


def shared_holders(lock_path: str) -> list[Holder]:
    """The live processes that say they hold *lock_path* shared, oldest holder file first."""
    folder, base = os.path.split(lock_path)
    prefix = base + ".holder."
    try:
        names = [name for name in os.listdir(folder or ".") if name.startswith(prefix)]
    except OSError:
        return []
    found: list[tuple[float, Holder]] = []
    for name in names:
        pid_text = name[len(prefix) :]
        path = os.path.join(folder, name)
        text = read_file(path) if pid_text.isdigit() else None
        if text is None:
            continue
        pid_line, _, command = text.partition("\n")
        if pid_line.strip() != pid_text or not pid_alive(int(pid_text)):
            continue
        try:
            stamp = os.stat(path, follow_symlinks=False).st_mtime
        except OSError:
            continue
        found.append((stamp, Holder(int(pid_text), command.strip(), True)))
    found.sort(key=lambda item: item[0])
    return [holder for _, holder in found]


def describe_shared_holders(holders: list[Holder]) -> str:
    """The shared holders as a waiting line names them."""
    if not holders:
        return describe_holder(None)
    first = describe_holder(holders[0])
    if len(holders) == 1:
        return f"{first}, running commands"
    return f"{first} and {len(holders) - 1} more, running commands"


def describe_busy(lock_path: str, holder: Holder | None) -> str:
    """Who holds the busy *lock_path*, as every waiting line and the timeout name it: *holder*, else its readers."""
    if holder is not None:
        return describe_holder(holder)
    return describe_shared_holders(shared_holders(lock_path))


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


def write_holder(path: str, purpose: str) -> None:
    """Say in the holder file *path* that this process holds a lock for *purpose* (redacted); a failure is ignored."""
    first_line = redact(purpose).replace("\n", " ").replace("\r", " ")
    try:
        write_file(path, f"{os.getpid()}\n{first_line}\n", mode=0o644)
    except OSError:
        pass
