"""The tox plugin: hook implementations registered under entry-point group ``tox``.

* ``tox_register_tox_env`` (``trylast``, so after tox-uv and other plugins
  registered theirs): every registered run environment type is replaced by
  :func:`~venvlock.plugins.tox.runner.locked_runner` of it, which keeps its
  ``id()`` and class name (tox records the class name in ``.tox-info.json``,
  so enabling or disabling venvlock recreates nothing).  Hooks alone cannot
  do the job: ``tox_on_install`` is told of an install but cannot wrap it,
  and no hook runs around the creation of an environment or between its
  setup and its commands with the environment object in hand.
* ``tox_add_core_config``: the ``venvlock`` core setting (default true).

``VENVLOCK_TOX=0`` (or ``false``/``no``/``off``) turns the plugin off for the
process: no runner is replaced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tox.plugin import impl

from venvlock.plugins.tox._settings import SETTING, enabled_by_environment

if TYPE_CHECKING:
    from tox.config.sets import ConfigSet
    from tox.session.state import State
    from tox.tox_env.register import ToxEnvRegister


@impl(trylast=True)
def tox_register_tox_env(register: ToxEnvRegister) -> None:
    if not enabled_by_environment():
        return
    from venvlock.plugins.tox.runner import locked_runner

    runners = getattr(register, "_run_envs", None)
    if not isinstance(runners, dict):
        import sys

        print(
            "venvlock: warning: this tox keeps its run environment types elsewhere; tox runs are not locked",
            file=sys.stderr,
        )
        return
    for name, runner in list(runners.items()):
        runners[name] = locked_runner(runner)


@impl
def tox_add_core_config(core_conf: ConfigSet, state: State) -> None:
    core_conf.add_config(
        keys=[SETTING],
        of_type=bool,
        default=True,
        desc="lock run environments with venvlock (creation exclusive, commands shared); false turns it off",
    )
