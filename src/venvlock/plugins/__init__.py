"""venvlock's adapters: ``pip-locked`` (:mod:`.pip_locked`), hatch (:mod:`.hatch`), nox (:mod:`.nox`),
and the uv installer plugin (:mod:`.uv_installer`).

Adapters reach the core only through :mod:`venvlock.core`'s public names and
the hooks of :mod:`venvlock.hookspec`.
"""
