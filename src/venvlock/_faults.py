"""Test-only fault injection at named points of a sync (``tests/test_fault_matrix.py``, ``nox -s chaos``).

``VENVLOCK_TEST_FAULT=<phase>:<fault>`` sends *fault* (``SIGKILL``, ``SIGINT``, ``SIGTERM``) to this process's
group (``<signal>-self``: to this process alone) when a run reaches *phase* (:data:`PHASES`); at a point that
writes, *fault* may also be one of :data:`ERRORS`, raised there as the write would raise it.  Each fault
injected appends ``<phase> <fault> <pid>`` to the file ``VENVLOCK_TEST_FAULT_LOG`` names, so a test knows it
landed.  Adapters reach the points through :func:`venvlock.adapter.fault_point`.  Unset, it costs one
``os.environ.get`` on the locked path, never on the no-op path.

The core's sync and the adapter layer call :func:`inject_fault`; it imports nothing of venvlock.
"""

import os

#: the variables a test sets (see the module docstring)
FAULT_VARIABLE = "VENVLOCK_TEST_FAULT"
FAULT_LOG_VARIABLE = "VENVLOCK_TEST_FAULT_LOG"
#: the named points, in the order a run reaches them: an adapter created the environment's folder (its
#: half-built marker still set); a marker about to be written; the lock taken; the journal written (the installer
#: about to run; its write, for errors); the installer ended with success (nothing recorded yet); the record about
#: to be written; the result recorded (the journal not cleared yet); a repair of an interrupted sync under way
#: (removals done, the journal not cleared yet); ``venvlock repair`` under way (removals done, nothing reinstalled)
PHASES = ("create", "marker", "locked", "journal", "installed", "record", "recorded", "heal", "repair")
#: the errors a point that writes can be made to fail with
ERRORS = ("ENOSPC", "EACCES")


def inject_fault(phase: str, *, signals: bool = True, errors: bool = False) -> None:
    """Inject the fault ``VENVLOCK_TEST_FAULT`` names at *phase*: a signal if *signals*, an OSError if *errors*
    (a point that writes)."""
    wanted = os.environ.get(FAULT_VARIABLE)
    if not wanted:
        return
    at, _, how = wanted.partition(":")
    name, _, target = how.partition("-")
    if at != phase:
        return
    if name in ERRORS:
        if errors:
            import errno

            code = getattr(errno, name)
            _log_fault(phase, how)
            raise OSError(code, f"{os.strerror(code)} (injected by {FAULT_VARIABLE})")
        return
    if not signals or not name.startswith("SIG"):
        return
    import signal

    signum = getattr(signal, name, None)
    if not isinstance(signum, int):
        return
    _log_fault(phase, how)
    if target == "self" or not hasattr(os, "killpg"):
        os.kill(os.getpid(), signum)
    else:
        os.killpg(os.getpgrp(), signum)


def _log_fault(phase: str, how: str) -> None:
    log = os.environ.get(FAULT_LOG_VARIABLE)
    if log:
        with open(log, "a", encoding="utf-8") as file:
            file.write(f"{phase} {how} {os.getpid()}\n")
