"""Writing and removing venvlock's own small files, never through a symbolic link.

Every file venvlock writes (holder files, records, markers, caches) is written
by :func:`write_file`: a new temporary file created with ``O_EXCL`` and
``O_NOFOLLOW`` in the same folder, then renamed over the target.  A rename
replaces a symbolic link planted at the target instead of writing through it,
and readers see the old content or the new, never half of it.

Plain ``os`` only: this module is on the fast path.
"""

from __future__ import annotations

import os

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def write_file(path: str, text: str, *, mode: int = 0o644, make_folder: bool = False) -> None:
    """Write *text* to *path* atomically, never following a link; raises OSError (nothing left behind)."""
    if make_folder:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, mode)
    try:
        try:
            view = memoryview(text.encode("utf-8", "surrogateescape"))
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        remove_file(temporary)
        raise


def read_file(path: str) -> str | None:
    """The text of *path*, or None when it cannot be read (missing, a link, a FIFO or anything not a file)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO would block a reader forever
            os.close(fd)
            return None
        with os.fdopen(fd, "rb") as file:
            return file.read().decode("utf-8", "replace")
    except OSError:
        return None


def remove_file(path: str) -> bool:
    """Remove the file (or link itself) at *path*; whether something was removed."""
    try:
        os.remove(path)
    except OSError:
        return False
    return True


def remove_tree(path: str) -> None:
    """Remove the folder *path* and what is in it without following links (a link is removed itself)."""
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        remove_file(path)
