"""The hatch environment collector: matrices of venvlock environments are shown as `venvlock`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support import run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


def test_hatch_env_show_lists_matrices_as_venvlock(tmp_path: Path, offline: dict[str, str]) -> None:
    """Before: the matrix row said `virtual` although its environments are `venvlock`."""
    pytest.importorskip("hatch")
    from helpers.hatch_project import HATCH

    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "shown"\nversion = "0.1"\n[tool.hatch.env]\nrequires = ["venvlock"]\n'
        "[tool.hatch.env.collectors.venvlock]\n[tool.hatch.envs.test]\n"
        '[[tool.hatch.envs.test.matrix]]\nn = ["1", "2"]\n[tool.hatch.envs.plain]\ntype = "system"\n'
        '[[tool.hatch.envs.plain.matrix]]\nn = ["1"]\n'
    )
    (tmp_path / "config.toml").write_text("")
    env = {**offline, "HATCH_DATA_DIR": str(tmp_path / "data"), "HATCH_CONFIG": str(tmp_path / "config.toml")}
    shown = run([HATCH, "env", "show", "--ascii"], env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    matrices = shown.stdout.split("Matrices", 1)[1]
    assert "| test | venvlock |" in matrices.replace("  ", " ") or "test | venvlock" in matrices, matrices
    assert "plain | system" in " ".join(matrices.split()), matrices
    assert "virtual" not in matrices


def test_excluding_a_matrix_excludes_every_environment_it_generates(tmp_path: Path, offline: dict[str, str]) -> None:
    """Before: `exclude = ["default"]` left default's matrix environments (named `1`, `2`: no prefix) as `venvlock`,
    excluding `docs` also excluded a plain environment named `docs.v2`, and an excluded environment whose `template`
    is a matrix of type virtual took `venvlock` from it."""
    pytest.importorskip("hatch")
    import json

    from helpers.hatch_project import HATCH

    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "shown"\nversion = "0.1"\n[tool.hatch.env]\nrequires = ["venvlock"]\n'
        '[tool.hatch.env.collectors.venvlock]\nexclude = ["default", "test", "docs", "lint", "wide"]\n'
        '[[tool.hatch.envs.default.matrix]]\nn = ["1", "2"]\n'
        '[tool.hatch.envs.test]\n[[tool.hatch.envs.test.matrix]]\npython = ["3.11"]\nv = ["a"]\n'
        '[tool.hatch.envs.other]\n[[tool.hatch.envs.other.matrix]]\nv = ["x"]\n'
        '[tool.hatch.envs.docs]\n[tool.hatch.envs."docs.v2"]\n'
        '[tool.hatch.envs.lint]\ntemplate = "other"\n[tool.hatch.envs.style]\ntemplate = "other"\n'
        '[tool.hatch.envs.wide]\ntemplate = "other"\n[[tool.hatch.envs.wide.matrix]]\nw = ["y"]\n'
    )
    (tmp_path / "config.toml").write_text("")
    env = {**offline, "HATCH_DATA_DIR": str(tmp_path / "data"), "HATCH_CONFIG": str(tmp_path / "config.toml")}
    shown = run([HATCH, "env", "show", "--json"], env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    types = {name: data["type"] for name, data in json.loads(shown.stdout).items()}
    assert types["1"] == types["2"] == "virtual", types
    assert types["test.py3.11-a"] == "virtual", types
    assert types["docs"] == "virtual", types
    assert types["other.x"] == "venvlock", types
    assert types["docs.v2"] == "venvlock", types
    assert types["lint"] == "virtual" and types["wide.y"] == "virtual", types
    assert types["style"] == "venvlock", types
