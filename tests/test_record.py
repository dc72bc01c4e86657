"""A record answers only the request it was made for: a requirements file's ${VAR} that changed is a new request."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import pip_install, pip_locked, run, versions


@pytest.mark.slow
def test_a_record_covers_the_variables_a_requirements_file_expands(
    env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    pip_install(venv, env, "beta==1.0")
    (tmp_path / "req.txt").write_text("beta${BETA_SPEC}\n")
    first = run([pip_locked(), "install", "-r", "req.txt"], {**env, "BETA_SPEC": "==1.0"}, cwd=tmp_path)
    again = run([pip_locked(), "install", "-r", "req.txt"], {**env, "BETA_SPEC": "==1.0"}, cwd=tmp_path)
    assert first.stderr.startswith("Checked") and again.stderr.startswith("Checked"), again.stderr
    changed = run([pip_locked(), "install", "-r", "req.txt"], {**env, "BETA_SPEC": "==2.0"}, cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr
    assert versions(venv)["beta"] == "2.0", changed.stderr
