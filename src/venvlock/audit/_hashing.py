"""Hashing the files RECORD lists: large files on a thread pool, and the cache lines of files verified before."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

#: files are read in chunks of this size
_CHUNK = 1 << 20
#: files at least this large are hashed on the thread pool
_LARGE = 256 * 1024


def cache_line(path: str, digest: str, stat: os.stat_result) -> str:
    """How the cache names a file (*path* relative to the environment) verified with *digest* in the state *stat*."""
    return f"{digest}\t{stat.st_size}\t{stat.st_mtime_ns}\t{stat.st_ctime_ns}\t{stat.st_ino}\t{path}"


def hash_all(items: Sequence[tuple[str, str, os.stat_result]], jobs: int) -> list[str | None]:
    """The ``algorithm=digest`` of each file of *items*, in order (None when unreadable).

    Files of :data:`_LARGE` bytes or more are hashed on a thread pool
    (``hashlib`` releases the GIL while it hashes them) while this thread
    hashes the small ones, where threads would only fight over the GIL.
    """
    results: list[str | None] = [None] * len(items)
    workers = jobs - 1 if jobs > 0 else min(4, os.cpu_count() or 1)
    large = [i for i, item in enumerate(items) if item[2].st_size >= _LARGE] if workers > 0 else []
    pool = None
    futures = []
    if large:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=min(workers, len(large)))
        futures = [(i, pool.submit(hash_file, items[i][0], items[i][1])) for i in large]
    try:
        chosen = set(large)
        for index, (path, digest, _stat) in enumerate(items):
            if index not in chosen:
                results[index] = hash_file(path, digest)
        for index, future in futures:
            results[index] = future.result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return results


def hash_file(path: str, recorded: str) -> str | None:
    """``algorithm=digest`` of *path* with the algorithm of *recorded*; None when it cannot be read."""
    import base64
    import hashlib

    algorithm = recorded.partition("=")[0]
    try:
        hasher = hashlib.new(algorithm)
    except (ValueError, TypeError):
        return None
    try:
        with open(path, "rb") as file:
            while True:
                block = file.read(_CHUNK)
                if not block:
                    break
                hasher.update(block)
    except OSError:
        return None
    return f"{algorithm}={base64.urlsafe_b64encode(hasher.digest()).rstrip(b'=').decode('ascii')}"
