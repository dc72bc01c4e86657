"""Environments venvlock serves: one without pip works as one with pip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import pip_locked, run, venv_python, versions


def test_an_environment_without_pip_works_as_with_pip(offline: dict[str, str], tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    result = run([pip_locked(), "--python", str(venv_python(bare)), "install", "delta"], offline)
    assert result.returncode == 0, result.stderr
    assert "delta" in versions(bare) and (bare / ".lock").exists()
    again = run([pip_locked(), "--python", str(bare), "install", "delta"], offline)
    assert again.returncode == 0 and again.stderr.startswith("Checked 1 package"), again.stderr
    listed = run([pip_locked(), "--python", str(bare), "list", "--format=freeze"], offline)
    assert listed.returncode == 0 and "delta==1.0" in listed.stdout, listed.stderr
