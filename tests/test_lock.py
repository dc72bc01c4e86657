"""The locks themselves, between real processes: release, replaced files, the creation lock, the holder file."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from support import wait_for
from venvlock.core import probe_lock

# A process that takes and releases venvlock's locks on command, one command per line on stdin.
DRIVER = """
import os, sys
from venvlock.core import Environment, hooks
environment = Environment.for_venv(sys.argv[1])
relay = hooks()
holds = []
for line in sys.stdin:
    word = line.strip()
    if word == "env":
        holds.append(relay.venvlock_environment_lock(environment=environment, purpose="driver env", quiet=False))
        holds[-1].__enter__()
    elif word == "create":
        holds.append(relay.venvlock_creation_lock(
            environment=environment, purpose="driver create", quiet=False, default_timeout=None))
        holds[-1].__enter__()
    elif word == "release-first":
        holds.pop(0).__exit__(None, None, None)
    elif word == "release":
        holds.pop().__exit__(None, None, None)
    elif word == "replace":  # what nox does: the folder goes, a new one comes
        os.rename(environment.path, environment.path + ".old")
        os.mkdir(environment.path)
    elif word == "away":  # the first half of a recreation: the folder is gone for a while
        os.rename(environment.path, environment.path + ".old")
    elif word == "back":
        os.mkdir(environment.path)
    elif word == "environ":
        word += " " + os.environ.get("VENVLOCK_HELD", "unset").replace(chr(10), "|")
        word += " " + str(os.environ.get("UV_LOCK_TIMEOUT"))
    print("ok", word, flush=True)
"""


def _readline(stream: IO[str], timeout: float = 60.0) -> str:
    """One line from a child's pipe, or a test failure after *timeout* seconds (never a hung suite)."""
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, f"no line from the driver within {timeout:.0f}s"
    return stream.readline()


class Driver:
    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(folder)],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def send(self, word: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def reply(self) -> str:
        assert self.proc.stdout is not None
        return _readline(self.proc.stdout).strip()

    def do(self, word: str) -> str:
        self.send(word)
        return self.reply()

    def stderr_line(self) -> str:
        assert self.proc.stderr is not None
        return _readline(self.proc.stderr)

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    venv = tmp_path / "env"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text(f"home = {os.path.dirname(sys.executable)}\n")
    return venv


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("VENVLOCK_")}, "VENVLOCK_TIMEOUT": "60"}


def test_release_frees_the_lock_and_the_marker(folder: Path, env: dict[str, str]) -> None:
    first, second = Driver(folder, env), Driver(folder, env)
    assert first.do("env") == "ok env"
    held = first.do("environ")
    assert str(folder / ".lock") in held and held.endswith(" None"), held  # VENVLOCK_HELD; uv's timeout untouched
    assert (folder / ".lock.holder").read_text().startswith(f"{first.proc.pid}\n")
    assert first.do("release") == "ok release"
    assert first.do("environ") == "ok environ unset None"
    assert not (folder / ".lock.holder").exists()
    assert second.do("env") == "ok env"  # at once: VENVLOCK_TIMEOUT is not 0 here, but nothing holds it
    assert first.close() == 0 and second.close() == 0
    assert (folder / ".lock").exists()  # never deleted: other processes may be waiting on it


def _holder_and_waiter(folder: Path, env: dict[str, str]) -> tuple[Driver, Driver]:
    """A driver holding the environment lock and one waiting for it, well inside its wait."""
    holder, waiter = Driver(folder, env), Driver(folder, env)
    assert holder.do("env") == "ok env"
    waiter.send("env")
    assert waiter.stderr_line().startswith("Waiting for lock on environment")
    time.sleep(0.5)  # into its wait (the blocking lock call in its thread)
    return holder, waiter


