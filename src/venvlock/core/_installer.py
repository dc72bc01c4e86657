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
    """Run an installer child under *hold*; its exit code.

    The child inherits the locked descriptors (killed, this process leaves the lock to it), and its
    ``VENVLOCK_HELD`` names the calling thread's locks only.  On Ctrl-C (a SIGINT to this process alone is
    forwarded after a moment) the ``KeyboardInterrupt`` goes on only once the child has ended, killed after
    :data:`CHILD_GRACE_SECONDS`: a lock never frees while its installer still writes.
    """
    from venvlock.core._nesting import child_environ

    pass_fds = hold.fds if os.name != "nt" else ()
    try:
        child = subprocess.Popen(list(command), pass_fds=pass_fds, env=child_environ())
    except OSError as error:
        print(f"venvlock: cannot run {command[0]}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        return child.wait()
    except KeyboardInterrupt:
        _stop(child)
        raise


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
