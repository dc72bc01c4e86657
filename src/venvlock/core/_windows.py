"""The OS half of the lock on Windows: open a lock file, ``LockFileEx`` it; process facts.

Both modes lock byte 0 (uv locks the whole file, which covers it).  Without
``/proc``, :func:`lock_table` and :func:`ancestors` know nothing: the uv
hand-off falls back to recognising uv's command line, nesting to
``VENVLOCK_HELD``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat

_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_STILL_ACTIVE = 259
_BINARY = getattr(os, "O_BINARY", 0)
_NOINHERIT = getattr(os, "O_NOINHERIT", 0)
#: the test-only seam (see :mod:`._unix`)
TEST_ERRNO_VAR = "VENVLOCK_TEST_LOCK_ERRNO"


def pid_alive(pid: int) -> bool:
    """Whether a process with *pid* is still running."""
    if pid <= 0:
        return False
    kernel32 = _kernel32()
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return bool(code.value == _STILL_ACTIVE)
    finally:
        kernel32.CloseHandle(handle)


def ancestors() -> list[int] | None:
    return None


def descends_from(pid: int, ancestor: int) -> bool:
    return False


class _Overlapped(ctypes.Structure):
    _fields_ = (
        ("Internal", ctypes.c_void_p),
        ("InternalHigh", ctypes.c_void_p),
        ("Offset", ctypes.c_ulong),
        ("OffsetHigh", ctypes.c_ulong),
        ("hEvent", ctypes.c_void_p),
    )


_LOCKFILE_FAIL_IMMEDIATELY = 0x1
_LOCKFILE_EXCLUSIVE_LOCK = 0x2
_ERROR_LOCK_VIOLATION = 33
_ERROR_NOT_LOCKED = 158


def _kernel32() -> ctypes.CDLL:
    return ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,no-any-return]


def _handle(fd: int) -> int:
    import msvcrt

    return int(msvcrt.get_osfhandle(fd))  # type: ignore[attr-defined,unused-ignore]


def open_lock(path: str, *, create: bool) -> int:
    """A descriptor of the lock file *path*, read-write; made when *create* and missing; a regular file only."""
    if os.path.islink(path):
        raise OSError(errno.ELOOP, "a symbolic link", path)
    fd = os.open(path, os.O_RDWR | _BINARY | _NOINHERIT | (os.O_CREAT if create else 0), 0o644)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", path)
    return fd


def describe_mode(mode: int) -> str:
    return "not a file"


def lock(fd: int, *, exclusive: bool, wait: bool = False) -> bool:
    """Lock byte 0 of *fd* exclusive or shared; whether it is locked now (False: busy, only when not *wait*)."""
    injected = os.environ.get(TEST_ERRNO_VAR)
    if injected:
        code = getattr(errno, injected, errno.EIO)
        raise OSError(code, os.strerror(code))
    flags = (0 if wait else _LOCKFILE_FAIL_IMMEDIATELY) | (_LOCKFILE_EXCLUSIVE_LOCK if exclusive else 0)
    overlapped = _Overlapped()
    if _kernel32().LockFileEx(_handle(fd), flags, 0, 1, 0, ctypes.byref(overlapped)):
        return True
    error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
    if error == _ERROR_LOCK_VIOLATION and not wait:
        return False
    raise OSError(error, "LockFileEx failed")


def downgrade(fd: int) -> None:
    """Hold byte 0 of *fd* shared instead of exclusive; the byte is never free in between.

    A handle's shared lock may overlap its own exclusive lock, and the first
    unlock of a range locked both ways ends the exclusive one (``LockFileEx``,
    ``UnlockFileEx``): shared first, then one unlock.
    """
    if not lock(fd, exclusive=False):
        raise OSError(_ERROR_LOCK_VIOLATION, "LockFileEx failed")
    unlock(fd)


def unlock(fd: int) -> None:
    """Release the lock on byte 0 of *fd*."""
    overlapped = _Overlapped()
    if not _kernel32().UnlockFileEx(_handle(fd), 0, 1, 0, ctypes.byref(overlapped)):
        error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
        if error != _ERROR_NOT_LOCKED:
            raise OSError(error, "UnlockFileEx failed")


def read_locks() -> str | None:
    return None


def lock_table(fd: int, text: str | None = None) -> list[tuple[int, bool, bool]] | None:
    return None
