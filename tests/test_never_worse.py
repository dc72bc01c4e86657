"""Issue 7, "never worse than pip": one test for each finding, with real pip, real processes, offline wheels.

1. repair touched what is not the environment's (PYTHONPATH folders, egg-info pairs);
2. requirement files read otherwise than pip reads them (repeated files, -r nested in -c);
3. pip settings venvlock did not read (the venv's own pip.conf, PIP_PYTHON, ``python =``);
4. a record answering a request whose ${VAR} changed;
5. pip's general options (aliases, abbreviations) read so that pip ran without the lock;
6. nox: another interpreter's pip judged against the session venv;
7. environments without pip;
8. bad settings accepted on some paths.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import make_venv, pip_locked, scripts_dir, site_packages, venv_python, wait_for


def run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload,no-any-return]


def versions(venv: Path) -> dict[str, str]:
    found = {}
    for entry in os.listdir(site_packages(venv)):
        if entry.endswith(".dist-info"):
            name, _, version = entry[: -len(".dist-info")].rpartition("-")
            found[name] = version
    return found


def pip(venv: Path, env: dict[str, str], *args: str) -> None:
    result = run([str(venv_python(venv)), "-m", "pip", "install", "-q", *args], env)
    assert result.returncode == 0, result.stderr


# --- 1 -------------------------------------------------------------------------------------------
def test_1_repair_touches_nothing_outside_the_environment(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    pip(venv, env, "beta==1.0", "delta")
    project = tmp_path / "proj"
    (project / "~drafts").mkdir(parents=True)
    (project / "~drafts" / "notes.txt").write_text("mine")
    (project / "~$report.docx").write_text("mine")
    vendored = project / "beta-1.0.dist-info"  # a copy installed with `pip install -t`, on PYTHONPATH
    vendored.mkdir()
    (vendored / "METADATA").write_text("Metadata-Version: 2.1\nName: beta\nVersion: 1.0\n")
    (vendored / "RECORD").write_text("beta/__init__.py,,\n")
    (project / "beta").mkdir()
    (project / "beta" / "__init__.py").write_text("# vendored\n")
    (project / "gamma.egg-info").mkdir()  # from `setup.py egg_info`
    (project / "gamma.egg-info" / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: gamma\nVersion: 0.1\n")
    # a Debian-style pair in the venv itself: pip's dist-info and an egg-info of the same project
    egg = site_packages(venv) / "delta-1.0-py3.egg-info"
    egg.write_text("Metadata-Version: 1.1\nName: delta\nVersion: 1.0\n")
    outside = {k: v for k, v in env.items() if k != "VIRTUAL_ENV"}
    result = run(
        [pip_locked(), "--python", str(venv_python(venv)), "install", "beta", "gamma", "delta"],
        {**outside, "PYTHONPATH": "."},
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    for kept in ("~drafts/notes.txt", "~$report.docx", "beta-1.0.dist-info/RECORD", "beta/__init__.py"):
        assert (project / kept).exists(), kept
    assert (project / "gamma.egg-info" / "PKG-INFO").exists()
    assert egg.exists() and versions(venv)["delta"] == "1.0" and versions(venv)["beta"] == "1.0"
    assert "gamma" not in versions(venv)  # as plain pip: the egg-info on PYTHONPATH satisfies it


# --- 2 -------------------------------------------------------------------------------------------
def test_2_requirement_files_are_read_as_pip_reads_them(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    pip(venv, env, "beta==1.0")
    (tmp_path / "dev.txt").write_text("-c req.txt\nbeta\n")
    (tmp_path / "req.txt").write_text("delta\n")
    both = run([pip_locked(), "install", "-r", "dev.txt", "-r", "req.txt"], env, cwd=tmp_path)
    assert both.returncode == 0, both.stderr
    assert "delta" in versions(venv), both.stderr  # req.txt is read again as requirements, as pip does
    (tmp_path / "cons.txt").write_text("-r more.txt\n")  # pip reads a -r inside a -c file as requirements
    (tmp_path / "more.txt").write_text("gamma\n")
    nested = run([pip_locked(), "install", "beta", "-c", "cons.txt"], env, cwd=tmp_path)
    assert nested.returncode == 0, nested.stderr
    assert "gamma" in versions(venv), nested.stderr


# --- 3 -------------------------------------------------------------------------------------------
@pytest.fixture
def configured(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """*env* reading pip's configuration files (a private home: no user files)."""
    home = tmp_path / "home"
    home.mkdir()
    configured = {k: v for k, v in env.items() if k not in ("PIP_CONFIG_FILE", "XDG_CONFIG_HOME")}
    return {**configured, "HOME": str(home)}


def test_3_the_venvs_own_pip_conf_is_read(configured: dict[str, str], venv: Path) -> None:
    pip(venv, configured, "beta==1.0")
    (venv / "pip.conf").write_text("[install]\nupgrade = true\n")
    outside = {k: v for k, v in configured.items() if k != "VIRTUAL_ENV"}  # pip reads it all the same
    result = run([pip_locked(), "--python", str(venv_python(venv)), "install", "beta"], outside)
    assert result.returncode == 0, result.stderr
    assert versions(venv)["beta"] == "2.0", result.stderr  # pip, reading the venv's pip.conf, upgrades


