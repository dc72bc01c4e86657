"""The nox adapter between concurrent sessions: uv sessions installing one editable project at once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support import build_editable_project, run, tools_path

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


NOXFILE = """
import os
from venvlock.plugins.nox import session
import nox

@session(venv_backend="uv", allow_parallel=True)
@nox.parametrize("n", ["1", "2"])
def build(session, n):
    session.install("-e", os.environ["TEST_PROJECT"])
    session.run("python", "-c", "import local")
"""


def test_nox_uv_sessions_install_one_editable_project_at_once(offline: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("nox")
    project = build_editable_project(tmp_path / "projects")
    noxdir = tmp_path / "noxproject"
    noxdir.mkdir()
    (noxdir / "noxfile.py").write_text(NOXFILE)
    for round_ in range(2):
        env = {**offline, "TEST_PROJECT": str(project), "UV_CACHE_DIR": str(tmp_path / f"uv-cache-{round_}")}
        env["PATH"] = tools_path(env.get("PATH"))
        result = run([sys.executable, "-m", "nox", "-j", "2", "-s", "build"], env, cwd=noxdir)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        assert "Timeout" not in result.stderr
