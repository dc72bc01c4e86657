"""The plugin manager of project ``venvlock``: the core's services and defaults plus entry-point group ``venvlock``.

Entry points are read from the ``entry_points.txt`` of the distributions on
``sys.path`` directly: 2 ms, against 33 ms for pluggy's
``load_setuptools_entrypoints`` (``importlib.metadata``), in every adapter
process that syncs, whose whole no-op costs about 36 ms.
``VENVLOCK_NO_PLUGINS=1`` loads none.

Where no plugin but the core's services can answer (:func:`plugins_may_answer`:
the manager is not built and no entry point of the group is installed but
venvlock's own), the core's lock services answer without it
(:mod:`venvlock.core._lock_services`): a process that only takes locks (a nox or
tox no-op) loads neither pluggy nor the manager, about 4 ms of its 140.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    import pluggy

#: entry-point group of third-party plugins
ENTRY_POINT_GROUP = "venvlock"
#: the first word of a remembered answer of :func:`_third_party_installed` (another format is not read)
_REMEMBERED = "venvlock-plugins-2"

_manager: pluggy.PluginManager | None = None
#: whether an entry point of the group is installed outside venvlock's own distribution, and whether that answer
#: is remembered in the user cache (None: not looked yet)
_third_party: tuple[bool, bool] | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _manager
    if _manager is None:
        import pluggy

        from venvlock import hookspec
        from venvlock.core import _services
        from venvlock.core._settings import no_plugins

        manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
        manager.add_hookspecs(hookspec)
        _services.relay = manager.hook
        manager.register(_services, name="venvlock.core")
        if not no_plugins():
            for name, target, _own in _entry_points(ENTRY_POINT_GROUP):
                if manager.has_plugin(name) or manager.is_blocked(name):
                    continue
                manager.register(_load(target), name=name)
        manager.check_pending()  # a plugin's misspelt hook is an error, not silence
        _manager = manager
    return _manager


def plugins_may_answer(*, remember: bool = False) -> bool:
    """Whether a hook may have another answer than the core's: the plugin manager is built (a plugin registered
    in this process is in it), or an entry point of group ``venvlock`` is installed outside venvlock's own
    distribution (its own, the uv installer, implement no lock hook: a test holds it).  Looked for once;
    *remember*: keep the answer in the user cache (a process about to lock; ``status`` and ``doctor``, which
    only name lock files, make nothing)."""
    global _third_party
    if _manager is not None:
        return True
    if _third_party is None or (remember and not _third_party[1]):
        from venvlock.core._settings import no_plugins

        _third_party = (False, True) if no_plugins() else (_third_party_installed(remember), remember)
    return _third_party[0]


def _third_party_installed(remember: bool) -> bool:
    """Whether an entry point of the group is installed outside venvlock's own distribution.

    The answer is remembered (*remember*) in the user cache for this interpreter and ``sys.path``, with the
    ``.egg-info`` folders found there, beside a digest of the stat of every folder on ``sys.path`` (the working
    folder for ``""``) and of each egg-info's ``entry_points.txt`` (:func:`_folder_stats`): installing,
    removing or upgrading a distribution changes its folder, and setuptools' ``develop`` rewrites an egg-info's
    file in place; then the entry points are read again.  A stat within :data:`~venvlock._fast.RACY_NS` of the
    reading is not remembered (its clock tick could hide a change).
    """
    import time

    from venvlock import _fast
    from venvlock.core._files import write_file
    from venvlock.core._settings import cache_dir

    started = time.time_ns()
    folder = os.path.join(cache_dir(), "plugins")
    path = os.path.join(folder, _fast.digest("\0".join([sys.executable, *sys.path])))
    remembered = _fast.read_own_file(path)
    lines = remembered[0].split("\n") if remembered is not None else []
    if len(lines) >= 3 and lines[-1] == "":  # a proof, the answer, the egg-infos it looked at; anything else: not
        first, answer, *eggs = lines[:-1]
        if first == f"{_REMEMBERED} {_fast.signatures_digest(_folder_stats(eggs)[0])}":
            return answer == "third-party"
    stats, eggs = _folder_stats(None)
    found = any(not own for _, _, own in _entry_points(ENTRY_POINT_GROUP))
    if remember and all(seen is None or seen[0] < started - _fast.RACY_NS for _, seen in stats):
        answer = "third-party" if found else "own only"
        text = "".join(f"{line}\n" for line in (f"{_REMEMBERED} {_fast.signatures_digest(stats)}", answer, *eggs))
        try:
            write_file(path, text, make_folder=True, below=folder)
        except (OSError, ValueError):  # unwritable cache: looked for again next time
            pass
    return found


def _folder_stats(eggs: list[str] | None) -> tuple[list[tuple[str, tuple[int, ...] | None]], list[str]]:
    """``(stats, eggs)``: the stat of every folder :func:`_entry_points` reads, then of the ``entry_points.txt``
    of each egg-info in *eggs* (None: of each found by listing those folders, *eggs* then lists them)."""
    from venvlock._fast import signature

    stats: list[tuple[str, tuple[int, ...] | None]] = []
    found: list[str] = []
    for entry in sys.path:
        try:
            folder = entry or os.getcwd()
            stats.append((folder, signature(folder)))
            names = os.listdir(folder) if eggs is None else []
        except OSError:
            continue
        found += [os.path.join(folder, name, "entry_points.txt") for name in names if name.endswith(".egg-info")]
    eggs = found if eggs is None else eggs
    return stats + [(egg, signature(egg)) for egg in eggs], eggs


def hooks() -> pluggy.HookRelay:
    """The hook relay: ``hooks().venvlock_sync(environment=..., request=...)`` and the rest."""
    return plugin_manager().hook


def _load(target: str) -> object:
    import importlib

    module_name, _, attribute = target.partition(":")
    loaded: object = importlib.import_module(module_name.strip())
    for part in filter(None, attribute.strip().split(".")):
        loaded = getattr(loaded, part)
    return loaded


def _entry_points(group: str) -> Iterator[tuple[str, str, bool]]:
    """``(name, "module:attr", own)`` of *group* in the distributions on ``sys.path``, first one of a name wins;
    *own*: in venvlock's own distribution.

    Most distributions have no ``entry_points.txt``: ``os.access`` says so
    without an exception, and a file is decoded only when it names *group*.
    """
    seen: set[str] = set()
    header = f"[{group}]".encode()
    for folder in sys.path:
        try:
            entries = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in entries:
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            path = os.path.join(folder, entry, "entry_points.txt")
            if not os.access(path, os.R_OK):
                continue
            try:
                with open(path, "rb") as file:
                    data = file.read()
            except OSError:
                continue
            if header not in data:
                continue
            section = ""
            for line in data.decode("utf-8").splitlines():
                line = line.strip()
                if line.startswith("["):
                    section = line.strip("[]").strip()
                elif section == group and "=" in line:
                    name, _, target = line.partition("=")
                    if name.strip() not in seen:
                        seen.add(name.strip())
                        own = entry.rpartition(".")[0].partition("-")[0].lower() == "venvlock"  # not venvlock_x-1.0
                        yield name.strip(), target.partition("[")[0].strip(), own  # "module:attr [extra]": no extras
