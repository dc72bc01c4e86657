"""Nesting between real processes: a descendant of a holder goes on under its hold, whatever its environment.

A tool that filters the environment of its children (tox does, for its
``install_command``) drops ``VENVLOCK_HELD``; the process tree still says
that the holder is an ancestor.  The lock is the truth: a holder file that
names a live process holding nothing names no holder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import overlapping, pip_locked, read_probe, run, scripts_dir, tools_path

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the process tree is read from /proc")

VENVLOCK = str(scripts_dir() / "venvlock")


def _run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload,no-any-return]


def test_nesting_survives_a_filtered_environment(env: dict[str, str], venv: Path) -> None:
    """Before: with ``VENVLOCK_HELD`` dropped, pip-locked waited for its own parent's hold until the timeout (75)."""
    filtered = ["env", "-u", "VENVLOCK_HELD", pip_locked(), "install", "beta"]
    result = _run([VENVLOCK, "run", "--env", str(venv), "--", *filtered], {**env, "VENVLOCK_TIMEOUT": "5"})
    assert result.returncode == 0, result.stderr
    assert "Waiting" not in result.stderr, result.stderr


@pytest.mark.slow  # a tox install_command under tox's lock: test_uv_handoff's tox case is the default one
def test_tox_with_pip_locked_as_install_command(wheelhouse: Path, tmp_path: Path) -> None:
    """Before: tox's filtered environment made pip-locked wait for its tox parent: exit 75 after the timeout."""
    pytest.importorskip("tox")
    from helpers.tox_project import run_tox, tox_env, write_project

    extra = (
        "allowlist_externals = pip-locked\ninstall_command = pip-locked --python {envpython} install {opts} {packages}"
    )
    project = write_project(tmp_path / "project", extra=extra)
    env = {**tox_env(wheelhouse, tmp_path), "PATH": tools_path(), "VENVLOCK_TIMEOUT": "10"}
    result = run_tox(project, env, "-e", "py")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "timed out" not in result.stdout + result.stderr


@pytest.mark.slow  # two tox runs on a stale file left by kill -9 and pid reuse: a regression case, run by CI
def test_a_stale_holder_file_naming_a_live_process_is_not_a_holder(wheelhouse: Path, tmp_path: Path) -> None:
    """Before: a stale ``.py.create.lock.holder`` naming a live pid beside ``.py.incomplete`` made tox spin forever."""
    pytest.importorskip("tox")
    from helpers.tox_project import run_tox, tox_env, write_project

    project = write_project(tmp_path / "project")
    env = {**tox_env(wheelhouse, tmp_path), "VENVLOCK_TIMEOUT": "20"}
    assert run_tox(project, env, "-e", "py").returncode == 0
    # what kill -9 of `tox -r` leaves, its pid later reused by a live process (here: this one)
    (project / ".tox" / ".py.incomplete").write_text(f"{os.getpid()}\ntox -r -e py\n")
    (project / ".tox" / ".py.create.lock.holder").write_text(f"{os.getpid()}\ntox -r -e py\n")
    try:
        result = subprocess.run(
            [str(scripts_dir() / "tox"), "-e", "py"], cwd=project, env=env, capture_output=True, text=True, timeout=90
        )
    except subprocess.TimeoutExpired:
        pytest.fail("tox spun on a stale holder file")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert not (project / ".tox" / ".py.incomplete").exists()


