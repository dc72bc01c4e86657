"""Who holds a lock: the holder files beside it, how holders describe themselves, and credential redaction.

The *holder file* ``<lock>.holder`` (``<lock>.holder.<pid>`` for each shared
holder) says which process holds a lock and what it is doing
(``<pid>\\n<description>\\n``), so that waiters can name it; the holder
writes it (a new file, never through a symbolic link) after locking and
removes it before releasing.  Every description written, read or printed is
redacted as pip redacts URLs (``https://user:****@host``): other local users
can read holder files and waiting lines, never a credential.
"""

from __future__ import annotations

import os
import sys

from venvlock.core._files import read_file, remove_file, write_file

if sys.platform == "win32":
    from venvlock.core._windows import pid_alive
else:
    from venvlock.core._unix import pid_alive

__all__ = ["Holder", "redact"]


def redact(text: str) -> str:
    """*text* (a description, a command line) with credentials redacted (:func:`venvlock._pip.redact.redact_text`).

    Every credential pip redacts stands before an ``@``: without one the text is returned as it is, and the
    redaction module (with pip's option table behind it) is not loaded.
    """
    if "@" not in text:
        return text
    from venvlock._pip.redact import redact_text

    return redact_text(text)


class Holder:
    """Who holds a lock, as its holder file says: the process, its description, whether it still runs.

    A holder that no longer runs left the lock to a child of its own.
    """

    __slots__ = ("alive", "command", "pid")

    def __init__(self, pid: int, command: str, alive: bool) -> None:
        self.pid, self.command, self.alive = pid, command, alive

    def __repr__(self) -> str:
        return f"Holder(pid={self.pid}, command={self.command!r}, alive={self.alive})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Holder) and (self.pid, self.command) == (other.pid, other.command)

    def __hash__(self) -> int:
        return hash((self.pid, self.command))


def describe_command(argv: list[str]) -> str:
    """*argv* as one line a shell would take back (``shlex.join``), the program by its base name, redacted.

    As :func:`redact`: the redaction runs only when an argument holds an ``@`` (a long option alone would load pip's
    option table to find whether its value is a URL; without an ``@`` no value holds a credential).
    """
    import shlex

    words = list(argv) or [sys.executable]
    words[0] = os.path.basename(words[0]) or words[0]
    if not any("@" in word for word in words):
        return shlex.join(words)
    from venvlock._pip.redact import redact_command

    return redact_command(words)


def default_purpose() -> str:
    """This process's command line (``sys.argv``), as holders describe themselves by default."""
    return describe_command(list(sys.argv))


def describe_holder(holder: Holder | None) -> str:
    """The holder as the waiting line names it."""
    if holder is None:
        return "another process (uv, or one that did not say who it is)"
    if holder.alive:
        return f"pid {holder.pid}: {redact(holder.command)}"
    return f"a child of pid {holder.pid}, which has exited: {redact(holder.command)}"


def holder_path(lock_path: str) -> str:
    return lock_path + ".holder"


def shared_holder_path(lock_path: str, pid: int | None = None) -> str:
    """The holder file of the shared holder *pid* (default: this process): each shared holder has its own."""
    return f"{lock_path}.holder.{os.getpid() if pid is None else pid}"


def _read(path: str, pid: int | None = None) -> Holder | None:
    """The holder the file *path* names (it must name *pid* when given); None when unknown."""
    pid_line, _, command = (read_file(path) or "").partition("\n")
    pid_line = pid_line.strip()
    if not pid_line.isdigit() or (pid is not None and int(pid_line) != pid):
        return None
    return Holder(int(pid_line), redact(command.strip()), pid_alive(int(pid_line)))


def read_holder(lock_path: str) -> Holder | None:
    """Who holds *lock_path* exclusively, from its holder file; None when unknown (never follows a link)."""
    return _read(holder_path(lock_path))


def _shared_holder_files(lock_path: str) -> list[tuple[str, int]]:
    """The shared holder files beside *lock_path* (``<lock>.holder.<pid>``), with the pid each is named after."""
    folder, base = os.path.split(lock_path)
    prefix = base + ".holder."
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    return [
        (os.path.join(folder, name), int(name[len(prefix) :]))
        for name in names
        if name.startswith(prefix) and name[len(prefix) :].isdigit()
    ]


def shared_holders(lock_path: str) -> list[Holder]:
    """The live processes that say they hold *lock_path* shared, oldest holder file first."""
    found: list[tuple[float, Holder]] = []
    for path, pid in _shared_holder_files(lock_path):
        holder = _read(path, pid)
        try:
            if holder is not None and holder.alive:
                found.append((os.stat(path, follow_symlinks=False).st_mtime, holder))
        except OSError:
            continue
    return [holder for _, holder in sorted(found, key=lambda item: item[0])]


def describe_busy(lock_path: str, holder: Holder | None) -> str:
    """Who holds the busy *lock_path*, as every waiting line and the timeout name it: *holder*, else its readers."""
    if holder is not None:
        return describe_holder(holder)
    readers = shared_holders(lock_path)
    if not readers:
        return describe_holder(None)
    more = f" and {len(readers) - 1} more" if len(readers) > 1 else ""
    return f"{describe_holder(readers[0])}{more}, running commands"


#: the holder files this process wrote and has not removed yet (:func:`remove_own_holders`)
_written: set[str] = set()


def write_holder(path: str, purpose: str) -> None:
    """Say in the holder file *path* that this process holds a lock for *purpose* (redacted); a failure is ignored."""
    first_line = redact(purpose).replace("\n", " ").replace("\r", " ")
    try:
        write_file(path, f"{os.getpid()}\n{first_line}\n", mode=0o644)
    except OSError:
        return
    _written.add(path)


def remove_holder(path: str) -> None:
    """Remove the holder file *path* this process wrote (it no longer holds that lock)."""
    _written.discard(path)
    remove_file(path)


def remove_stale_shared_holders(lock_path: str) -> None:
    """Holding *lock_path* exclusively: nobody holds it shared, so every shared holder file beside it was left by a
    process killed while it held the lock (SIGKILL, a CI job's timeout): remove them, or they pile up."""
    for path, _pid in _shared_holder_files(lock_path):
        remove_file(path)


def remove_own_holders() -> None:
    """Remove every holder file this process wrote: it is about to end by a signal, without unwinding its holds
    (the kernel releases their locks), and a holder file left behind would name it to every later waiter."""
    for path in list(_written):
        remove_holder(path)
