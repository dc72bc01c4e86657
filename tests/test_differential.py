"""venvlock's verdict against real pip's ``install --dry-run --report`` (see ``differential.py``).

The fast part (default suite) runs a fixed corpus against one synced venv and
one pip process; ``-m stress`` (``nox -s differential``) adds a seeded random
corpus and whole runs in twin environments compared by ``pip list``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from differential import (
    Case,
    PipOracle,
    build_corpus_wheelhouse,
    judge,
    make_synced_venv,
    random_cases,
)
from support import make_venv, offline_env, pip_locked, venv_python

#: each xdist worker keeps its world (wheels, synced venv, pip oracle) to the end of the session: made once there

HASH = "sha256:" + "0" * 64
CORPUS = [
    Case(["alpha"], expect=True),
    Case(["FOO.BAR>=1", "foo-bar"], expect=True),
    Case(["beta>=2"], expect=False),
    Case(["pre"], expect=True),
    Case(["loc==1.0", "epo>=1!0"], expect=True),
    Case(["epo<1"], expect=False),
    Case(["gamma[fast]", "alpha[nothing]", 'unused; python_version < "3"'], expect=True),
    Case(["eggy[x]"], expect=True),
    Case(["needs[more]"], expect=False),
    Case(["-r", "req.txt"], files={"req.txt": "beta${SPEC}\n"}, env={"SPEC": "<2"}, expect=True),
    Case(["-r", "req.txt"], files={"req.txt": "beta${SPEC}\n"}, env={"SPEC": ">=2"}, expect=False),
    Case(
        ["-r", "dev.txt", "-r", "req.txt"], files={"dev.txt": "-c req.txt\nbeta\n", "req.txt": "unused\n"}, expect=False
    ),
    Case(["beta", "-c", "cons.txt"], files={"cons.txt": "-r more.txt\n", "more.txt": "unused\n"}, expect=False),
    Case(["-r", "req.txt"], files={"req.txt": f"beta==1.0 --hash={HASH}\n"}, expect=None),
    Case(["--upgr", "beta"], expect=None),
    Case(["--force-re", "--no-dep", "beta"], expect=None),
    Case(["--user", "beta"], expect=None),
    Case(["--target", "t", "beta"], expect=None),
    Case(["--prefix", "p", "beta"], expect=None),
    Case(["beta"], env={"PIP_UPGRADE": "1"}, expect=None),
    Case(["alpha"], env={"PIP_CONSTRAINT": "c.txt"}, files={"c.txt": "beta>=2\n"}, expect=False),
    Case(["beta"], site_conf="[install]\nupgrade = true\n", expect=None),
    Case(["alpha"], user_conf="[global]\nconstraint = c.txt\n", files={"c.txt": "beta>=2\n"}, expect=False),
    Case(["beta"], site_conf="[global]\nno-index = true\nfind-links = /nowhere\n", expect=True),
]


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, PipOracle]]:
    folder = tmp_path_factory.mktemp("differential")
    wheelhouse = build_corpus_wheelhouse(folder / "wheels")
    venv = make_synced_venv(folder, wheelhouse)
    oracle = PipOracle(venv)
    yield wheelhouse, venv, oracle
    oracle.close()


def test_the_check_never_says_satisfied_where_pip_installs(world: tuple[Path, Path, PipOracle], tmp_path: Path) -> None:
    wheelhouse, venv, oracle = world
    problems = [judge(case, venv, tmp_path / str(i), wheelhouse, oracle) for i, case in enumerate(CORPUS)]
    assert [p for p in problems if p] == []


@pytest.mark.slow
def test_the_oracle_is_pip(world: tuple[Path, Path, PipOracle], tmp_path: Path) -> None:
    """The long-lived pip answers as a pip process does (one case each way)."""
    wheelhouse, venv, oracle = world
    env = offline_env(wheelhouse)
    for args, installs in ((["alpha"], False), (["unused"], True)):
        answer = oracle.ask(args, tmp_path, env)
        process = subprocess.run(
            [str(venv_python(venv)), "-m", "pip", "install", "--dry-run", *args],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert bool(answer["install"]) is installs is ("Would install" in process.stdout)


@pytest.mark.stress
@pytest.mark.parametrize("seed", range(4))
def test_random_corpus(world: tuple[Path, Path, PipOracle], tmp_path: Path, seed: int) -> None:
    wheelhouse, venv, oracle = world
    cases = list(random_cases(seed, 150))
    problems = [judge(case, venv, tmp_path / str(i), wheelhouse, oracle) for i, case in enumerate(cases)]
    assert [p for p in problems if p] == []


# --------------------------------------------------------------------------------------------------
# whole runs: the same commands through pip-locked and through pip leave the same environment
# --------------------------------------------------------------------------------------------------
RUNS = [
    ["install", "alpha"],
    ["install", "beta==1.0"],
    ["install", "-r", "req.txt"],
    ["install", "alpha", "beta<2"],
    ["install", "-U", "beta"],
    ["install", "--no-deps", "gamma"],
    ["uninstall", "-y", "delta"],
    ["install", "alpha"],
    ["install", "needs[more]"],
]


def pip_list(venv: Path, env: dict[str, str]) -> str:
    return subprocess.run(
        [str(venv_python(venv)), "-m", "pip", "list", "--format=freeze"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def twin_runs(folder: Path, wheelhouse: Path, runs: list[list[str]]) -> tuple[str, str]:
    (folder / "req.txt").write_text("Foo_Bar\nepo\n")
    lists = []
    for name, command in (("stock", None), ("locked", pip_locked())):
        venv = folder / name
        make_venv(venv)
        env = offline_env(wheelhouse, VIRTUAL_ENV=str(venv), VENVLOCK_CACHE_DIR=str(folder / "cache"))
        for args in runs:
            argv = [str(venv_python(venv)), "-m", "pip", *args] if command is None else [command, *args]
            result = subprocess.run(argv, env=env, cwd=folder, capture_output=True, text=True)
            assert result.returncode == 0, (name, args, result.stderr)
        lists.append(pip_list(venv, env))
    return lists[0], lists[1]


@pytest.mark.slow
def test_twin_environments_end_the_same(world: tuple[Path, Path, PipOracle], tmp_path: Path) -> None:
    wheelhouse, _, _ = world
    stock, locked = twin_runs(tmp_path, wheelhouse, [RUNS[0], RUNS[2]])
    assert stock == locked


@pytest.mark.stress
@pytest.mark.parametrize("seed", range(3))
def test_twin_environments_end_the_same_on_random_runs(
    world: tuple[Path, Path, PipOracle], tmp_path: Path, seed: int
) -> None:
    import random

    wheelhouse, _, _ = world
    rng = random.Random(seed)
    runs = [rng.choice(RUNS) for _ in range(8)]
    stock, locked = twin_runs(tmp_path, wheelhouse, runs)
    assert stock == locked, runs


def test_harness_would_catch_a_false_satisfied(world: tuple[Path, Path, PipOracle], tmp_path: Path) -> None:
    """The harness is able to fail: a case pip would install, claimed satisfied, is reported."""
    wheelhouse, venv, oracle = world
    answer = oracle.ask(["unused"], tmp_path, offline_env(wheelhouse))
    assert answer["install"] == ["unused"]
    assert os.path.isdir(venv)
