"""venvlock for hatch: the environment type ``venvlock`` and the collector of the same name.

* :mod:`.plugin`: :class:`~.plugin.VenvlockEnvironment`, hatch's ``virtual``
  type with every preparation made one critical section under venvlock's
  locks, and :class:`~.plugin.VenvlockEnvironmentCollector`, which gives that
  type to every ``virtual`` environment of a project, hatch's own included.
* :mod:`.hooks`: their registration under entry-point group ``hatch``.

Users opt in with two lines of ``pyproject.toml``::

    [tool.hatch.env]
    requires = ["venvlock"]

    [tool.hatch.envs.default]
    type = "venvlock"

or protect every environment at once with ``[tool.hatch.env.collectors.venvlock]``.
This package imports nothing itself, so that importing it costs nothing.
"""