def test_a_lock_file_replaced_while_waiting_is_locked_anew(folder: Path, env: dict[str, str]) -> None:
    """A waiter whose lock file is replaced (the folder deleted and made again) ends up holding the file AT the path.

    Whether it first gets the old file (then sees it is no longer the lock at the path and locks the new one) or
    finds the new file while polling depends on timing; either way the lock it holds must be the one at the path,
    so that no two processes ever hold "the" lock through two different files.
    """
    holder, waiter = _holder_and_waiter(folder, env)
    assert holder.do("replace") == "ok replace"  # what nox does: the folder goes, a new one comes
    assert holder.do("release") == "ok release"  # the old file's lock goes
    assert waiter.reply() == "ok env"
    assert probe_lock(str(folder / ".lock")).state == "exclusive"  # the file at the path is the one held
    assert probe_lock(str(folder) + ".old/.lock").state in ("free", "missing")
    assert holder.close() == 0 and waiter.close() == 0


def test_a_waiter_never_goes_on_unlocked_while_its_folder_is_recreated(folder: Path, env: dict[str, str]) -> None:
    """The folder gone for a while under a living holder (a recreation): the waiter waits, then locks the new file.

    Before, filelock's "no such folder" during the wait was taken for a folder that was never there, and the
    waiter went on unlocked beside the recreation.
    """
    holder, waiter = _holder_and_waiter(folder, env)
    assert holder.do("away") == "ok away"
    assert waiter.proc.stdout is not None
    ready, _, _ = select.select([waiter.proc.stdout], [], [], 2.0)  # longer than FOLDER_GRACE: the holder lives
    assert not ready, f"the waiter went on while the folder was gone: {waiter.reply()}"
    assert holder.do("back") == "ok back"
    assert waiter.reply() == "ok env"
    assert probe_lock(str(folder / ".lock")).state == "exclusive"  # the new folder's lock, held by the waiter
    assert holder.close() == 0 and waiter.close() == 0


def test_a_waiter_whose_folder_was_removed_goes_on_as_for_a_missing_folder(folder: Path, env: dict[str, str]) -> None:
    """The folder removed for good and its holder gone: nothing is left to protect; a warning, as stock would run."""
    holder, waiter = _holder_and_waiter(folder, env)
    assert holder.do("away") == "ok away"
    holder.proc.kill()
    holder.proc.wait()
    assert waiter.reply() == "ok env"
    assert "does not exist" in waiter.stderr_line()
    assert not folder.exists()
    assert waiter.close() == 0


def test_creation_lock_lies_beside_the_folder_and_orders_before_the_env_lock(folder: Path, env: dict[str, str]) -> None:
    first, second = Driver(folder, env), Driver(folder, env)
    assert first.do("create") == "ok create"
    assert (folder.parent / ".env.create.lock").exists() and not (folder / ".lock").exists()
    second.send("create")
    line = second.stderr_line()
    assert f"held by pid {first.proc.pid}: driver create" in line, line
    assert first.do("env") == "ok env"  # creation lock, then environment lock
    assert first.do("release") == "ok release"
    assert first.do("release") == "ok release"
    assert second.reply() == "ok create"
    assert first.close() == 0 and second.close() == 0


def test_env_lock_does_not_make_a_missing_venv_folder(tmp_path: Path, env: dict[str, str]) -> None:
    missing = tmp_path / "not-yet"
    driver = Driver(missing, env)
    assert driver.do("env") == "ok env"
    assert "cannot lock environment" in driver.stderr_line()  # a warning, and on unlocked
    assert not missing.exists()  # an empty folder here would look like an environment to hatch
    assert driver.close() == 0


# ---------------------------------------------------------------------------------------------------
# lock files that are not files, names too long, file systems whose locks fail
# ---------------------------------------------------------------------------------------------------
VENVLOCK = str(Path(sys.executable).parent / "venvlock")


