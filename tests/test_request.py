"""Requirement files are read as pip reads them: a file named twice, a -r inside a -c file."""

from __future__ import annotations

from pathlib import Path

from support import pip_install, pip_locked, run, versions


def test_requirement_files_are_read_as_pip_reads_them(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    pip_install(venv, env, "beta==1.0")
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
