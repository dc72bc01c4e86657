"""The shared side of the creation lock, between real processes: readers overlap, a writer waits for them.

Each holder is a real process that takes the lock through the adapter layer
(``Adapter.using_lock`` shared, ``Adapter.creation_lock`` exclusive), writes
its start and end times to a log, and sleeps in between.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import wait_for

HOLDER = r"""
import os, sys, time
from venvlock.adapter import Adapter, LockTimeoutError, exit_code
mode, folder, seconds, log = sys.argv[1:5]
adapter = Adapter("test", purpose=f"holder {mode} {os.getpid()}")
environment = adapter.environment(folder)
manager = adapter.using_lock(environment) if mode == "shared" else adapter.creation_lock(environment)
try:
    with manager:
        with open(log, "a") as file:
            file.write(f"start {mode} {os.getpid()} {time.time():.6f}\n")
        time.sleep(float(seconds))
        with open(log, "a") as file:
            file.write(f"end {mode} {os.getpid()} {time.time():.6f}\n")
except LockTimeoutError as error:
    print(error, file=sys.stderr)
    sys.exit(exit_code(error))
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the Windows side is LockFileEx; tested on Unix here")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENVLOCK_")}
    env.update({"VENVLOCK_CACHE_DIR": str(tmp_path / "cache"), "VENVLOCK_TIMEOUT": "60", **extra})
    return env


