"""``venvlock verify`` on real venvs: the environment it is given (through links, of an interpreter), the lock wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import scripts_dir, site_packages, venv_python, wait_for


def venvlock(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(scripts_dir() / "venvlock"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def pip(venv: Path, env: dict[str, str], *args: str) -> None:
    done = subprocess.run([str(venv_python(venv)), "-m", "pip", *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_linked_environment_path_checks_the_real_environment(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    pip(venv, env, "install", "delta")
    (site_packages(venv) / "delta" / "part_0.py").write_text("changed\n")
    link = tmp_path / "envlink"
    link.symlink_to(venv, target_is_directory=True)
    for args, extra in (((str(link),), {}), ((), {"VIRTUAL_ENV": str(link)})):
        found = venvlock("verify", *args, env={**env, **extra})
        assert found.returncode == 1, found.stdout + found.stderr
        assert "delta 1.0: file changed" in found.stdout
    plan = venvlock("repair", "--dry-run", str(link), env=env)
    assert "Would reinstall delta==1.0" in plan.stdout, plan.stdout


@pytest.mark.slow  # hashes every file of the base interpreter (and of Debian's dist-packages)
def test_an_interpreter_is_asked_for_its_own_environment(offline: dict[str, str], tmp_path: Path) -> None:
    """From a venv with venvlock, the base interpreter is verified, not the venv (its python links to the base)."""
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    assert sys.prefix != sys.base_prefix, "the tests run in a venv"
    found = venvlock("verify", "--json", "--no-cache", base, env=offline)
    report = json.loads(found.stdout)
    assert report["environment"] == sys.base_prefix and report["kind"] == "interpreter", report["environment"]
    assert all(not folder.startswith(sys.prefix + os.sep) for folder in report["site_folders"])
    (status,) = json.loads(venvlock("status", "--json", base, env=offline).stdout)
    assert status["environment"] == sys.base_prefix, status["environment"]
    creation = status["creation_lock"]  # none for an interpreter: nothing creates it (never /.usr.create.lock)
    assert creation is None or not creation["path"].startswith(os.path.dirname(sys.base_prefix) + os.sep + ".")
    if os.path.isdir("/usr/lib/python3/dist-packages") and os.access("/usr/bin/python3", os.X_OK):
        debian = json.loads(venvlock("verify", "--json", "--no-cache", "/usr/bin/python3", env=offline).stdout)
        assert "/usr/lib/python3/dist-packages" in debian["site_folders"]  # Debian's packages: dist-packages
        assert debian["checked"]["distributions"] > 0


def test_a_verification_that_covered_nothing_says_so(offline: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(empty)], check=True)
    found = venvlock("verify", str(empty), env=offline)
    assert found.returncode == 3, found.stdout + found.stderr
    assert "Nothing verified" in found.stdout and "No damage found" not in found.stdout
    assert json.loads(venvlock("verify", "--json", str(empty), env=offline).stdout)["covered_nothing"] is True


def test_the_lock_wait_is_reported_apart_from_the_check(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    script = (
        "import os, sys, time\nopen(sys.argv[1], 'w').close()\n"
        "while not os.path.exists(sys.argv[2]): time.sleep(0.02)\n"
    )
    holder = subprocess.Popen(
        [str(scripts_dir() / "venvlock"), "run", "--", sys.executable, "-c", script, str(started), str(release)],
        env=env,
    )
    try:
        assert wait_for(started.exists, timeout=60)
        waiter = subprocess.Popen(
            [str(scripts_dir() / "venvlock"), "verify", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert waiter.stderr is not None
        first = waiter.stderr.readline()
        if first.startswith("venvlock: environment:"):  # which environment it chose, and why
            first = waiter.stderr.readline()
        assert "Waiting for lock" in first  # the event: verify is waiting now
        release.touch()
        out, _ = waiter.communicate(timeout=120)
    finally:
        release.touch()
        holder.wait(timeout=60)
    report = json.loads(out)
    assert report["waited"] > 0 and report["seconds"] > 0, report  # the wait and the check's own time, apart
