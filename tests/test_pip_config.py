"""pip's settings venvlock reads as pip does: the venv's own pip.conf, PIP_PYTHON and `python =`, --python over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import make_venv, pip_install, pip_locked, run, venv_python, versions


@pytest.fixture
def configured(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """*env* reading pip's configuration files (a private home: no user files)."""
    home = tmp_path / "home"
    home.mkdir()
    configured = {k: v for k, v in env.items() if k not in ("PIP_CONFIG_FILE", "XDG_CONFIG_HOME")}
    return {**configured, "HOME": str(home)}


def test_the_venvs_own_pip_conf_is_read(configured: dict[str, str], venv: Path) -> None:
    pip_install(venv, configured, "beta==1.0")
    (venv / "pip.conf").write_text("[install]\nupgrade = true\n")
    outside = {k: v for k, v in configured.items() if k != "VIRTUAL_ENV"}  # pip reads it all the same
    result = run([pip_locked(), "--python", str(venv_python(venv)), "install", "beta"], outside)
    assert result.returncode == 0, result.stderr
    assert versions(venv)["beta"] == "2.0", result.stderr  # pip, reading the venv's pip.conf, upgrades


@pytest.mark.parametrize("where", ["PIP_PYTHON", "config"])
def test_pips_python_setting_is_the_environment_locked_and_judged(
    configured: dict[str, str], venv: Path, tmp_path: Path, where: str
) -> None:
    pip_install(venv, configured, "delta")
    other = tmp_path / "other"
    make_venv(other)
    if where == "PIP_PYTHON":
        setting = {"PIP_PYTHON": str(venv_python(other))}
    else:
        (tmp_path / "pip.conf").write_text(f"[global]\npython = {venv_python(other)}\n")
        setting = {"PIP_CONFIG_FILE": str(tmp_path / "pip.conf")}
    result = run([pip_locked(), "install", "delta"], {**configured, **setting})
    assert result.returncode == 0, result.stderr
    assert "delta" in versions(other), result.stderr  # judged against the env pip installs into
    assert (other / ".lock").exists()  # and locked there


def test_the_command_lines_python_wins_over_pip_python(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    pip_install(venv, env, "delta")
    other = tmp_path / "other"
    other.mkdir()  # PIP_PYTHON names no environment at all: pip, given --python, never looks at it
    outside = {k: v for k, v in env.items() if k != "VIRTUAL_ENV"}
    result = run([pip_locked(), "--python", str(venv), "install", "delta"], {**outside, "PIP_PYTHON": str(other)})
    assert result.returncode == 0 and result.stderr.startswith("Checked 1 package"), result.stderr
