"""Which environment the ``venvlock`` command is about, and what ``status`` says of it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import pip_locked
from test_cli_usage import fake_venv, venvlock


def status(env: dict[str, str], *args: str, cwd: Path | None = None) -> tuple[list[dict], str]:  # type: ignore[type-arg]
    done = venvlock("status", "--json", *args, env=env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def test_the_default_environment_is_pip_s_and_is_named_with_why(offline: dict[str, str], tmp_path: Path) -> None:
    """Before: with ./.venv and none active, venvlock chose ./.venv and pip-locked its own interpreter's env."""
    project = tmp_path / "project"
    local = fake_venv(project / ".venv")
    running = os.path.abspath(sys.prefix)  # the test interpreter's venv runs venvlock and pip-locked
    (report,), said = status(offline, cwd=project)
    assert report["environment"] == running, report
    assert "the interpreter running venvlock" in said and "-p .venv" in said, said
    listed = subprocess.run(
        [pip_locked(), "list", "--format=json"], env=offline, cwd=project, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    assert "venvlock" in {d["name"] for d in json.loads(listed.stdout)}, "pip-locked chose another environment"

    (active,), said = status({**offline, "VIRTUAL_ENV": str(local)}, cwd=project)
    assert active["environment"] == str(local) and "venvlock: environment: .venv (from VIRTUAL_ENV)" in said, said
    other = fake_venv(tmp_path / "other")
    (chosen,), said = status({**offline, "VIRTUAL_ENV": str(local), "PIP_PYTHON": str(other)}, cwd=project)
    assert chosen["environment"] == str(other) and f"(from PIP_PYTHON={other})" in said, said
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\npython = {other}\n")
    (configured,), said = status({**offline, "PIP_CONFIG_FILE": str(config)}, cwd=project)
    assert (
        configured["environment"] == str(other)
        and "(from the python setting of pip's configuration (python in [global] of" in said
    ), said
    (given,), said = status(offline, "-p", str(local), cwd=project)
    assert given["environment"] == str(local) and said == "", "a named environment needs no note"
    gone = venvlock("status", env={**offline, "VIRTUAL_ENV": str(tmp_path / "gone")}, cwd=project)
    assert gone.returncode == 2 and "VIRTUAL_ENV=" in gone.stderr, gone.stderr
    everything, _ = status(offline, "--all", cwd=project)
    assert str(local) in [r["environment"] for r in everything], "--all adds ./.venv"


def test_status_of_a_path_that_names_nothing_exits_2(offline: dict[str, str], tmp_path: Path) -> None:
    """Before: `status /typo` exited 0 (docs/cli.md says 2 for no environment at PATH)."""
    typo = tmp_path / "typo"
    done = venvlock("status", str(typo), env=offline)
    assert done.returncode == 2 and f"venvlock: error: no environment at {typo}" in done.stderr, done.stderr
    assert done.stdout == "" and not list(tmp_path.iterdir()), "status created something"
    (tmp_path / ".building.create.lock").write_text("")  # a creation under way or cut short: there is something to say
    (building,), _ = status(offline, str(tmp_path / "building"))
    assert building["exists"] is False and building["creation_lock"]["state"] == "free"


def test_status_names_the_tool_that_left_a_half_built_marker(offline: dict[str, str], tmp_path: Path) -> None:
    """Before: tox's `.tox/.py.incomplete` was labelled "hatch: half-built"."""
    tox_env = fake_venv(tmp_path / ".tox" / "py")
    (tmp_path / ".tox" / ".py.incomplete").write_text("4242\ntox -e py\n")  # what venvlock's tox plugin writes
    elsewhere = fake_venv(tmp_path / "work" / "lint")  # tox's work_dir set elsewhere: the command line tells
    (tmp_path / "work" / ".lint.incomplete").write_text("4243\n/usr/bin/tox -e lint -- -x\n")
    hatch_env = fake_venv(tmp_path / "hatch" / "default")
    (tmp_path / "hatch" / ".default.incomplete").write_text("incomplete\n")  # what venvlock's hatch plugin writes
    named = fake_venv(tmp_path / "named" / "env")  # the adapter layer's markers name their tool in them
    (tmp_path / "named" / ".env.incomplete").write_text("incomplete\ntool = tox\n")
    reports, _ = status(offline, str(tox_env), str(elsewhere), str(hatch_env), str(named))
    tools = [[(m["tool"], m["meaning"]) for m in report["markers"]] for report in reports]
    assert tools[0] == [("tox", "its creation or removal did not finish (by pid 4242: tox -e py)")], tools
    assert tools[1][0][0] == "tox" and "pid 4243" in tools[1][0][1], tools
    assert tools[2] == [("hatch", "its creation or removal did not finish")], tools
    assert tools[3] == [("tox", "its creation or removal did not finish")], tools
    text = venvlock("status", str(tox_env), env=offline)
    assert "half-built:       tox: its creation or removal did not finish (by pid 4242: tox -e py)" in text.stdout


def _base_interpreter() -> str:
    """An interpreter outside any venv, other than the one the test venv was made from (skip if there is none)."""
    ours = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    for candidate in ("/usr/bin/python3", shutil.which("python3", path=os.defpath) or ""):
        if candidate and os.path.isfile(candidate) and os.path.realpath(candidate) != ours:
            prefix = subprocess.run(
                [candidate, "-c", "import sys; print(sys.prefix == sys.base_prefix)"], capture_output=True, text=True
            )
            if prefix.stdout.strip() == "True":
                return candidate
    pytest.skip("no second interpreter outside a venv on this machine")


def test_status_of_an_interpreter_is_never_half_built(offline: dict[str, str]) -> None:
    """Before: `status /usr/bin/python3` said "half-built: venv: no pyvenv.cfg", creation lock /.usr.create.lock."""
    python = _base_interpreter()
    prefix = subprocess.run(
        [python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True
    ).stdout.strip()
    (report,), _ = status(offline, python)
    assert report["environment"] == os.path.abspath(prefix) and report["kind"] == "interpreter", report
    assert report["markers"] == [] and report["creation_lock"] is None, report
    text = venvlock("status", python, env=offline)
    assert text.returncode == 0 and "create.lock" not in text.stdout and "no pyvenv.cfg" not in text.stdout, text.stdout
    assert f"(the interpreter {python}, not a virtual environment)" in text.stdout, text.stdout
    # after the assertions above (which fail on code that names /.usr.create.lock): no creation lock is ever taken
    creation = venvlock("run", "--creation", "-p", python, sys.executable, "-c", "pass", env=offline)
    assert creation.returncode == 2 and "has no creation lock" in creation.stderr, creation.stderr
    assert not os.path.lexists(os.path.join(os.path.dirname(prefix), f".{os.path.basename(prefix)}.create.lock"))
