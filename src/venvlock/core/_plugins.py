"""The plugin manager of project ``venvlock``: the core's services and defaults plus entry-point group ``venvlock``.

Entry points are read from the ``entry_points.txt`` of the distributions on
``sys.path`` directly: 2 ms, against 33 ms for pluggy's
``load_setuptools_entrypoints`` (``importlib.metadata``), in every adapter
process that syncs, whose whole no-op costs about 36 ms.
``VENVLOCK_NO_PLUGINS=1`` loads none.
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

_manager: pluggy.PluginManager | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _manager
    if _manager is None:
        import pluggy

        from venvlock import hookspec
        from venvlock.core import _defaults
        from venvlock.core._services import CoreServices
        from venvlock.core._settings import no_plugins

        manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
        manager.add_hookspecs(hookspec)
        manager.register(_defaults, name="venvlock.core.defaults")
        manager.register(CoreServices(manager.hook), name="venvlock.core.services")
        if not no_plugins():
            for name, target in _entry_points(ENTRY_POINT_GROUP):
                if manager.has_plugin(name) or manager.is_blocked(name):
                    continue
                manager.register(_load(target), name=name)
        manager.check_pending()  # a plugin's misspelt hook is an error, not silence
        _manager = manager
    return _manager


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


def _entry_points(group: str) -> Iterator[tuple[str, str]]:
    """``(name, "module:attr")`` of *group* in the distributions on ``sys.path``, first one of a name wins."""
    seen: set[str] = set()
    for folder in sys.path:
        try:
            entries = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in entries:
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(folder, entry, "entry_points.txt"), encoding="utf-8") as file:
                    text = file.read()
            except OSError:
                continue
            if f"[{group}]" not in text:
                continue
            section = ""
            for line in text.splitlines():
                line = line.strip()
                if line.startswith("["):
                    section = line.strip("[]").strip()
                elif section == group and "=" in line:
                    name, _, target = line.partition("=")
                    if name.strip() not in seen:
                        seen.add(name.strip())
                        yield name.strip(), target.partition("[")[0].strip()  # "module:attr [extra]": extras unused
