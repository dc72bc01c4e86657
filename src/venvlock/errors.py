"""venvlock's errors: one base class, so that an adapter catches everything venvlock raises at once.

This module imports nothing, not even for type checkers, so any module may import it without a cycle
(the environment and holder a timeout carries are typed as plain objects here).

* :class:`VenvlockError`: the base; its message is what a user should read.
* :class:`SettingError`: a venvlock setting or an argument makes no sense (exit 2 in commands).
* :class:`LockTimeoutError`: a lock stayed busy past ``VENVLOCK_TIMEOUT`` (exit 75 in commands); also a
  :class:`TimeoutError`.
* :class:`LockUnavailableError`: a lock file that should be lockable cannot be locked (a planted symbolic
  link, a permission problem in a writable folder); venvlock refuses to run unlocked there (exit 75 where
  trying again later may help, else 1: a symbolic link, a name too long, a FIFO at the lock path).
"""

from __future__ import annotations


class VenvlockError(Exception):
    """Base of every error venvlock raises on purpose; ``str(error)`` is the message for the user."""


class SettingError(VenvlockError, ValueError):
    """A venvlock setting (an environment variable) or an argument has a value that makes no sense."""


class LockTimeoutError(VenvlockError, TimeoutError):
    """The lock was busy for longer than ``VENVLOCK_TIMEOUT`` allows.

    :ivar environment: the environment whose lock was busy (a :class:`venvlock.core.Environment`).
    :ivar lock_path: the lock file.
    :ivar holder: who held it, where that is known (a :class:`venvlock.core.Holder`, or None).
    :ivar waited: seconds waited.
    """

    def __init__(self, message: str, *, environment: object, lock_path: str, holder: object, waited: float) -> None:
        super().__init__(message)
        self.environment = environment
        self.lock_path = lock_path
        self.holder = holder
        self.waited = waited


class LockUnavailableError(VenvlockError, OSError):
    """A lock file cannot be locked where it should be (not a read-only environment): venvlock will not go on.

    :ivar temporary: whether trying again later may help (exit 75); False for
        a permanent problem such as a symbolic link or a FIFO at the lock path,
        or a name too long for the file system (exit 1).
    """

    temporary = True
