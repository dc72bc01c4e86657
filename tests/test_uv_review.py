"""The uv interplay, reviewed with real processes: what a lent ``<env>/.lock`` guarantees after it comes back.

uv locks ``<env>/.lock`` with a blocking ``flock``; blocked exclusive
requests are granted in the order they blocked (Linux's tree of blocked
requests).  A hold that lends the lock to a uv it started must queue for it
again behind that uv, or a uv outside, blocked meanwhile, gets it first while
the hold's command goes on as if it held it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import FLOCK_TAKER, scripts_dir, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/locks is Linux's")

VENVLOCK = str(scripts_dir() / "venvlock")


# venvlock run's command: a uv-like child that takes the lent lock until told, then the rest of the command, which
# says when it runs and waits to be told to end
COMMAND = """
import subprocess, sys, os, time
lock, folder = sys.argv[1], sys.argv[2]
child = subprocess.run([sys.executable, "-c", sys.argv[3], lock, folder + "/child-has-it", folder + "/child-go"])
open(folder + "/rest-runs", "w").close()
while not os.path.exists(folder + "/end"):
    time.sleep(0.01)
sys.exit(child.returncode)
"""


def _lockers(lock_path: Path) -> list[tuple[int, bool]]:
    """``(pid, blocked)`` of each lock on *lock_path* in ``/proc/locks``."""
    from venvlock.core._unix import lock_table

    probe = os.open(lock_path, os.O_RDONLY)
    try:
        return [(pid, blocked) for pid, _, blocked in lock_table(probe) or []]
    finally:
        os.close(probe)


def test_a_lock_lent_to_a_descendant_comes_back_before_a_uv_outside_gets_it(
    env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    """Before: the holder polled for the lock every 20 ms once its uv let go, and a uv outside that blocked while
    the lock was lent got it first, so the rest of ``venvlock run``'s command ran beside that uv's install."""
    lock_path = venv / ".lock"
    signals = tmp_path / "signals"
    signals.mkdir()
    holder = subprocess.Popen(
        [VENVLOCK, "run", "--env", str(venv), "--", sys.executable, "-c", COMMAND, str(lock_path), str(signals),
         FLOCK_TAKER],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    stranger = None
    try:
        assert wait_for((signals / "child-has-it").exists, timeout=120), "the command's child was never lent the lock"
        # the holder queues to take the lock back 20 ms after lending it; a stranger that blocks after that waits
        # behind it (one that blocked within those 20 ms would be ahead: on a loaded machine, wait for the event)
        queued = wait_for(lambda: (holder.pid, True) in _lockers(lock_path), timeout=60)
        assert queued, f"the holder never queued to take the lock back: {_lockers(lock_path)}"
        stranger = subprocess.Popen(
            [sys.executable, "-c", FLOCK_TAKER, str(lock_path), str(tmp_path / "stranger-has-it"), str(tmp_path / "go")]
        )
        assert wait_for(lambda: (stranger.pid, True) in _lockers(lock_path)), "the stranger never blocked"
        (signals / "child-go").touch()
        assert wait_for((signals / "rest-runs").exists, timeout=60)
        # the lock is the holder's again, the stranger still waits: the rest of the command runs under the lock
        assert wait_for(lambda: (holder.pid, False) in _lockers(lock_path), timeout=10), _lockers(lock_path)
        assert not (tmp_path / "stranger-has-it").exists()
        assert (stranger.pid, True) in _lockers(lock_path)
    finally:
        (signals / "child-go").touch()
        (signals / "end").touch()
        (tmp_path / "go").touch()
        assert holder.wait(timeout=60) == 0, holder.stderr.read() if holder.stderr else ""
        if stranger is not None:
            assert stranger.wait(timeout=60) == 0
    assert (tmp_path / "stranger-has-it").exists()  # and then it got its turn
    assert _lockers(lock_path) == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("uv.toml", "upgrade = true\n", id="uv.toml-top-level"),
        pytest.param("pyproject.toml", "[tool.uv]\nupgrade = true\n", id="pyproject-tool.uv"),
    ],
)
def test_top_level_uv_settings_reach_the_installer(
    env: dict[str, str], venv: Path, tmp_path: Path, name: str, text: str
) -> None:
    """Before: only a ``[pip]`` table counted, so with ``upgrade = true`` at the top of a ``uv.toml`` (which
    ``uv pip install`` reads too) ``pip-locked install beta`` said "Checked" and kept beta 1.0; stock uv upgrades."""
    from support import pip_install, run, versions

    pip_install(venv, env, "beta==1.0")
    project = tmp_path / "project"
    project.mkdir()
    (project / name).write_text(text)
    environ = {key: value for key, value in env.items() if key != "UV_NO_CONFIG"}
    environ.update(VENVLOCK_INSTALLER="uv", XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_CONFIG_DIRS=str(tmp_path))
    result = run([str(scripts_dir() / "pip-locked"), "install", "beta"], environ, cwd=project)
    assert result.returncode == 0, result.stderr
    assert versions(venv)["beta"] == "2.0", result.stderr  # as `uv pip install beta` in that folder leaves it


def test_uv_settings_that_change_nothing_keep_the_check_and_others_count(tmp_path: Path) -> None:
    """Settings of the project commands (``dev-dependencies``) or of where packages come from leave the check to
    judge; any other top-level setting, a file uv cannot read, and the variables that change what a request names
    (``UV_NO_EDITABLE``, ``UV_NO_SOURCES``, ``UV_WORKING_DIR``, ``UV_PROJECT``) send the request to uv."""
    from venvlock._uv import changes_meaning

    config = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CONFIG_DIRS": str(tmp_path / "xdg")}
    project = tmp_path / "project"
    project.mkdir()
    pyproject = project / "pyproject.toml"
    pyproject.write_text('[project]\nname = "p"\ndependencies = ["uvicorn"]\n')
    assert not changes_meaning(config, str(project))
    pyproject.write_text('[tool.uv]\ndev-dependencies = ["x"]\nindex-url = "https://example.invalid"\n')
    assert not changes_meaning(config, str(project))
    for setting in ("reinstall = true", 'resolution = "lowest"', 'constraint-dependencies = ["x<1"]'):
        pyproject.write_text(f"[tool.uv]\n{setting}\n")
        assert changes_meaning(config, str(project)), setting
    pyproject.write_text("[tool.uv\n")
    assert changes_meaning(config, str(project))
    pyproject.unlink()
    for variable in ("UV_NO_EDITABLE", "UV_NO_SOURCES", "UV_WORKING_DIR", "UV_PROJECT"):
        assert changes_meaning({**config, variable: "1"}, str(project)), variable


@pytest.mark.parametrize("kind", ["target", "prefix"])
def test_uv_installs_into_the_folder_pip_settings_chose(
    env: dict[str, str], venv: Path, tmp_path: Path, kind: str
) -> None:
    """Before: with ``PIP_TARGET`` (``PIP_PREFIX``) venvlock locked and judged that folder, and uv, which reads no
    pip setting, installed into the venv: the folder stayed empty, the venv changed under no lock of venvlock's."""
    from support import run, site_packages

    folder = tmp_path / kind
    environ = {**env, "VENVLOCK_INSTALLER": "uv", f"PIP_{kind.upper()}": str(folder)}
    for _ in range(2):  # the second run is judged in the folder: satisfied, nothing to do
        result = run([str(scripts_dir() / "pip-locked"), "install", "delta"], environ)
        assert result.returncode == 0, result.stderr
    assert not (site_packages(venv) / "delta").exists()
    installed = folder / "delta" if kind == "target" else next(folder.glob("lib/python*/site-packages/delta"))
    assert installed.is_dir()
    assert "Checked 1 package" in result.stdout + result.stderr


@pytest.mark.parametrize("option", ["--no-warn-script-location", "--progress-bar=off", "--no-dependencies"])
def test_a_pip_option_uv_rejects_is_uvs_error_even_when_satisfied(env: dict[str, str], venv: Path, option: str) -> None:
    """Before: with ``VENVLOCK_INSTALLER=uv``, ``pip-locked install --no-warn-script-location gamma`` said "Checked"
    when gamma was there, and failed with uv's error only when something was to install; stock uv always fails."""
    from support import pip_install, run, uv, venv_python

    pip_install(venv, env, "gamma==1.0")
    stock = run([uv(), "pip", "install", "--python", str(venv_python(venv)), option, "gamma"], env)
    result = run([str(scripts_dir() / "pip-locked"), "install", option, "gamma"], {**env, "VENVLOCK_INSTALLER": "uv"})
    assert stock.returncode == 2 and "unexpected argument" in stock.stderr, stock.stderr
    assert result.returncode == stock.returncode, result.stderr
    assert "unexpected argument" in result.stderr
