"""Files under a top-level package folder that no distribution owns: what a killed install or a manual copy leaves."""

from __future__ import annotations

import os

from venvlock.audit._problems import Kind, Problem
from venvlock.core._installed import canonical_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator


def _is_skipped(name: str) -> bool:
    return name == "__pycache__" or name.endswith((".dist-info", ".egg-info", ".pyc")) or name.startswith("~")


def _files_under(folder: str) -> Iterator[str]:
    """Files under *folder*, not following links, without ``__pycache__`` and ``.pyc`` files."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if _is_skipped(entry.name):
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_dir:
            yield from _files_under(entry.path)
        else:
            yield entry.path


def orphans(
    site_dirs: Iterable[str], owned: set[str], owned_tops: dict[str, set[str]], unrecorded: set[str]
) -> Iterator[Problem]:
    for site in site_dirs:
        try:
            entries = sorted(os.scandir(site), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if _is_skipped(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            owners = owned_tops.get(entry.path)
            if owners is not None and any(o.endswith("\0whole") for o in owners):
                continue
            if owners is None and canonical_name(entry.name) in unrecorded:
                continue
            files = list(_files_under(entry.path))
            if owners is None:
                if files:
                    yield Problem(
                        Kind.ORPHAN_FOLDER,
                        f"{entry.name}/: folder owned by no distribution ({len(files)} files; "
                        "what an interrupted install or a manual copy leaves)",
                        path=entry.name + "/",
                    )
                continue
            label = ", ".join(sorted(owners))
            for path in sorted(files):
                if path not in owned:
                    relative = os.path.relpath(path, site)
                    yield Problem(
                        Kind.ORPHAN,
                        f"{relative}: file owned by no distribution (in the folder of {label})",
                        distribution=label,
                        path=relative,
                    )
