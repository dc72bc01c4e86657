"""The nox adapter's installer proxy: another interpreter's pip is locked and judged where it installs."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import make_venv, run, scripts_dir, venv_python, versions

NOXFILE = """
import os
from venvlock.plugins.nox import session

@session(venv_backend="virtualenv")
def other(session):
    session.install("delta")
    session.run_install(os.environ["OTHER_PYTHON"], "-m", "pip", "install", "delta", external=True)
"""


@pytest.mark.slow
def test_nox_another_interpreters_pip_is_not_judged_against_the_session_venv(
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
