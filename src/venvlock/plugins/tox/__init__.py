"""venvlock for tox: concurrent ``tox`` runs of one environment that never race.

Installed beside tox, the plugin (entry-point group ``tox``, module
:mod:`venvlock.plugins.tox.plugin`) is active for every run environment, as
tox-uv is: tox's ``virtualenv`` runner, tox-uv's ``uv-venv-runner`` and
``uv-venv-lock-runner``, and any other registered run environment type.

* Creating, recreating (``-r``, a changed configuration) and installing into
  an environment hold its creation lock (``.tox/.<env>.create.lock``)
  exclusively, installs also the environment lock ``<env>/.lock`` (uv's).
* Commands hold the creation lock *shared*: runs of one environment run
  their commands side by side, and a recreation waits until they are done,
  naming them.
* A setup killed halfway leaves ``.tox/.<env>.incomplete``; the next run
  rebuilds the environment instead of reusing it.

Opt out with ``venvlock = false`` in tox's core settings (``[tox]`` in
``tox.ini``, ``[tool.tox]`` in ``pyproject.toml``, the top level of
``tox.toml``) or ``VENVLOCK_TOX=0`` in the environment.  See ``docs/tox.md``.

This package imports nothing of tox; :mod:`~venvlock.plugins.tox.plugin` and
:mod:`~venvlock.plugins.tox.runner` do.
"""
