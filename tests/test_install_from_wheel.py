"""Installing venvlock without a package index: a wheel built from the checkout, given to hatch by direct reference.

docs/installation.md tells users to build a wheel (``pip wheel . -w dist --no-deps``) and to
write ``requires = ["venvlock @ file:///abs/path/venvlock-X-py3-none-any.whl"]`` in
``[tool.hatch.env]``.  This runs exactly that with a real hatch, offline, in a tool venv of its own
(hatch installs its ``requires`` into the environment that runs hatch, and that must never be
the interpreter running pytest).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import scripts_dir

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")
ROOT = Path(__file__).resolve().parent.parent
UV = scripts_dir() / "uv"


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="session")
def venvlock_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built once per session without build isolation (offline)."""
    pytest.importorskip("hatchling", reason="building the wheel without isolation needs hatchling")
    dist = tmp_path_factory.mktemp("dist")
    result = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        env={**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = dist.glob("venvlock-*-py3-none-any.whl")
    return wheel


@pytest.fixture(scope="session")
def hatch_tool_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with hatch and venvlock's dependencies but not venvlock, as a user's hatch install would be.

    Installed by uv from its cache when it can (offline); else from the configured index;
    skipped when neither works.
    """
    if not UV.exists():
        pytest.skip("no uv beside the test interpreter")
    venv = tmp_path_factory.mktemp("hatch-tool") / "venv"
    created = _run([str(UV), "venv", "-q", "--python", sys.executable, str(venv)])
    assert created.returncode == 0, created.stderr
    install = [str(UV), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "hatch", "filelock>=3.30"]
    install += ["pluggy>=1.5", "packaging>=23.2"]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    if _run(install, env={**env, "UV_OFFLINE": "1"}).returncode != 0:
        online = _run(install, env=env)
        if online.returncode != 0:
            pytest.skip(f"cannot install hatch into a tool venv: {online.stderr[-500:]}")
    return venv


def _direct_url(site: Path, project: str) -> dict[str, object] | None:
    for direct_url in site.glob(f"{project}-*.dist-info/direct_url.json"):
        return json.loads(direct_url.read_text())  # type: ignore[no-any-return]
    return None


@pytest.mark.slow  # the documented install route (a real hatch, a built wheel): checked by CI's slow run
def test_hatch_requires_a_direct_reference_to_a_built_wheel(
    venvlock_wheel: Path, hatch_tool_venv: Path, offline: dict[str, str], tmp_path: Path
) -> None:
    (tool_site,) = (hatch_tool_venv / "lib").glob("python*/site-packages")
    assert _direct_url(tool_site, "venvlock") is None
    project = tmp_path / "proj"
    project.mkdir()
    pyproject = """\
[project]
name = "proj"
version = "0.1.0"

[tool.hatch.env]
requires = [REQUIREMENT]

[tool.hatch.envs.default]
type = "venvlock"
skip-install = true
dependencies = ["alpha"]
"""
    config = tmp_path / "hatch-config.toml"
    config.write_text("")
    env = {
        **offline,  # no index: pip and uv see only the tests' wheelhouse, and the wheel by its path
        "HATCH_DATA_DIR": str(tmp_path / "hatch-data"),
        "HATCH_CACHE_DIR": str(tmp_path / "hatch-cache"),
        "HATCH_CONFIG": str(config),
        "HATCH_PYTHON": sys.executable,
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "PATH": str(hatch_tool_venv / "bin") + os.pathsep + offline.get("PATH", os.defpath),
    }
    for name in ("HATCH_ENV", "HATCH_ENV_ACTIVE", "HATCH_KEEP_ENV", "HATCH_VERBOSE", "HATCH_QUIET"):
        env.pop(name, None)
    hatch = str(hatch_tool_venv / "bin" / "hatch")
    mine = importlib.metadata.distribution("venvlock").read_text("direct_url.json")

    # the control: the name alone cannot be found without an index (what the docs said before)
    (project / "pyproject.toml").write_text(pyproject.replace("REQUIREMENT", '"venvlock"'))
    by_name = _run([hatch, "env", "find", "default"], cwd=project, env=env)
    assert by_name.returncode != 0
    assert _direct_url(tool_site, "venvlock") is None

    (project / "pyproject.toml").write_text(pyproject.replace("REQUIREMENT", f'"venvlock @ {venvlock_wheel.as_uri()}"'))
    first = _run([hatch, "run", "python", "-c", "import alpha"], cwd=project, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    # hatch installed venvlock from the wheel into its own environment, and used its environment type
    installed = _direct_url(tool_site, "venvlock")
    assert installed is not None and installed["url"] == venvlock_wheel.as_uri(), installed
    found = _run([hatch, "env", "find", "default"], cwd=project, env=env)
    assert found.returncode == 0, found.stderr
    env_path = Path(found.stdout.strip())
    assert env_path.relative_to(tmp_path / "hatch-data" / "env").parts[0] == "venvlock", env_path
    assert (env_path.parent / f".{env_path.name}.create.lock").exists()  # venvlock's creation lock

    # the second run finds the requirement satisfied by the same wheel: nothing installed again
    wheel_record = next(tool_site.glob("venvlock-*.dist-info/RECORD")).stat().st_mtime_ns
    second = _run([hatch, "run", "python", "-c", "import alpha"], cwd=project, env=env)
    assert second.returncode == 0, second.stderr
    assert next(tool_site.glob("venvlock-*.dist-info/RECORD")).stat().st_mtime_ns == wheel_record
    # and the interpreter running pytest was not touched
    assert importlib.metadata.distribution("venvlock").read_text("direct_url.json") == mine
