"""venvlock for poetry: concurrent ``poetry install`` runs of one environment that never race.

Installed beside poetry (``poetry self add venvlock``, or the same venv), the
application plugin :class:`VenvlockPlugin` (entry-point group
``poetry.application.plugin``) is active for every command:

* a command that finds its environment missing or half-built (``install``,
  ``run``, ``show``, ``lock``, any of poetry's environment commands) creates
  it under the creation lock, marked half-built (``.venv.incomplete``
  beside the folder) until done; a half-built folder is rebuilt;
* ``install``, ``sync``, ``add``, ``remove`` and ``update`` (not with
  ``--dry-run`` or ``--lock``) hold the environment lock (uv's
  ``<env>/.lock``) from before poetry looks at what is installed until the
  command ends;
* ``env use``, ``env remove`` and poetry's recreation of a broken venv
  remove a venv holding its creation lock and environment lock;
* ``poetry run`` holds nothing once the environment exists.

Opt out with ``VENVLOCK_POETRY=0`` or ``poetry = false`` under
``[tool.venvlock]`` in ``pyproject.toml``.  See ``docs/poetry.md``.

poetry loads plugins for every command, ``--version`` included: this module
imports nothing of venvlock's core; :mod:`~venvlock.plugins.poetry.guard`
loads when a command starts.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from poetry.plugins.application_plugin import ApplicationPlugin

if TYPE_CHECKING:
    from cleo.events.event import Event
    from cleo.events.event_dispatcher import EventDispatcher
    from poetry.console.application import Application

    from venvlock.plugins.poetry.guard import Guard

#: environment variable that turns the plugin off (0/false/no/off, in any case; unset or empty: on)
ENABLE_VAR = "VENVLOCK_POETRY"
#: higher than poetry's own COMMAND listeners (0): before ``configure_env`` creates the venv
#: and before the installer snapshots what is installed
PRIORITY = 100


def enabled_by_environment() -> bool:
    """Whether ``VENVLOCK_POETRY`` leaves the plugin on; a value neither on nor off does, and each command
    reports it (:func:`~venvlock.plugins.poetry.guard.enabled_for`)."""
    if not os.environ.get(ENABLE_VAR, "").strip():  # unset: on, and nothing of venvlock loaded for it
        return True
    from venvlock.adapter import SettingError
    from venvlock.plugins.poetry.guard import from_environment

    try:
        return from_environment(ENABLE_VAR)
    except SettingError:
        return True


class VenvlockPlugin(ApplicationPlugin):
    """Registers :class:`~venvlock.plugins.poetry.guard.Guard`'s listeners (COMMAND, TERMINATE)."""

    def activate(self, application: Application) -> None:
        dispatcher = application.event_dispatcher
        if dispatcher is None or not enabled_by_environment():
            return
        from cleo.events.console_events import COMMAND, ERROR, TERMINATE

        guards: list[Guard] = []

        def on_command(event: Event, event_name: str, dispatcher: EventDispatcher) -> None:
            from venvlock.plugins.poetry.guard import Guard

            guard = Guard(application, ENABLE_VAR)
            guards.append(guard)
            guard.on_command(event, event_name, dispatcher)

        def on_terminate(event: Event, event_name: str, dispatcher: EventDispatcher) -> None:
            if guards:  # the innermost command's (a command may run another)
                guards.pop().on_terminate(event)

        def on_error(event: Event, event_name: str, dispatcher: EventDispatcher) -> None:
            if guards:
                guards[-1].on_error(event)

        dispatcher.add_listener(COMMAND, on_command, PRIORITY)
        dispatcher.add_listener(ERROR, on_error, PRIORITY)
        dispatcher.add_listener(TERMINATE, on_terminate, PRIORITY)