def _venvlock(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([VENVLOCK, *args], env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"venvlock {' '.join(args)} hung")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_at_the_lock_path_is_refused_in_one_line(folder: Path, env: dict[str, str]) -> None:
    """Before: a FIFO at ``<env>/.lock`` hung ``venvlock status``; locking it is refused, not retried later."""
    os.mkfifo(folder / ".lock")
    status = _venvlock("status", str(folder), env=env)
    assert "FIFO" in status.stdout + status.stderr or "regular" in status.stdout + status.stderr, status
    result = _venvlock("run", "--env", str(folder), "--", sys.executable, "-c", "pass", env=env)
    assert result.returncode == 1, result.stderr  # permanent: not 75 ("retry later")
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "a FIFO, not a lock file; remove it" in errors[0], result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_at_a_holder_path_never_hangs_a_waiter(folder: Path, env: dict[str, str]) -> None:
    """Before: a FIFO at the holder path hung every process that looked for the lock's holder."""
    os.mkfifo(folder / ".lock.sync.holder")
    holder = Driver(folder, env)
    try:
        assert holder.do("env") == "ok env"  # the holder file is replaced, never written through
        os.remove(folder / ".lock.sync.holder")
        os.mkfifo(folder / ".lock.sync.holder")
        result = _venvlock("run", "--env", str(folder), "--", "true", env={**env, "VENVLOCK_TIMEOUT": "1"})
    finally:
        holder.close()
    assert result.returncode == 75, result.stderr
    assert "timed out" in result.stderr


def test_a_name_too_long_is_not_retry_later(tmp_path: Path, env: dict[str, str]) -> None:
    """Before: a path with a name too long exited 75 ("retry later") for a permanent error.  A 245-character
    environment name itself is fine now: its creation lock's name is shortened (``hidden_sibling``)."""
    long_env = tmp_path / ("e" * 245)
    fine = _venvlock("run", "--creation", "--env", str(long_env), "--", "true", env=env)
    assert fine.returncode == 0, fine.stderr
    too_long = tmp_path / ("p" * 256) / "env"  # a folder on the way that no file system takes
    result = _venvlock("run", "--creation", "--env", str(too_long), "--", "true", env=env)
    assert result.returncode not in (0, 75), result.stderr
    assert "too long" in result.stderr, result.stderr


def test_the_timeout_names_the_lock_a_user_sees(folder: Path, env: dict[str, str]) -> None:
    """Before: the waiting line and the timeout named ``.lock.sync``; status and the README name ``.lock``."""
    holder = Driver(folder, env)
    try:
        assert holder.do("env") == "ok env"
        result = _venvlock("run", "--env", str(folder), "--", "true", env={**env, "VENVLOCK_TIMEOUT": "1"})
    finally:
        holder.close()
    assert result.returncode == 75, result.stderr
    assert ".lock.sync" not in result.stderr and "lock file " in result.stderr, result.stderr
    assert all(".lock)" in line or ".lock. " in line for line in result.stderr.splitlines() if "lock file" in line)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the test-only errno seam is in the Unix half")
@pytest.mark.parametrize(
    ("name", "meaning"),
    [
        ("ENOSYS", "does not support locks"),
        ("ENOLCK", "gives no locks"),
        ("EBADF", "refused the lock on this descriptor"),
        ("EROFS", "read-only"),
    ],
)
def test_a_lock_failure_names_its_cause_and_can_fail(
    folder: Path, env: dict[str, str], name: str, meaning: str
) -> None:
    """Before: every such failure said "a read-only environment: going on unlocked", and could not be refused."""
    broken = {**env, "VENVLOCK_TEST_LOCK_ERRNO": name}
    warned = _venvlock("run", "--env", str(folder), "--", "true", env=broken)
    assert warned.returncode == 0, warned.stderr
    assert name in warned.stderr and meaning in warned.stderr and "going on unlocked" in warned.stderr, warned.stderr
    if name != "EROFS":
        assert "a read-only environment" not in warned.stderr, warned.stderr
    failed = _venvlock("run", "--env", str(folder), "--", "true", env={**broken, "VENVLOCK_UNLOCKED": "fail"})
    assert failed.returncode == 75, failed.stderr
    assert name in failed.stderr and "VENVLOCK_UNLOCKED=fail" in failed.stderr, failed.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the test-only errno seam is in the Unix half")
def test_a_permission_error_in_a_writable_folder_is_refused(folder: Path, env: dict[str, str]) -> None:
    """EACCES where this user may write the folder is not a read-only environment: no install without the lock."""
    result = _venvlock("run", "--env", str(folder), "--", "true", env={**env, "VENVLOCK_TEST_LOCK_ERRNO": "EACCES"})
    assert result.returncode == 75, result.stderr
    assert "EACCES" in result.stderr and "without its lock" in result.stderr, result.stderr


def test_a_bad_unlocked_setting_is_a_usage_error(folder: Path, env: dict[str, str]) -> None:
    result = _venvlock("run", "--env", str(folder), "--", "true", env={**env, "VENVLOCK_UNLOCKED": "maybe"})
    assert result.returncode == 2, result.stderr
    assert "VENVLOCK_UNLOCKED" in result.stderr


def test_lock_files_are_opened_read_write(folder: Path, env: dict[str, str]) -> None:
    """NFS turns flock into POSIX locks, which need a descriptor open for writing (uv #18061)."""
    holder = Driver(folder, env)
    try:
        assert holder.do("env") == "ok env"
        modes = []
        for fd in os.listdir(f"/proc/{holder.proc.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{holder.proc.pid}/fd/{fd}")
            except OSError:
                continue
            if target in (str(folder / ".lock"), str(folder / ".lock.sync")):
                flags = int(Path(f"/proc/{holder.proc.pid}/fdinfo/{fd}").read_text().split("flags:")[1].split()[0], 8)
                modes.append(flags & os.O_ACCMODE)
    finally:
        holder.close()
    assert modes and all(mode == os.O_RDWR for mode in modes), modes


GIVES_UP = """
import os, sys, time
from venvlock.core import Environment, LockTimeoutError, hooks
environment = Environment.for_venv(sys.argv[1])
try:
    with hooks().venvlock_environment_lock(environment=environment, purpose="gives up", quiet=True):
        sys.exit(3)
except LockTimeoutError:
    open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.02)
"""


def test_a_wait_given_up_never_takes_the_lock_later(folder: Path, env: dict[str, str], tmp_path: Path) -> None:
    """The wait is a blocking lock call in a thread: after a timeout, a lock it gets later is let go at once."""
    gave_up, go = tmp_path / "gave-up", tmp_path / "go"
    holder = Driver(folder, env)
    assert holder.do("env") == "ok env"
    quitter = subprocess.Popen(
        [sys.executable, "-c", GIVES_UP, str(folder), str(gave_up), str(go)], env={**env, "VENVLOCK_TIMEOUT": "1"}
    )
    try:
        deadline = time.monotonic() + 60
        while not gave_up.exists() and quitter.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gave_up.exists(), "the waiter did not time out"
        assert holder.do("release") == "ok release"
        second = Driver(folder, env)
        assert second.do("env") == "ok env"  # while the process that gave up still runs
        assert second.close() == 0
    finally:
        go.touch()
        assert quitter.wait(timeout=30) == 0
        holder.close()


def test_ctrl_c_ends_a_wait_and_leaves_the_lock_to_others(folder: Path, env: dict[str, str]) -> None:
    import signal

    holder, waiter = _holder_and_waiter(folder, env)
    waiter.proc.send_signal(signal.SIGINT)
    assert waiter.proc.wait(timeout=30) != 0
    assert holder.do("release") == "ok release"
    second = Driver(folder, {**env, "VENVLOCK_TIMEOUT": "0"})
    assert second.do("env") == "ok env"
    assert second.close() == 0 and holder.close() == 0


# A process that, for each line on stdin, waits in the kernel for the exclusive lock, says whether the holder still
# held it when it got in (the flag file's byte), and lets go.
BLOCKED_WAITER = """
import fcntl, os, sys
lock = os.open(sys.argv[1], os.O_RDWR)
flag = os.open(sys.argv[2], os.O_RDONLY)
for line in sys.stdin:
    fcntl.flock(lock, fcntl.LOCK_EX)
    print("in while held" if os.pread(flag, 1, 0) == b"1" else "ok", flush=True)
    fcntl.flock(lock, fcntl.LOCK_UN)
"""


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs /proc/locks to see the waiter blocked")
def test_a_downgrade_never_lets_a_blocked_exclusive_waiter_in(tmp_path: Path, folder: Path) -> None:
    """200 times: hold exclusive, a waiter process blocks in the kernel, downgrade; it gets in only after release."""
    from venvlock.core import Environment
    from venvlock.core._lock import hold
    from venvlock.core._unix import lock_table

    lock_path, flag_path = tmp_path / "test.lock", tmp_path / "flag"
    lock_path.touch()
    flag_path.write_bytes(b"0")
    flag = os.open(flag_path, os.O_WRONLY)
    environment = Environment.for_venv(str(folder))
    waiter = subprocess.Popen(
        [sys.executable, "-c", BLOCKED_WAITER, str(lock_path), str(flag_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert waiter.stdin is not None and waiter.stdout is not None
    replies = []
    try:
        for _ in range(200):
            with hold(environment, str(lock_path), purpose="downgrade test", on_waiting=lambda *_: None) as held:
                assert held.fd is not None and held.mode == "exclusive"
                os.pwrite(flag, b"1", 0)
                waiter.stdin.write("go\n")
                waiter.stdin.flush()
                while (waiter.pid, True, True) not in (lock_table(held.fd) or []):  # (pid, exclusive, blocked)
                    time.sleep(0.0002)
                held.downgrade()
                assert held.mode == "shared" and (os.getpid(), False, False) in (lock_table(held.fd) or [])
                assert not (tmp_path / "test.lock.holder").exists()
                assert (tmp_path / f"test.lock.holder.{os.getpid()}").exists()
                os.pwrite(flag, b"0", 0)
            replies.append(_readline(waiter.stdout).strip())
    finally:
        waiter.stdin.close()
        waiter.wait(timeout=30)
        os.close(flag)
    assert replies == ["ok"] * 200, f"{replies.count('in while held')} of 200 got in while the lock was held"
    assert not list(tmp_path.glob("test.lock.holder*"))


@pytest.fixture
def two_filesystems(tmp_path: Path) -> Iterator[list[Path]]:
    """Two fresh tmpfs mounts (root only), each with ``env/.lock`` made the same way: the two lock files have the
    same inode number (every tmpfs counts from 2) on two devices."""
    if os.geteuid() != 0 or not os.path.exists("/proc/locks"):
        pytest.skip("mounting two tmpfs needs root, and Linux's /proc/locks")
    mounts = [tmp_path / "one", tmp_path / "two"]
    mounted: list[Path] = []
    try:
        for mount in mounts:
            mount.mkdir()
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
            if done.returncode != 0:
                pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
            mounted.append(mount)
            (mount / "env").mkdir()
            (mount / "env" / ".lock").touch()
        one, two = (os.stat(mount / "env" / ".lock") for mount in mounts)
        if one.st_ino != two.st_ino:
            pytest.skip("this kernel numbers tmpfs inodes across mounts")
        yield [mount / "env" for mount in mounts]
    finally:
        for mount in mounted:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_a_lock_on_another_filesystems_file_with_the_same_inode_number_is_not_this_one(
    two_filesystems: list[Path],
) -> None:
    """``/proc/locks`` names a file by device and inode number: a lock held, or waited for, on the other tmpfs's
    ``env/.lock`` is neither seen as a holder of this one (``venvlock status``, tox's look for a creator) nor as a
    descendant blocked on it (the uv hand-off would let this lock go while its sync runs)."""
    import fcntl

    from venvlock.core import Environment
    from venvlock.core._lock import hold
    from venvlock.core._unix import lock_table

    here, there = two_filesystems
    environment = Environment.for_venv(str(here))
    there_fd = os.open(there / ".lock", os.O_RDWR)
    fcntl.flock(there_fd, fcntl.LOCK_EX)  # the other filesystem's lock, held by this process
    waiter = subprocess.Popen(  # a descendant that will wait for it
        [sys.executable, "-c", BLOCKED_WAITER, str(there / ".lock"), os.devnull],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert waiter.stdin is not None and waiter.stdout is not None
    try:
        assert probe_lock(str(here / ".lock")).state == "free"  # nobody holds this one
        with hold(environment, str(here / ".lock"), purpose="same inode", on_waiting=lambda *_: None) as held:
            assert held.fd is not None
            waiter.stdin.write("go\n")
            waiter.stdin.flush()
            assert wait_for(lambda: (waiter.pid, True, True) in (lock_table(there_fd) or []), 30)
            assert lock_table(held.fd) == [(os.getpid(), True, False)]  # this hold, and no one waiting for it
        fcntl.flock(there_fd, fcntl.LOCK_UN)
        assert _readline(waiter.stdout).strip() == "ok"
    finally:
        os.close(there_fd)
        waiter.stdin.close()
        waiter.wait(timeout=30)
