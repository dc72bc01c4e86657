"""The nox adapter's messages: the holder names the real command, a timeout of 0 prints no waiting line, a venv
built by stock nox."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support import Gate, build_gated_project, run, tools_path, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


DEMO_NOXFILE = """
import os
import nox
from venvlock.plugins.nox import session

decorate = nox.session if os.environ.get("TEST_PLAIN") else session

@decorate(venv_backend="virtualenv")
def demo(session):
    if os.environ.get("TEST_GATED"):
        session.install(os.environ["TEST_GATED"])
    session.install("beta")
"""


@pytest.fixture
def nox_project(tmp_path: Path, offline: dict[str, str]) -> tuple[Path, dict[str, str]]:
    pytest.importorskip("nox")
    folder = tmp_path / "noxproject"
    folder.mkdir()
    (folder / "noxfile.py").write_text(DEMO_NOXFILE)
    env = {**offline, "PATH": tools_path(offline.get("PATH"))}
    return folder, env


def nox(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "nox", *args], env, cwd=folder)


@pytest.mark.slow
def test_nox_holder_names_the_real_command_and_timeout_0_prints_no_waiting_line(
    nox_project: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    folder, env = nox_project
    assert nox(folder, env, "-s", "demo").returncode == 0
    gate = Gate(tmp_path / "gate")
    gated = build_gated_project(tmp_path / "projects")
    holder = subprocess.Popen(
        [sys.executable, "-m", "nox", "-s", "demo"], cwd=folder,  # recreates: exclusive through its installs
        env={**env, "TEST_GATED": str(gated), "VENVLOCK_TEST_GATE": str(gate.folder)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for(gate.started, timeout=120)
        held = (folder / ".nox" / ".demo.create.lock.holder").read_text()
        assert "nox -s demo" in held, held
        busy = nox(folder, {**env, "VENVLOCK_TIMEOUT": "0"}, "-r", "-s", "demo")
    finally:
        gate.open()
    assert holder.wait(timeout=120) == 0
    assert busy.returncode != 0
    assert "timed out" in busy.stderr and "nox -s demo" in busy.stderr, busy.stderr
    assert "Waiting for lock" not in busy.stderr, busy.stderr


@pytest.mark.slow
def test_nox_reuses_a_venv_built_by_stock_nox_without_a_word(nox_project: tuple[Path, dict[str, str]]) -> None:
    """A venv stock nox made has no venvlock marker, and no sign of being half-made: reused as nox reuses it."""
    folder, env = nox_project
    assert nox(folder, {**env, "TEST_PLAIN": "1"}, "-s", "demo").returncode == 0
    adopted = nox(folder, env, "-r", "-s", "demo")
    assert adopted.returncode == 0, adopted.stderr
    assert "Reusing existing virtual environment" in adopted.stderr, adopted.stderr
    assert "recreating" not in adopted.stderr and "nox > venvlock" not in adopted.stderr, adopted.stderr
