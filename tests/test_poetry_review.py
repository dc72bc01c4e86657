"""The poetry plugin, reviewed: what a poetry command reads and locks when it waited or chose its interpreter.

Same projects, index and poetry as ``tests/test_poetry.py`` (its fixtures).
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.poetry_project import installed, poetry, problems_of, run_poetry, write_project
from helpers.processes import Lines, finish
from support import run_many, scripts_dir, wait_for
from test_poetry import HOLD, env, index, start_holder

__all__ = ["env", "index"]  # fixtures of test_poetry, used here

#: where interpreters of other minor versions may be (a test that needs one is skipped without)
OTHER_PYTHONS = (
    "/usr/bin/python3.*",
    "/usr/local/bin/python3.*",
    os.path.expanduser("~/.pyenv/versions/*/bin/python3.*"),
)


def other_python() -> tuple[Path, str] | None:
    """An interpreter of another minor version than the tests' (3.10 or later) and its ``X.Y``, if there is one."""
    for pattern in OTHER_PYTHONS:
        for candidate in sorted(glob.glob(pattern)):
            name = os.path.basename(candidate)
            if not name.replace("python", "").replace(".", "").isdigit():
                continue  # python3.12-config and the like
            found = subprocess.run(
                [candidate, "-c", "import sys; print(*sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=False,
            )
            minor = tuple(int(part) for part in found.stdout.split()) if found.returncode == 0 else ()
            if minor != sys.version_info[:2] and minor >= (3, 10):
                return Path(candidate), "{}.{}".format(*minor)
    return None


def test_a_waiting_install_reads_the_project_as_it_is_after_the_wait(
    tmp_path: Path, index: str, env: dict[str, str]
) -> None:
    """``pyproject.toml`` and ``poetry.lock`` changed while ``poetry install`` waited: it installs what they say.

    As stock poetry run after the change would.  Before, the waiting install compared the ``pyproject.toml`` it
    had read before its wait with the new lock file and failed ("pyproject.toml changed significantly since
    poetry.lock was last generated").
    """
    project = write_project(tmp_path / "project", index)
    assert run_poetry(project, env, "install").returncode == 0
    flags = tmp_path / "flags"
    holder = start_holder(project, env, flags)
    try:
        waiting = subprocess.Popen(
            poetry("install"), cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        lines = Lines(waiting)
        lines.wait_for("Waiting for lock on environment .venv")
        write_project(project, index, deps=("alpha", "heavy3"))  # what a `poetry add heavy3` holding .venv does
        assert run_poetry(project, env, "lock").returncode == 0
    finally:
        (flags / "release").touch()
    assert finish(holder)[0] == 0
    assert waiting.wait(timeout=300) == 0, lines.text()
    assert installed(project, "heavy3"), lines.text()
    assert problems_of(project) == []


def test_the_environment_of_an_interpreter_poetry_looks_for_is_the_one_locked(
    tmp_path: Path, index: str, env: dict[str, str]
) -> None:
    """The project allows only another python than the active one: poetry makes ``<name>-pyX.Y`` of the one it
    finds, and that folder is the one created under the creation lock and locked.

    Before, venvlock foresaw the active python's folder: it locked that one (leaving a stray folder poetry then
    took for a broken venv and deleted under the other command's lock), and the real venv was created and filled
    by both commands at once, unlocked ("cannot lock environment ... does not exist; going on").
    """
    found = other_python()
    if found is None:
        pytest.skip("no interpreter of another minor version (3.10 or later) found")
    interpreter, version = found
    links = tmp_path / "pythons"  # the active python is the tests' one, poetry finds the other by its name
    links.mkdir()
    (links / f"python{version}").symlink_to(interpreter)
    for name in ("python", "python3"):
        (links / name).symlink_to(os.path.realpath(sys.executable))
    env = {**env, "POETRY_VIRTUALENVS_IN_PROJECT": "false", "PATH": f"{links}{os.pathsep}{env['PATH']}"}
    project = write_project(tmp_path / "project", index)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('">=3.10"', f'"=={version}.*"'))
    assert run_poetry(project, env, "lock").returncode == 0

    results = run_many([poetry("install")] * 2, env=env, cwd=project)
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    output = "".join(r.stderr for r in results)
    assert "cannot lock" not in output and "broken" not in output, output
    virtualenvs = tmp_path / "poetry-cache" / "virtualenvs"
    (venv,) = (path for path in virtualenvs.iterdir() if path.is_dir())
    assert venv.name.endswith(f"-py{version}"), venv
    assert (venv / ".lock").exists() and (virtualenvs / f".{venv.name}.create.lock").exists()
    (site,) = (venv / "lib").glob("python*/site-packages")
    assert any(site.glob("alpha-*.dist-info"))


def test_env_remove_waits_for_the_environment_in_use(tmp_path: Path, index: str, env: dict[str, str]) -> None:
    """``poetry env remove --all`` while another process syncs ``.venv``: it waits (naming the holder), then removes.

    poetry's removals (``env remove``, ``env use`` of another patch version, a broken venv recreated) take the
    creation lock and the environment lock of the folder.  Before, ``env remove`` deleted ``.venv`` under the
    other process's install at once.  Past ``VENVLOCK_TIMEOUT``: exit 75, venvlock's message, nothing removed.
    """
    project = write_project(tmp_path / "project", index)
    assert run_poetry(project, env, "install").returncode == 0
    flags = tmp_path / "flags"
    holder = start_holder(project, env, flags)
    try:
        timed_out = run_poetry(project, {**env, "VENVLOCK_TIMEOUT": "1"}, "env", "remove", "--all")
        assert timed_out.returncode == 75, timed_out.stderr
        assert "venvlock: timed out after 1s waiting for lock on environment .venv" in timed_out.stderr
        assert (project / ".venv" / "pyvenv.cfg").exists()
        removing = subprocess.Popen(
            poetry("env", "remove", "--all"),
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = Lines(removing)
        lines.wait_for("Waiting for lock on environment .venv", "hold.py")
        assert (project / ".venv" / "pyvenv.cfg").exists() and removing.poll() is None
    finally:
        (flags / "release").touch()
    assert finish(holder)[0] == 0
    assert removing.wait(timeout=300) == 0, lines.text()
    assert not (project / ".venv").exists()
    assert run_poetry(project, env, "install").returncode == 0  # made again
    assert installed(project, "alpha")


@pytest.mark.slow  # a variant of test_a_waiting_install_reads_the_project_as_it_is_after_the_wait
def test_concurrent_adds_keep_each_others_dependency(tmp_path: Path, index: str, env: dict[str, str]) -> None:
    """``poetry add heavy3`` and ``poetry add heavy4`` at once: both end in ``pyproject.toml``, the lock file and
    ``.venv``; the one that waited adds its dependency to what the other wrote, as if run after it."""
    project = write_project(tmp_path / "project", index)
    assert run_poetry(project, env, "install").returncode == 0
    results = run_many([poetry("add", "heavy3"), poetry("add", "heavy4")], env=env, cwd=project)
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    text = (project / "pyproject.toml").read_text()
    assert "heavy3" in text and "heavy4" in text, text
    assert installed(project, "heavy3") and installed(project, "heavy4")
    check = run_poetry(project, env, "check", "--lock")
    assert check.returncode == 0, check.stdout + check.stderr
    assert problems_of(project) == []


@pytest.mark.slow  # a variant of test_a_waiting_install_reads_the_project_as_it_is_after_the_wait
def test_a_creation_that_waited_reads_the_project_as_it_is_after_the_wait(
    tmp_path: Path, index: str, env: dict[str, str]
) -> None:
    """As :func:`test_a_waiting_install_reads_the_project_as_it_is_after_the_wait`, the wait being for the
    creation lock (``venvlock run --creation`` holds both locks, and lets both go at once)."""
    project = write_project(tmp_path / "project", index)
    assert run_poetry(project, env, "install").returncode == 0
    flags = tmp_path / "flags"
    flags.mkdir()
    (project / "hold.py").write_text(HOLD)
    command = [str(scripts_dir() / "venvlock"), "run", "--creation", "--env", ".venv", "--"]
    holder = subprocess.Popen(
        [*command, sys.executable, "hold.py", str(flags)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: (flags / "started").exists(), timeout=120), holder.stderr
        (project / ".venv" / "bin" / "python").unlink()  # what a creation under way looks like: no python yet
        waiting = subprocess.Popen(
            poetry("install"), cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        lines = Lines(waiting)
        lines.wait_for("Waiting for lock on environment .venv", ".venv.create.lock")
        write_project(project, index, deps=("alpha", "heavy3"))
        assert run_poetry(project, {**env, "VENVLOCK_POETRY": "0"}, "lock").returncode == 0
    finally:
        (flags / "release").touch()
    assert finish(holder)[0] == 0
    assert waiting.wait(timeout=300) == 0, lines.text()
    assert installed(project, "heavy3"), lines.text()
