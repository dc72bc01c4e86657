"""The fault-injection matrix: a sync killed at each named point; the next run leaves a whole environment.

Faults are injected through the test-only hook ``VENVLOCK_TEST_FAULT=<phase>:<signal>``
(:func:`venvlock.core._journal.inject_fault`): the process sends the signal to
its own process group (SIGKILL, SIGINT, SIGTERM: what a terminal's Ctrl-C, a
CI runner's timeout and ``kill -9`` of a job do) when it reaches the phase,
for pip-locked, ``venvlock run``, nox (a reused environment) and tox.
After each fault the same command runs again without it: it must exit 0,
``venvlock verify`` must find no damage, the lock must be free, and nothing
outside the environment may have changed.  A killed installer mid-run (the
phase between ``journal`` and ``installed``) is covered with real pip in
``tests/test_journal.py``.

The default suite runs :data:`SAMPLE`; ``nox -s chaos`` runs every case
(they are marked slow) and prints the table (``python tests/test_fault_matrix.py TABLE-FILE``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from support import check_intact, make_venv, pip_locked, run, scripts_dir, venv_python, versions
from venvlock.adapter import Adapter

ADAPTERS = ("pip-locked", "run", "nox", "tox")
PHASES = ("locked", "journal", "installed", "recorded", "heal")
FAULTS = ("SIGKILL", "SIGINT", "SIGTERM")
#: the cases the default suite runs (seconds); the rest are marked slow
SAMPLE = {("pip-locked", "journal", "SIGKILL"), ("run", "journal", "SIGTERM")}
#: where ``nox -s chaos`` collects one line per case
TABLE_VAR = "VENVLOCK_CHAOS_TABLE"


NOXFILE = """
import nox
from venvlock.plugins.nox import session


@session(venv_backend="virtualenv", reuse_venv=True)
def env(session):
    session.install("alpha")
"""


def _command(adapter: str, venv: Path) -> list[str]:
    if adapter == "pip-locked":
        return [pip_locked(), "install", "alpha"]
    if adapter == "tox":
        from helpers.tox_project import TOX

        return [TOX, "-e", "py"]
    if adapter == "nox":  # its project is the folder of .nox, the folder of venv
        return [sys.executable, "-m", "nox", "-f", str(venv.parent.parent / "noxfile.py"), "-s", "env"]
    venvlock = str(scripts_dir() / "venvlock")
    return [venvlock, "run", "-p", str(venv), "--", str(venv_python(venv)), "-m", "pip", "install", "alpha"]


def _run_in_group(command: list[str], env: dict[str, str], cwd: Path) -> int:
    """Run *command* in a process group of its own (the fault signals the group), to the end."""
    process = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd
    )
    try:
        process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def _outside(folder: Path, venv: Path, cache: Path) -> dict[str, int]:
    """Every path under *folder* but the environment and venvlock's cache, with its size."""
    found = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if Path(root, d) not in (venv, cache)]
        for name in files:
            path = Path(root, name)
            if name == "stamps.log":  # the tox project's command writes it
                continue
            found[str(path)] = path.lstat().st_size
    return found


CASES = [
    pytest.param(adapter, phase, fault, marks=() if (adapter, phase, fault) in SAMPLE else pytest.mark.slow)
    for adapter in ADAPTERS
    for phase in PHASES
    for fault in FAULTS
]


@pytest.mark.parametrize(("adapter", "phase", "fault"), CASES)
def test_the_run_after_a_fault_leaves_a_whole_environment(
    offline: dict[str, str], tmp_path: Path, adapter: str, phase: str, fault: str
) -> None:
    if adapter == "nox":
        venv = tmp_path / ".nox" / "env"
        (tmp_path / "noxfile.py").write_text(NOXFILE)
        env = dict(offline)
    elif adapter == "tox":
        from helpers.tox_project import tox_env, write_project

        write_project(tmp_path, deps=("alpha",))
        venv = tmp_path / ".tox" / "py"
        env = {
            **tox_env(Path(offline["PIP_FIND_LINKS"]), tmp_path),
            "VENVLOCK_CACHE_DIR": offline["VENVLOCK_CACHE_DIR"],
        }
    else:
        venv = tmp_path / "env"
        make_venv(venv)
        env = {**offline, "VIRTUAL_ENV": str(venv)}
    cache = Path(env["VENVLOCK_CACHE_DIR"])
    command = _command(adapter, venv)
    own = venv if adapter in ("pip-locked", "run") else venv.parent  # the tool's work folder: .nox, .tox
    before = _outside(tmp_path, own, cache)
    if phase == "heal":  # a sync to heal first: one killed with its journal written
        _run_in_group(command, {**env, "VENVLOCK_TEST_FAULT": "journal:SIGKILL"}, tmp_path)
    returncode = _run_in_group(command, {**env, "VENVLOCK_TEST_FAULT": f"{phase}:{fault}"}, tmp_path)
    injected = returncode != 0

    again = run(command, env, cwd=tmp_path)
    verify = run([str(scripts_dir() / "venvlock"), "verify", str(venv)], env)
    environment = Adapter.environment(str(venv))
    state = Adapter.lock_state(Adapter.lock_path(environment)).state
    problems = check_intact(venv)
    changed = _outside(tmp_path, own, cache) != before
    survived = (
        again.returncode == 0
        and verify.returncode == 0
        and not problems
        and state in ("free", "missing")
        and not changed
        and {"alpha", "beta", "gamma", "delta"} <= set(versions(venv))
    )
    table = os.environ.get(TABLE_VAR)
    if table:
        with open(table, "a", encoding="utf-8") as file:
            file.write(f"{adapter} {phase} {fault} {int(injected)} {int(survived)}\n")
    assert again.returncode == 0, again.stderr
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert problems == []
    assert state in ("free", "missing")
    assert not changed, set(_outside(tmp_path, own, cache).items()) ^ set(before.items())
    assert survived, versions(venv)


def print_table(path: str) -> None:
    """The table of a ``nox -s chaos`` run: per adapter and fault, faults injected / survived."""
    rows: dict[tuple[str, str], list[int]] = {}
    with open(path, encoding="utf-8") as file:
        for line in file:
            adapter, _phase, fault, injected, survived = line.split()
            counts = rows.setdefault((adapter, fault), [0, 0, 0])
            counts[0] += 1
            counts[1] += int(injected)
            counts[2] += int(injected) and int(survived)
    print("| adapter | fault | cases | faults injected | survived |\n|---|---|---|---|---|")
    for (adapter, fault), (cases, injected, survived) in sorted(rows.items()):
        print(f"| {adapter} | {fault} | {cases} | {injected} | {survived} |")


if __name__ == "__main__":
    print_table(sys.argv[1])
