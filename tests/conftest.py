"""Shared fixtures: a wheelhouse of small real wheels, fresh real venvs, an offline environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import build_wheel, install_probe, make_venv, offline_env

# a small dependency tree with extras and markers, and heavier packages with many files and
# `.data/data/share/...` entries, like the packages whose concurrent installs broke environments
SMALL = [
    ("alpha", "1.0", ["beta>=1", 'gamma[fast]; python_version >= "3"']),
    ("beta", "1.0", []),
    ("beta", "2.0", []),
    ("gamma", "1.0", []),
    ("delta", "1.0", []),
]
HEAVY = [(f"heavy{i}", version) for i in range(12) for version in ("1.0", "2.0")]


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheelhouse")
    for name, version, requires in SMALL:
        extras = {"fast": ["delta"]} if name == "gamma" else None
        build_wheel(folder, name, version, requires=requires, extras=extras)
    for name, version in HEAVY:
        build_wheel(folder, name, version, files=150, data_files=60, payload=2000)
    return folder


@pytest.fixture
def offline(wheelhouse: Path, tmp_path: Path) -> dict[str, str]:
    """Environment for subprocesses: local wheels only, a private venvlock cache, probe log path."""
    return offline_env(
        wheelhouse,
        VENVLOCK_CACHE_DIR=str(tmp_path / "cache"),
        VENVLOCK_PROBE_LOG=str(tmp_path / "probe.log"),
        VENVLOCK_TIMEOUT="120",
    )


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A fresh venv with real pip and the install probe."""
    path = tmp_path / "venv"
    make_venv(path)
    install_probe(path)
    return path
