"""pip's general options (aliases, abbreviations, unknown ones) never let pip run without the lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support import pip_locked, run, versions, wait_for

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
    [["--retr", "2"], pytest.param(["--default-timeout", "60"], marks=pytest.mark.slow),
     pytest.param(["--cache-d", "CACHE"], marks=pytest.mark.slow), ["--default-timeout=60", "-qv"], ["--p", "x"],
     ["--frobnicate"]],
)  # fmt: skip
def test_general_options_never_bypass_the_lock(
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
