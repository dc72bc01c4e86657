"""Running an installer child under a held lock: it keeps the lock if its parent dies; Ctrl-C waits for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from venvlock.core._lock import LockHold

#: how long a holder waits for its installer child after Ctrl-C before it kills it (then releases the lock)
CHILD_GRACE_SECONDS = 10.0
#: how long the child gets to end on the Ctrl-C of the terminal before this process forwards it
_FORWARD_AFTER = 0.5
#: the signal forwarded to the installer child: Ctrl-C
_INTERRUPT = getattr(signal, "CTRL_C_EVENT", signal.SIGINT) if os.name == "nt" else signal.SIGINT


def run_installer(command: Sequence[str], hold: LockHold) -> int:
    """Run an installer child under *hold*; return its exit code.

    The child inherits the locked descriptors, so if this process is killed
    the child keeps the lock until it exits; it sees in ``VENVLOCK_HELD`` the
    locks of the calling thread only.  On Ctrl-C the lock is kept until the
    child has ended (see :func:`wait_for_child`).
    """
    from venvlock.core._nesting import child_environ

    pass_fds = hold.fds if os.name != "nt" else ()
    try:
        child = subprocess.Popen(list(command), pass_fds=pass_fds, env=child_environ())
    except OSError as error:
        print(f"venvlock: cannot run {command[0]}: {error.strerror}", file=sys.stderr)
        return 1
    return wait_for_child(child)


def wait_for_child(child: subprocess.Popen[bytes]) -> int:
    """Wait for *child* and return its exit code; on Ctrl-C, see it end before the interrupt goes on.

    The terminal's Ctrl-C reaches the child too; a SIGINT sent to this process
    alone is forwarded after a moment.  A child still running after
    :data:`CHILD_GRACE_SECONDS` is killed.  Only then does the
    ``KeyboardInterrupt`` propagate (and the caller release its lock): a lock
    never frees while its installer still writes.
    """
    try:
        return child.wait()
    except KeyboardInterrupt:
        _stop(child)
        raise


def _stop(child: subprocess.Popen[bytes]) -> None:
    start = time.monotonic()
    forwarded = False
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= CHILD_GRACE_SECONDS:
            break
        step = _FORWARD_AFTER - elapsed if not forwarded else CHILD_GRACE_SECONDS - elapsed
        try:
            child.wait(timeout=max(step, 0.0))
            return
        except subprocess.TimeoutExpired:
            if not forwarded:
                forwarded = True
                try:
                    child.send_signal(_INTERRUPT)
                except OSError:
                    pass
        except KeyboardInterrupt:  # Ctrl-C again: stop being polite
            break
    print("venvlock: the installer did not stop after Ctrl-C; killing it", file=sys.stderr, flush=True)
    child.kill()
    while True:
        try:
            child.wait()
            return
        except KeyboardInterrupt:
            continue
