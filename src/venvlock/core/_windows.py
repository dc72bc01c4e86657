"""Process facts on Windows."""

from __future__ import annotations

import ctypes

_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_STILL_ACTIVE = 259


def pid_alive(pid: int) -> bool:
    """Whether a process with *pid* is still running."""
    if pid <= 0:
        return False
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
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


class _Overlapped(ctypes.Structure):
    _fields_ = (
        ("Internal", ctypes.c_void_p),
        ("InternalHigh", ctypes.c_void_p),
        ("Offset", ctypes.c_ulong),
        ("OffsetHigh", ctypes.c_ulong),
        ("hEvent", ctypes.c_void_p),
    )


_LOCKFILE_FAIL_IMMEDIATELY = 0x1
_ERROR_LOCK_VIOLATION = 33
_ERROR_NOT_LOCKED = 158


def _kernel32() -> ctypes.CDLL:
    return ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,no-any-return]


def _handle(fd: int) -> int:
    import msvcrt

    return int(msvcrt.get_osfhandle(fd))  # type: ignore[attr-defined,unused-ignore]


def try_lock_shared(fd: int) -> bool:
    """Lock byte 0 of *fd* shared (``LockFileEx`` without ``LOCKFILE_EXCLUSIVE_LOCK``) without waiting.

    Byte 0 is the byte ``filelock`` locks exclusively with ``LockFileEx``, so
    the two exclude each other.  False when it is held exclusively.
    """
    overlapped = _Overlapped()
    if _kernel32().LockFileEx(_handle(fd), _LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ctypes.byref(overlapped)):
        return True
    error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
    if error == _ERROR_LOCK_VIOLATION:
        return False
    raise OSError(error, "LockFileEx failed")


def unlock_shared(fd: int) -> None:
    """Release the shared lock on byte 0 of *fd*."""
    overlapped = _Overlapped()
    if not _kernel32().UnlockFileEx(_handle(fd), 0, 1, 0, ctypes.byref(overlapped)):
        error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
        if error != _ERROR_NOT_LOCKED:
            raise OSError(error, "UnlockFileEx failed")