@pytest.mark.parametrize(
    "round_", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)]
)
def test_waiters_never_make_files_in_a_folder_being_removed(
    env: dict[str, str], venv: Path, tmp_path: Path, round_: int
) -> None:
    """Before: waiters made ``.lock.sync`` again every poll inside the folder ``rm -rf`` was removing.

    The docs' own recreation, ``venvlock run --creation --env E -- sh -c 'rm -rf E && python -m venv E'``,
    failed "Directory not empty" about 1 time in 3 while other venvlock processes waited for E's lock.
    """
    started, go = tmp_path / "started", tmp_path / "go"
    script = (
        f"touch {started}; while [ ! -e {go} ]; do sleep 0.02; done; "
        f"rm -rf {venv} && {sys.executable} -m venv --without-pip {venv}"
    )
    holder = subprocess.Popen(
        [VENVLOCK, "run", "--creation", "--env", str(venv), "--", "sh", "-c", script],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    waiters: list[subprocess.Popen[str]] = []
    try:
        from support import wait_for

        assert wait_for(started.exists, timeout=120), "the holder never ran its command"
        for _ in range(3):
            waiter = subprocess.Popen(
                [VENVLOCK, "run", "--env", str(venv), "--", "true"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            waiters.append(waiter)
            assert waiter.stderr is not None
            line = waiter.stderr.readline()
            assert line.startswith("Waiting for lock"), line
    finally:
        go.touch()
        _, err = holder.communicate(timeout=120)
    assert holder.returncode == 0, err
    for waiter in waiters:
        _, rest = waiter.communicate(timeout=120)
        assert waiter.returncode == 0, rest
    assert (venv / "pyvenv.cfg").exists()


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


THREADS = """
import os, sys, threading, time
from venvlock.core import Environment, hooks
environment = Environment.for_venv(sys.argv[1])
events = []
first_in = threading.Event()

def lock(name):
    if sys.argv[2] == "create":
        return hooks().venvlock_creation_lock(environment=environment, purpose=name, quiet=True, default_timeout=None)
    return hooks().venvlock_environment_lock(environment=environment, purpose=name, quiet=True)

def worker(name, hold_for):
    with lock(name) as hold:
        events.append(("in", name, time.monotonic(), hold.nested, os.environ.get("VENVLOCK_HELD", "")))
        first_in.set()
        time.sleep(hold_for)
        events.append(("out", name, time.monotonic(), None, ""))

a = threading.Thread(target=worker, args=("a", 1.0))
a.start()
first_in.wait()
b = threading.Thread(target=worker, args=("b", 0.0))
b.start()
a.join(); b.join()
seen = {(kind, name): (at, nested, held) for kind, name, at, nested, held in events}
(a_in, a_nested, a_held), (b_in, b_nested, b_held) = seen["in", "a"], seen["in", "b"]
assert b_in >= seen["out", "a"][0], "thread b entered while thread a held the lock"
assert not a_nested and not b_nested, events
assert os.path.dirname(sys.argv[1]) in a_held and os.path.dirname(sys.argv[1]) in b_held, (a_held, b_held)
assert "VENVLOCK_HELD" not in os.environ, os.environ.get("VENVLOCK_HELD")
print("ok")
"""


@pytest.mark.parametrize("kind", ["env", pytest.param("create", marks=pytest.mark.slow)])
def test_a_second_thread_waits_for_the_lock_another_thread_holds(env: dict[str, str], venv: Path, kind: str) -> None:
    """Before: the second thread went through as "nested" at once."""
    result = run([sys.executable, "-c", THREADS, str(venv), kind], {**env, "VENVLOCK_TIMEOUT": "30"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


SYNC_THREADS = """
import sys, threading, time
from venvlock.core import Environment, SyncRequest, hooks
environment = Environment.for_venv(sys.argv[1])
codes = []

def sync(requirement):
    result = hooks().venvlock_sync(environment=environment, request=SyncRequest([requirement], quiet=True))
    codes.append(result.returncode)

threads = [threading.Thread(target=sync, args=(name,)) for name in ("heavy0==1.0", "heavy1==1.0", "heavy2==1.0")]
for thread in threads:  # one after the other: each next one arrives while the one before installs
    thread.start()
    time.sleep(0.4)
for thread in threads:
    thread.join()
print(codes)
"""


@pytest.mark.slow
def test_syncs_from_threads_of_one_process_never_overlap(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    result = run([sys.executable, "-c", SYNC_THREADS, str(venv)], env)
    assert result.returncode == 0 and result.stdout.strip().endswith("[0, 0, 0]"), result.stderr
    runs = read_probe(tmp_path / "probe.log")
    assert len(runs) == 3 and not overlapping(runs), runs
