"""Heavy concurrency: 100 pip-locked processes on one venv. Not in the default run; `nox -s stress` runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import check_intact, overlapping, pip_locked, read_probe, run_many

pytestmark = pytest.mark.stress


def test_100_concurrent_cold_installs(offline: dict[str, str], venv: Path, tmp_path: Path) -> None:
    env = {**offline, "VIRTUAL_ENV": str(venv), "VENVLOCK_TIMEOUT": "600"}
    results = run_many([[pip_locked(), "install", "alpha", "heavy0==1.0", "heavy1==2.0"]] * 100, env=env, timeout=900)
    assert [r.returncode for r in results] == [0] * 100, [r.stderr for r in results if r.returncode][:3]
    assert len(read_probe(tmp_path / "probe.log")) == 1
    assert check_intact(venv) == []


def test_100_concurrent_mixed_versions_never_overlap(offline: dict[str, str], venv: Path, tmp_path: Path) -> None:
    env = {**offline, "VIRTUAL_ENV": str(venv), "VENVLOCK_TIMEOUT": "900"}
    commands = [[pip_locked(), "install", f"beta=={1 + n % 2}.0", "heavy0==1.0"] for n in range(100)]
    results = run_many(commands, env=env, timeout=1200)
    assert [r.returncode for r in results] == [0] * 100
    assert overlapping(read_probe(tmp_path / "probe.log")) == []
    assert check_intact(venv) == []
