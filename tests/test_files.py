"""The files venvlock writes beside an environment never follow a symbolic link planted in their place."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support import pip_locked, read_probe, run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


def test_a_dangling_symlink_at_the_lock_path_stops_pip_locked(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    """Before: every process warned "going on unlocked" and installed at once."""
    victim = tmp_path / "elsewhere" / "victim"
    victim.parent.mkdir()
    (venv / ".lock").symlink_to(victim)
    result = run([pip_locked(), "install", "beta"], env)
    assert result.returncode == 75, result.stderr
    assert "symbolic link" in result.stderr and "going on unlocked" not in result.stderr
    assert "Traceback" not in result.stderr
    assert not victim.exists()
    assert read_probe(tmp_path / "probe.log") == []  # pip never ran


def test_holder_and_record_files_replace_a_planted_link(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    for name in (".lock.holder", ".lock.sync.holder"):
        (venv / name).symlink_to(victim)
    result = run([pip_locked(), "install", "beta"], env)
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "precious\n"
    assert not (venv / ".lock.holder").exists()