def _start(tmp_path: Path, mode: str, seconds: float, **extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", HOLDER, mode, str(tmp_path / "env"), str(seconds), str(tmp_path / "log")]
    return subprocess.Popen(
        command, env=_env(tmp_path, **extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _intervals(log: Path) -> dict[int, tuple[str, float, float | None]]:
    found: dict[int, list[object]] = {}
    for line in log.read_text().splitlines():
        kind, mode, pid, stamp = line.split()
        entry = found.setdefault(int(pid), [mode, 0.0, None])
        entry[1 if kind == "start" else 2] = float(stamp)
    return {pid: (str(m), float(s), e if e is None else float(e)) for pid, (m, s, e) in found.items()}  # type: ignore[arg-type]


def _started(log: Path, count: int) -> bool:
    return log.exists() and log.read_text().count("start ") >= count


def _lock_file(tmp_path: Path) -> Path:
    return tmp_path / ".env.create.lock"


def test_shared_holders_overlap(tmp_path: Path) -> None:
    holders = [_start(tmp_path, "shared", 1.5) for _ in range(3)]
    assert [p.wait(60) for p in holders] == [0, 0, 0]
    runs = sorted(_intervals(tmp_path / "log").values(), key=lambda run: run[1])
    last_start = max(start for _, start, _ in runs)
    first_end = min(end for _, _, end in runs if end is not None)
    assert last_start < first_end, f"the shared holders took turns: {runs}"
    assert not list(tmp_path.glob(".env.create.lock.holder*")), "a holder file was left behind"


def test_exclusive_waits_for_shared_holders_and_names_them(tmp_path: Path) -> None:
    log = tmp_path / "log"
    reader = _start(tmp_path, "shared", 2.0)
    assert wait_for(lambda: _started(log, 1), timeout=30)
    writer = _start(tmp_path, "exclusive", 0.0)
    _, err = writer.communicate(timeout=60)
    assert reader.wait(60) == 0 and writer.returncode == 0, err
    runs = _intervals(log)
    shared_end = runs[reader.pid][2]
    assert shared_end is not None and runs[writer.pid][1] >= shared_end, runs
    assert f"held by pid {reader.pid}: holder shared {reader.pid}, running commands" in err, err


def test_shared_waits_for_exclusive_holder_and_names_it(tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = _start(tmp_path, "exclusive", 1.5)
    assert wait_for(lambda: _started(log, 1), timeout=30)
    reader = _start(tmp_path, "shared", 0.0)
    _, err = reader.communicate(timeout=60)
    assert writer.wait(60) == 0 and reader.returncode == 0, err
    runs = _intervals(log)
    exclusive_end = runs[writer.pid][2]
    assert exclusive_end is not None and runs[reader.pid][1] >= exclusive_end, runs
    assert f"held by pid {writer.pid}: holder exclusive {writer.pid}" in err, err


def test_shared_wait_times_out_naming_the_setting(tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = _start(tmp_path, "exclusive", 3.0)
    assert wait_for(lambda: _started(log, 1), timeout=30)
    reader = _start(tmp_path, "shared", 0.0, VENVLOCK_TIMEOUT="0.5")
    _, err = reader.communicate(timeout=60)
    writer.wait(60)
    assert reader.returncode == 75, err
    assert "VENVLOCK_TIMEOUT" in err and f"pid {writer.pid}" in err, err


def test_killed_shared_holder_releases(tmp_path: Path) -> None:
    log = tmp_path / "log"
    reader = _start(tmp_path, "shared", 60.0)
    assert wait_for(lambda: _started(log, 1), timeout=30)
    reader.send_signal(signal.SIGKILL)
    reader.wait(30)
    writer = _start(tmp_path, "exclusive", 0.0, VENVLOCK_TIMEOUT="5")
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert "running commands" not in err, "a dead shared holder was named as holding the lock"


def test_a_killed_shared_holders_file_is_removed_by_the_next_exclusive_holder(tmp_path: Path) -> None:
    """Before: each shared holder killed while it held the lock (tox during its commands, by SIGKILL or a CI job's
    timeout) left ``.env.create.lock.holder.<pid>`` for good, and they piled up."""
    log = tmp_path / "log"
    reader = _start(tmp_path, "shared", 60.0)
    assert wait_for(lambda: _started(log, 1), timeout=30)
    left = tmp_path / f".env.create.lock.holder.{reader.pid}"
    assert left.is_file()
    reader.send_signal(signal.SIGKILL)
    reader.wait(30)
    assert left.is_file()  # the kernel released the lock; nobody removed the file
    writer = _start(tmp_path, "exclusive", 0.0)
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert not list(tmp_path.glob(".env.create.lock.holder*")), sorted(tmp_path.iterdir())


def test_release_in_process_after_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leaving the block by an exception releases the lock and removes the holder file."""
    from venvlock.adapter import Adapter

    adapter = Adapter("test", purpose="in-process")
    environment = adapter.environment(str(tmp_path / "env"))
    monkeypatch.delenv("VENVLOCK_TIMEOUT", raising=False)
    with pytest.raises(RuntimeError), adapter.using_lock(environment) as hold:
        assert hold.locked
        assert (tmp_path / f".env.create.lock.holder.{os.getpid()}").exists()
        raise RuntimeError("boom")
    assert not list(tmp_path.glob(".env.create.lock.holder*"))
    start = time.monotonic()
    writer = _start(tmp_path, "exclusive", 0.0, VENVLOCK_TIMEOUT="0")
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert time.monotonic() - start < 30
    assert _lock_file(tmp_path).exists()


def test_probe_names_a_shared_holder(tmp_path: Path) -> None:
    """``venvlock status``'s probe sees the lock held shared and names the reader from its own holder file."""
    from venvlock.core import probe_lock

    log = tmp_path / "log"
    reader = _start(tmp_path, "shared", 2.0)
    assert wait_for(lambda: _started(log, 1), timeout=30)
    state = probe_lock(str(_lock_file(tmp_path)))
    reader.wait(60)
    assert state.state == "shared"
    assert state.holder is not None and state.holder.pid == reader.pid
    assert state.holder.command == f"holder shared {reader.pid}"


def test_exclusive_timeout_names_the_shared_holders_the_wait_named(tmp_path: Path) -> None:
    """Before: the waiting line named "pid N: ..., running commands", the timeout "another process (uv, ...)"."""
    log = tmp_path / "log"
    reader = _start(tmp_path, "shared", 30.0)
    try:
        assert wait_for(lambda: _started(log, 1), timeout=30)
        writer = _start(tmp_path, "exclusive", 0.0, VENVLOCK_TIMEOUT="1")
        _, err = writer.communicate(timeout=60)
    finally:
        reader.kill()
        reader.wait(30)
    assert writer.returncode == 75, err
    named = f"held by pid {reader.pid}: holder shared {reader.pid}, running commands"
    waiting, timeout = (line for line in err.splitlines() if "held by" in line)
    assert named in waiting and named in timeout, err
    assert "another process" not in err, err


def test_a_child_asking_shared_under_its_parents_exclusive_hold_goes_through(tmp_path: Path) -> None:
    """Before: ``venvlock run --creation --env E -- tox -e py`` waited forever; nesting covers the shared side."""
    from support import scripts_dir

    (tmp_path / "env").mkdir()
    child = [sys.executable, "-c", HOLDER, "shared", str(tmp_path / "env"), "0", str(tmp_path / "log")]
    venvlock = str(scripts_dir() / "venvlock")
    result = subprocess.run(
        [venvlock, "run", "--creation", "--env", str(tmp_path / "env"), "--", *child],
        env=_env(tmp_path, VENVLOCK_TIMEOUT="5"), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Waiting" not in result.stderr, result.stderr
    assert "start shared" in (tmp_path / "log").read_text()


#: a process that holds the creation lock shared while its child runs (tox running its commands)
READING_PARENT = r"""
import subprocess, sys
from venvlock.adapter import Adapter
adapter = Adapter("test", purpose="reading parent")
with adapter.using_lock(adapter.environment(sys.argv[1])):
    sys.exit(subprocess.call(sys.argv[2:]))
"""


def test_a_child_asking_exclusive_under_its_parents_shared_hold_goes_through(tmp_path: Path) -> None:
    """Before: ``tox -r -e X`` run by the commands of ``tox -e X`` waited for its own parent, forever (stock tox
    passes).  Held shared by ancestors alone, the lock lets their descendant go on under their hold; a reader that
    is no ancestor is waited for first."""
    log = tmp_path / "log"
    (tmp_path / "env").mkdir()
    other = _start(tmp_path, "shared", 2.0)  # a reader that is no ancestor: waited for
    assert wait_for(lambda: _started(log, 1), timeout=30)
    child = [sys.executable, "-c", HOLDER, "exclusive", str(tmp_path / "env"), "0", str(log)]
    parent = subprocess.run(
        [sys.executable, "-c", READING_PARENT, str(tmp_path / "env"), *child],
        env=_env(tmp_path, VENVLOCK_TIMEOUT="60"), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    other.wait(30)
    assert parent.returncode == 0, parent.stderr
    times = _intervals(log)
    (writer,) = [entry for pid, entry in times.items() if pid != other.pid]
    other_end = times[other.pid][2]
    assert writer[0] == "exclusive" and other_end is not None and writer[1] >= other_end, times


def test_a_link_to_the_environment_takes_its_creation_lock(tmp_path: Path) -> None:
    """One environment, one creation lock: a run through a symbolic link waits for a run through the real path."""
    (tmp_path / "env").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "env", target_is_directory=True)
    log = tmp_path / "log"
    writer = _start(tmp_path, "exclusive", 60.0)
    try:
        assert wait_for(lambda: _started(log, 1), timeout=30)
        command = [sys.executable, "-c", HOLDER, "shared", str(tmp_path / "link"), "0", str(log)]
        reader = subprocess.run(
            command, env=_env(tmp_path, VENVLOCK_TIMEOUT="0.5"), capture_output=True, text=True, timeout=120
        )
        assert reader.returncode == 75, f"the run through the link did not wait for the holder: {reader.stderr}"
        assert f"pid {writer.pid}" in reader.stderr, reader.stderr
    finally:
        writer.kill()
        writer.wait(30)
    assert not (tmp_path / ".link.create.lock").exists()
