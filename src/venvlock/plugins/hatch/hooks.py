"""Registration of venvlock's hatch plugins (entry point ``venvlock`` of group ``hatch``)."""

from __future__ import annotations

from hatchling.plugin import hookimpl

from venvlock.plugins.hatch.plugin import VenvlockEnvironment, VenvlockEnvironmentCollector


@hookimpl
def hatch_register_environment() -> type[VenvlockEnvironment]:
    """Register the environment type ``venvlock``."""
    return VenvlockEnvironment


@hookimpl
def hatch_register_environment_collector() -> type[VenvlockEnvironmentCollector]:
    """Register the environment collector ``venvlock``."""
    return VenvlockEnvironmentCollector