@pytest.mark.parametrize("where", ["PIP_PYTHON", "config"])
def test_3_pips_python_setting_is_the_environment_locked_and_judged(
    configured: dict[str, str], venv: Path, tmp_path: Path, where: str
) -> None:
    pip(venv, configured, "delta")
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


# --- 4 -------------------------------------------------------------------------------------------
def test_4_a_record_covers_the_variables_a_requirements_file_expands(
    env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    pip(venv, env, "beta==1.0")
    (tmp_path / "req.txt").write_text("beta${BETA_SPEC}\n")
    first = run([pip_locked(), "install", "-r", "req.txt"], {**env, "BETA_SPEC": "==1.0"}, cwd=tmp_path)
    again = run([pip_locked(), "install", "-r", "req.txt"], {**env, "BETA_SPEC": "==1.0"}, cwd=tmp_path)
    assert first.stderr.startswith("Checked") and again.stderr.startswith("Checked"), again.stderr
    changed = run([pip_locked(), "install", "-r", "req.txt"], {**env, "BETA_SPEC": "==2.0"}, cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr
    assert versions(venv)["beta"] == "2.0", changed.stderr


# --- 5 -------------------------------------------------------------------------------------------
HOLDER = """
import pathlib, sys, time
from venvlock.core import Environment, hooks
environment = Environment.for_venv(sys.argv[1])
with hooks().venvlock_environment_lock(environment=environment, purpose="test holder", quiet=True):
    pathlib.Path(sys.argv[2]).touch()
    time.sleep(120)
"""


@pytest.mark.parametrize(
    "general",
    [["--retr", "2"], ["--default-timeout", "60"], ["--cache-d", "CACHE"], ["--default-timeout=60", "-qv"],
     ["--p", "x"], ["--frobnicate"]],
)  # fmt: skip
def test_5_general_options_never_bypass_the_lock(
    env: dict[str, str], venv: Path, tmp_path: Path, general: list[str]
) -> None:
    ready = tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(venv), str(ready)], env=env)
    try:
        assert wait_for(ready.exists, timeout=60)
        result = run([pip_locked(), *general, "install", "delta"], {**env, "VENVLOCK_TIMEOUT": "0"}, cwd=tmp_path)
        assert result.returncode == 75, result.stdout + result.stderr  # it waited for the lock, and gave up
        assert "delta" not in versions(venv)
    finally:
        holder.kill()
        holder.wait()


# --- 6 -------------------------------------------------------------------------------------------
NOXFILE = """
import os
from venvlock.plugins.nox import session

@session(venv_backend="virtualenv")
def other(session):
    session.install("delta")
    session.run_install(os.environ["OTHER_PYTHON"], "-m", "pip", "install", "delta", external=True)
"""


def test_6_nox_another_interpreters_pip_is_not_judged_against_the_session_venv(
    offline: dict[str, str], tmp_path: Path
) -> None:
    other = tmp_path / "other"
    make_venv(other)
    (tmp_path / "noxfile.py").write_text(NOXFILE)
    result = run(
        [str(scripts_dir() / "nox"), "-f", "noxfile.py", "-s", "other"],
        {**offline, "OTHER_PYTHON": str(venv_python(other))},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "delta" in versions(other), result.stderr
    assert (other / ".lock").exists()  # locked where it installs


# --- 7 -------------------------------------------------------------------------------------------
def test_7_an_environment_without_pip_works_as_with_pip(offline: dict[str, str], tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    result = run([pip_locked(), "--python", str(venv_python(bare)), "install", "delta"], offline)
    assert result.returncode == 0, result.stderr
    assert "delta" in versions(bare) and (bare / ".lock").exists()
    again = run([pip_locked(), "--python", str(bare), "install", "delta"], offline)
    assert again.returncode == 0 and again.stderr.startswith("Checked 1 package"), again.stderr
    listed = run([pip_locked(), "--python", str(bare), "list", "--format=freeze"], offline)
    assert listed.returncode == 0 and "delta==1.0" in listed.stdout, listed.stderr


# --- 8 -------------------------------------------------------------------------------------------
def test_8_bad_settings_are_errors_on_every_path(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    pip(venv, env, "delta")
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


def test_8_settings_module_reads_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_the_lock_timeout_reads_the_settings_module(monkeypatch: pytest.MonkeyPatch) -> None:
    from venvlock.core import SettingError
    from venvlock.core._lock import lock_timeout

    monkeypatch.setenv("VENVLOCK_TIMEOUT", "nan")
    with pytest.raises(SettingError):
        lock_timeout()


def test_3_the_command_lines_python_wins_over_pip_python(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    pip(venv, env, "delta")
    other = tmp_path / "other"
    other.mkdir()  # PIP_PYTHON names no environment at all: pip, given --python, never looks at it
    outside = {k: v for k, v in env.items() if k != "VIRTUAL_ENV"}
    result = run([pip_locked(), "--python", str(venv), "install", "delta"], {**outside, "PIP_PYTHON": str(other)})
    assert result.returncode == 0 and result.stderr.startswith("Checked 1 package"), result.stderr
