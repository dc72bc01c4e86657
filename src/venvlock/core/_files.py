"""Writing, reading and removing venvlock's own small files, never through a symbolic link.

:func:`write_file` creates a temporary file (``O_EXCL|O_NOFOLLOW``) beside the target and renames it over:
a link planted at the target is replaced, not written through, and readers see the old content or the new.

``O_NOFOLLOW`` protects the last component only.  The folders between *below* (the environment, as the user
named it; by default the folder holding a path's last :data:`OWN_FOLDER`) and the file are venvlock's own:
each is opened (made, with ``make_folder``) relative to the one before with ``O_NOFOLLOW|O_DIRECTORY``, so a
link planted there (``<env>/.venvlock -> /elsewhere``) is refused with no check-then-use race.  Without
``dir_fd`` (Windows) each folder is looked at with ``lstat``.  Files are read with ``O_NONBLOCK``: a FIFO
planted at a path reads as absent, never hangs.  Plain ``os``: on the fast path.
"""

from __future__ import annotations

import os
import stat

from venvlock._fast import read_own_file

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_BINARY = getattr(os, "O_BINARY", 0)
#: the name of venvlock's own folder in an environment (``Environment.record_dir``)
OWN_FOLDER = ".venvlock"
#: whether folders can be walked by descriptor (POSIX); else (Windows) by lstat
_AT = {os.open, os.mkdir, os.rename, os.unlink} <= os.supports_dir_fd and bool(_DIRECTORY)  # os.replace as os.rename


def _open_folder(below: str, parts: list[str], *, create: bool) -> int:
    """A descriptor of folder *below*/*parts*, each part opened without following links (made if *create*)."""
    fd = os.open(below, os.O_RDONLY | _DIRECTORY)  # the environment itself: the user's path, links allowed
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass
            inner = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_folders(below: str, parts: list[str], *, create: bool) -> None:
    """Without ``dir_fd``: make and look at each folder below *below*; a link among them is an OSError."""
    import errno

    folder = below
    for part in parts:
        folder = os.path.join(folder, part)
        if create:
            try:
                os.mkdir(folder)
            except FileExistsError:
                pass
        mode = os.lstat(folder).st_mode
        if not stat.S_ISDIR(mode):
            raise OSError(errno.ELOOP if stat.S_ISLNK(mode) else errno.ENOTDIR, "not a folder of venvlock's", folder)


def write_file(path: str, text: str, *, mode: int = 0o644, make_folder: bool = False, below: str | None = None) -> None:
    """Write *text* to *path* atomically, never following a link; OSError leaves nothing behind.

    Without *below* (and outside an :data:`OWN_FOLDER`) only *path* itself is protected, and *make_folder* makes
    its folder as ``os.makedirs`` does.
    """
    folder, name = _located(path, below, create=make_folder)
    try:
        _write_in(folder, name, text, mode)
    finally:
        if folder is not None:
            os.close(folder)


def _write_in(folder: int | None, name: str, text: str, mode: int) -> None:
    temporary = f"{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, mode, dir_fd=folder)
    try:
        try:
            view = memoryview(text.encode("utf-8", "surrogateescape"))
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        try:
            os.unlink(temporary, dir_fd=folder)
        except OSError:
            pass
        raise


def read_file(path: str, *, below: str | None = None) -> str | None:
    """The text of *path*, or None when it cannot be read (missing, a link on the way, not a regular file, not text)."""
    read = read_file_and_stat(path, below=below)
    return read[0] if read is not None else None


def _located(path: str, below: str | None, *, create: bool = False) -> tuple[int | None, str]:
    """``(folder descriptor or None, name)`` to open *path* by, its folders below *below* never followed (made
    if *create*); OSError or ValueError when one is a link or missing.  The caller closes the descriptor."""
    if below is None:  # inside a folder named OWN_FOLDER: below is the folder holding the last one
        parts = os.path.abspath(os.path.dirname(path)).split(os.sep)
        if OWN_FOLDER not in parts:
            if create:
                os.makedirs(os.path.dirname(path), exist_ok=True)
            return None, path
        below = os.sep.join(parts[: len(parts) - 1 - parts[::-1].index(OWN_FOLDER)]) or os.sep
    relative = os.path.relpath(os.path.dirname(path), below)
    parts = [] if relative == os.curdir else relative.split(os.sep)
    if os.pardir in parts or os.path.isabs(relative):
        raise ValueError(f"{path} is not below {below}")
    if create:
        os.makedirs(below, exist_ok=True)
    if not _AT:
        _check_folders(below, parts, create=create)
        return None, path
    return _open_folder(below, parts, create=create), os.path.basename(path)


def read_file_and_stat(path: str, *, below: str | None = None) -> tuple[str, os.stat_result] | None:
    """The text of *path* and the stat of the very file read, or None as :func:`read_file` says."""
    try:
        folder, name = _located(path, below)
    except (OSError, ValueError):
        return None
    try:
        return read_own_file(name, folder)
    finally:
        if folder is not None:
            os.close(folder)


def remove_file(path: str, *, below: str | None = None) -> bool:
    """Remove the file (or link itself) at *path*, never through a link on the way; whether one was removed."""
    folder: int | None = None
    try:
        folder, name = _located(path, below)
        os.unlink(name, dir_fd=folder)
    except (OSError, ValueError):
        return False
    finally:
        if folder is not None:
            os.close(folder)
    return True


def remove_tree(path: str) -> None:
    """Remove the folder *path* and what is in it without following links (a link is removed itself)."""
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        remove_file(path)
