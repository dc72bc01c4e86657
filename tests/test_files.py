"""venvlock's own files and folders are written, read and removed without following symbolic links."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import pip_locked, read_probe, run, scripts_dir
from venvlock.core._files import read_file, remove_file, write_file

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="symbolic links and FIFOs as on POSIX")


def _planted(tmp_path: Path) -> tuple[Path, Path]:
    """An environment folder whose ``.venvlock`` is a link to a folder elsewhere."""
    env = tmp_path / "env"
    env.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (env / ".venvlock").symlink_to(elsewhere, target_is_directory=True)
    return env, elsewhere


def test_a_link_among_venvlocks_own_folders_is_refused_not_followed(tmp_path: Path) -> None:
    env, elsewhere = _planted(tmp_path)
    (elsewhere / "synced").mkdir()
    (elsewhere / "synced" / "key").write_text("theirs")
    record = str(env / ".venvlock" / "synced" / "key")
    with pytest.raises(OSError):
        write_file(record, "ours", make_folder=True)
    assert read_file(record) is None
    assert remove_file(record) is False
    assert (elsewhere / "synced" / "key").read_text() == "theirs"
    assert sorted(p.name for p in elsewhere.rglob("*")) == ["key", "synced"]


def test_venvlocks_own_folders_are_made_and_used_when_they_are_real(tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.mkdir()
    record = str(env / ".venvlock" / "synced" / "key")
    write_file(record, "ours", make_folder=True)
    assert read_file(record) == "ours"
    assert remove_file(record) is True
    assert (env / ".venvlock" / "synced").is_dir()


def test_a_fifo_reads_as_absent_instead_of_hanging(tmp_path: Path) -> None:
    """Before: reading a FIFO planted where venvlock reads its files waited for a writer forever."""
    os.mkfifo(tmp_path / "fifo")
    code = "import sys; from venvlock.core._files import read_file; print(read_file(sys.argv[1]))"
    result = subprocess.run(  # in a child: on failure it would hang
        [sys.executable, "-c", code, str(tmp_path / "fifo")], capture_output=True, text=True, timeout=60
    )
    assert result.stdout == "None\n", result.stderr


def test_verify_does_not_write_its_cache_through_a_linked_record_folder(tmp_path: Path, venv: Path) -> None:
    """Before: ``ln -s /elsewhere env/.venvlock; venvlock verify env`` wrote ``/elsewhere/verified``."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (venv / ".venvlock").symlink_to(elsewhere, target_is_directory=True)
    environ = {**os.environ, "VENVLOCK_CACHE_DIR": str(tmp_path / "cache"), "VENVLOCK_TIMEOUT": "60"}
    environ.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        [str(scripts_dir() / "venvlock"), "verify", str(venv)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert list(elsewhere.iterdir()) == []
    assert (venv / ".venvlock").is_symlink()


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


def test_a_dangling_symlink_at_the_lock_path_stops_pip_locked(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    """Before: every process warned "going on unlocked" and installed at once; then it exited 75 ("retry later"),
    and a script that retries on 75 looped: the link stays until someone removes it (exit 1)."""
    victim = tmp_path / "elsewhere" / "victim"
    victim.parent.mkdir()
    (venv / ".lock").symlink_to(victim)
    result = run([pip_locked(), "install", "beta"], env)
    assert result.returncode == 1, result.stderr
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
