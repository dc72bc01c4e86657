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


#: what stock nox takes in a session, through the proxy: a path to install, nox's callable form of run_install,
#: the installer's output asked for (silent=True), an install that is not to be logged (log=False)
TAKES_WHAT_NOX_TAKES = """
import glob, os, pathlib
from venvlock.plugins.nox import session

@session(venv_backend="virtualenv")
def parity(session):
    wheel = glob.glob(os.path.join(os.environ["PIP_FIND_LINKS"], "delta-*.whl"))[0]
    session.install(pathlib.Path(wheel))
    session.install("delta", log=False)
    called = []
    session.run_install(lambda *args: called.append(args), "x")
    assert called == [("x",)], called
    output = session.run_install("python", "-m", "pip", "install", "delta", silent=True)
    assert "delta" in output, repr(output)
    session.run("python", "-c", "import delta")
"""


def test_nox_session_takes_what_stock_nox_takes(offline: dict[str, str], tmp_path: Path) -> None:
    """A path given to ``session.install``, a callable given to ``run_install``, ``silent=True`` (pip's output
    returned, so pip runs even when satisfied) and ``log=False`` (no skip line): as with stock nox, fresh and
    reused."""
    (tmp_path / "noxfile.py").write_text(TAKES_WHAT_NOX_TAKES)
    nox = [str(scripts_dir() / "nox"), "-f", "noxfile.py", "-s", "parity"]
    fresh = run(nox, offline, cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    reused = run([*nox, "-r"], offline, cwd=tmp_path)
    assert reused.returncode == 0, reused.stdout + reused.stderr
    assert "skipped by venvlock" not in reused.stderr, reused.stderr  # the one skipped install had log=False
