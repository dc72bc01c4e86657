"""Running an installer child under a held lock: it keeps the lock if its parent dies; Ctrl-C waits for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from venvlock.core._lock import LockHold

#: how long a holder waits for its installer child after Ctrl-C before it kills it (then releases the lock)
CHILD_GRACE_SECONDS = 10.0
#: how long the child gets to end on the Ctrl-C of the terminal before this process forwards it
_FORWARD_AFTER = 0.5
#: the signal forwarded to the installer child: Ctrl-C
_INTERRUPT = getattr(signal, "CTRL_C_EVENT", signal.SIGINT) if os.name == "nt" else signal.SIGINT
#: signals that end a process by default: sent to this process alone, they reach the installer child too
_TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if os.name != "nt")


def run_installer(command: Sequence[str], hold: LockHold) -> int:
    """Run an installer child under *hold*; its exit code (128+N when signal N ended it, as a shell says).

    The child inherits the locked descriptors (killed, this process leaves the lock to it), and its
    ``VENVLOCK_HELD`` names the calling thread's locks only.  On Ctrl-C (a SIGINT to this process alone is
    forwarded after a moment) the ``KeyboardInterrupt`` goes on only once the child has ended, killed after
    :data:`CHILD_GRACE_SECONDS`: a lock never frees while its installer still writes.  A SIGTERM or SIGHUP
    (:func:`_forwarding`) is passed on to the child at once, and this process ends by it once the child has.
    """
    from venvlock.core._nesting import child_environ

    pass_fds = (*hold.fds, *_named_descriptors(command)) if os.name != "nt" else ()
    try:
        child = subprocess.Popen(list(command), pass_fds=pass_fds, env=child_environ())
    except OSError as error:
        print(f"venvlock: cannot run {command[0]}: {error.strerror}", file=sys.stderr)
        return 1
    received: list[int] = []
    with _forwarding(child, received):
        try:
            code = child.wait()
        except KeyboardInterrupt:
            _stop(child)
            raise
    if received:  # ended as it would have without an installer child, now that the child no longer writes
        from venvlock.core._holder import remove_own_holders

        remove_own_holders()
        os.kill(os.getpid(), received[0])
    return 128 - code if code < 0 else code  # ended by signal N: the shell's 128+N, as scripts read it


#: how a command names a descriptor of its own as a file: ``-r <(...)`` gives ``/dev/fd/63``
_DESCRIPTOR_PREFIXES = ("/dev/fd/", "/proc/self/fd/")


def _named_descriptors(command: Sequence[str]) -> list[int]:
    """The open descriptors of this process that *command* names as files (``/dev/fd/N``, in any argument, as
    ``--requirement=/dev/fd/63``): the child inherits them, as the installer run from the shell would."""
    found = []
    for arg in command:
        for prefix in _DESCRIPTOR_PREFIXES:
            at = arg.find(prefix)
            digits = arg[at + len(prefix) :] if at >= 0 else ""
            if digits.isdigit() and int(digits) > 2:
                try:
                    os.fstat(int(digits))
                except OSError:
                    continue
                found.append(int(digits))
    return found


@contextmanager
def _forwarding(child: subprocess.Popen[bytes], received: list[int]) -> Iterator[None]:
    """While inside, a SIGTERM or SIGHUP this process would die of (its handler the default) goes to *child*
    instead, and into *received*: stock pip stops on it, so its installer must too, and the lock stays held
    until the child has ended (the caller then delivers the signal to itself again).  Only in the main thread;
    a handler a host tool set is left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        try:
            child.send_signal(signum)
        except OSError:
            pass

    previous = {signum: signal.getsignal(signum) for signum in _TERMINATING}
    taken = [signum for signum, handler in previous.items() if handler == signal.SIG_DFL]
    for signum in taken:
        signal.signal(signum, forward)
    try:
        yield
    finally:
        for signum in taken:
            signal.signal(signum, signal.SIG_DFL)


def _stop(child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + CHILD_GRACE_SECONDS
    try:
        for step in (_FORWARD_AFTER, CHILD_GRACE_SECONDS):
            try:
                child.wait(timeout=max(min(step, deadline - time.monotonic()), 0.0))
                return
            except subprocess.TimeoutExpired:
                if step == _FORWARD_AFTER:
                    try:
                        child.send_signal(_INTERRUPT)
                    except OSError:
                        pass
    except KeyboardInterrupt:  # Ctrl-C again: stop being polite
        pass
    print("venvlock: the installer did not stop after Ctrl-C; killing it", file=sys.stderr, flush=True)
    child.kill()
    while True:
        try:
            child.wait()
            return
        except KeyboardInterrupt:
            continue
