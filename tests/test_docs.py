"""The documentation site builds with ``mkdocs build --strict``: no broken link, anchor or hook reference.

Skipped unless the ``docs`` extra is installed (``nox -s docs`` and ``.ci/run`` build the site too).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _missing() -> list[str]:
    found = []
    for name in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers"):
        if importlib.util.find_spec(name) is None:
            found.append(name)
    return found


pytestmark = [
    pytest.mark.docs,
    pytest.mark.skipif(bool(_missing()), reason="the docs extra is not installed (pip install -e '.[docs]')"),
]


def test_site_builds_strict(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    hooks = (tmp_path / "site" / "reference" / "hookspec" / "index.html").read_text(encoding="utf-8")
    # the hook reference is generated from venvlock.hookspec's docstrings
    for hook in ("venvlock_sync", "venvlock_environment_lock", "venvlock_install", "venvlock_failed"):
        assert f'id="venvlock.hookspec.{hook}"' in hooks
    assert ":func:" not in hooks
    # nothing is fetched when the site is viewed either: no web fonts
    assert "fonts.googleapis" not in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
