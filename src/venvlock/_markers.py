"""The pluggy markers of project ``venvlock``: a leaf module, so that whoever marks a hook imports nothing else.

Plugins write ``from venvlock.hookspec import hookimpl`` (re-exported there,
as in 0.x); the core's own implementations (:mod:`venvlock.core._services`)
import the marker from here, so the hook specifications and the core never
import each other.
"""

from __future__ import annotations

import pluggy

#: Marker for hook specifications of project ``venvlock``.
hookspec = pluggy.HookspecMarker("venvlock")
#: Marker for hook implementations; use it in plugins: ``@hookimpl def venvlock_install(...)``.
hookimpl = pluggy.HookimplMarker("venvlock")
