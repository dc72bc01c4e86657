"""venvlock's settings: every bad value is a usage error (exit 2) on every path, read in one module."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import pip_install, pip_locked, run


def test_bad_settings_are_errors_on_every_path(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    pip_install(venv, env, "delta")
    assert run([pip_locked(), "install", "delta"], env).stderr.startswith("Checked")  # a record now answers
    bad = [
        {"VENVLOCK_TIMEOUT": "abc"},
        {"VENVLOCK_TIMEOUT": "nan"},
        {"VENVLOCK_INSTALLER": "conda"},
        {"VENVLOCK_NO_PLUGINS": "maybe"},
        {"VIRTUAL_ENV": str(tmp_path / "missing")},
        {"VIRTUAL_ENV": str(tmp_path)},  # a folder, but no environment
    ]
    for setting in bad:
        result = run([pip_locked(), "install", "delta"], {**env, **setting})
        assert result.returncode == 2, (setting, result.stderr)
        assert result.stderr.startswith("pip-locked: error: ") and result.stdout == "", (setting, result.stderr)
    not_python = run([pip_locked(), "--python", "/bin/ls", "install", "delta"], env)
    assert not_python.returncode == 2 and not_python.stdout == "", not_python.stderr
    assert "not a Python interpreter" in not_python.stderr
    forever = run([pip_locked(), "install", "delta"], {**env, "VENVLOCK_TIMEOUT": "inf"})
    assert forever.returncode == 0 and forever.stderr.startswith("Checked"), forever.stderr


def test_settings_module_reads_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from venvlock.core import SettingError
    from venvlock.core._settings import installer, timeout, validate

    for raw, seconds in (("", 300.0), ("0", 0.0), ("2.5", 2.5), ("-1", -1.0), ("inf", -1.0), (" 7 ", 7.0)):
        monkeypatch.setenv("VENVLOCK_TIMEOUT", raw)
        assert timeout() == seconds
    for raw in ("abc", "nan", "-nan", "1s"):
        monkeypatch.setenv("VENVLOCK_TIMEOUT", raw)
        with pytest.raises(SettingError):
            validate()
    monkeypatch.delenv("VENVLOCK_TIMEOUT")
    monkeypatch.setenv("VENVLOCK_INSTALLER", "UV")
    assert installer() == "uv"
    monkeypatch.setenv("VENVLOCK_INSTALLER", "conda")
    with pytest.raises(SettingError):
        validate()


def test_the_lock_reads_its_timeout_from_the_settings_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from venvlock.core import Environment, SettingError, hooks

    monkeypatch.setenv("VENVLOCK_TIMEOUT", "nan")
    lock = hooks().venvlock_environment_lock(environment=Environment(str(tmp_path)), purpose="test", quiet=True)
    with pytest.raises(SettingError), lock:
        pass


def test_on_off_settings_share_one_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """``VENVLOCK_NO_PLUGINS``, ``VENVLOCK_TOX`` and ``VENVLOCK_POETRY`` read on and off alike (any case, unset or
    empty: the default), and a typo is an error naming the variable, never taken for either."""
    from venvlock.adapter import SettingError, setting_flag
    from venvlock.core._settings import no_plugins

    for raw, value in (("", None), (" ", None), ("1", True), ("Yes", True), ("ON", True), ("0", False), ("off", False)):
        monkeypatch.setenv("VENVLOCK_POETRY", raw)
        assert setting_flag("VENVLOCK_POETRY", default=True, on="a", off="b") is (True if value is None else value)
        monkeypatch.setenv("VENVLOCK_NO_PLUGINS", raw)
        assert no_plugins() is (False if value is None else value)
    for raw in ("flase", "2", "y"):
        monkeypatch.setenv("VENVLOCK_POETRY", raw)
        with pytest.raises(SettingError, match=f"VENVLOCK_POETRY='{raw}' is neither 1 \\(a\\) nor 0 \\(b\\)"):
            setting_flag("VENVLOCK_POETRY", default=True, on="a", off="b")
