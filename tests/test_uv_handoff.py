"""The uv hand-off, between real processes: a uv under a venvlock hold never waits on it; one outside still does.

uv locks ``<env>/.lock`` with ``flock``, the lock venvlock holds around
installs and ``venvlock run``.  A uv started by any route under that hold (a
shell, ``python -m uv``, tox's ``install_command``) gets the lock lent (on
Linux the holder sees it blocked in ``/proc/locks``); a uv that venvlock did
not start keeps taking turns.  ``UV_LOCK_TIMEOUT`` is set short here only so
that a uv that does wait says so quickly; venvlock never sets it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support import FLOCK_TAKER, scripts_dir, tools_path, venv_python, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/locks is Linux's")

UV = str(scripts_dir() / "uv")
VENVLOCK = str(scripts_dir() / "venvlock")
#: what uv says when it waited for <env>/.lock and gave up (then it installs without it)
UV_WAITED = ("Failed to acquire environment lock", "Timeout (")


def _run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload,no-any-return]


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param("shell", id="uv-inside-a-shell"),
        pytest.param("module", id="python-m-uv"),
    ],
)
def test_a_uv_started_by_any_route_under_venvlock_run_never_waits(
    env: dict[str, str], venv: Path, tmp_path: Path, spelling: str
) -> None:
    """Before: only a command named ``uv`` was lent the lock; ``sh -c 'uv ...'`` and ``python -m uv`` waited."""
    install = ["pip", "install", "-v", "--python", str(venv_python(venv)), "beta"]
    command = {"shell": ["sh", "-c", " ".join([UV, *install])], "module": [sys.executable, "-m", "uv", *install]}[
        spelling
    ]
    environ = {**env, "UV_LOCK_TIMEOUT": "10", "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
    result = _run([VENVLOCK, "run", "--env", str(venv), "--", *command], environ)
    assert result.returncode == 0, result.stderr
    assert not any(text in result.stderr for text in UV_WAITED), result.stderr
    assert (venv / ".lock").exists() and not (venv / ".lock.holder").exists()  # released after


def test_a_uv_outside_venvlock_still_takes_turns(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    """A uv that is no descendant of the holder waits for the hold (the cross-tool guarantee stays)."""
    go = tmp_path / "go"
    started = tmp_path / "started"
    holder_script = (
        "import os, sys, time\n"
        f"open({str(started)!r}, 'w').close()\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.02)\n"
    )
    holder = subprocess.Popen(
        [VENVLOCK, "run", "--env", str(venv), "--", sys.executable, "-c", holder_script],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    other = None
    try:
        assert wait_for(started.exists, timeout=120), "the holder never ran its command"
        environ = {**env, "UV_LOCK_TIMEOUT": "120", "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
        other = subprocess.Popen(
            [UV, "pip", "install", "-v", "--python", str(venv_python(venv)), "beta"],
            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert other.stderr is not None
        lines: list[str] = []  # read by a thread: select() on a buffered text stream misses lines already read ahead
        stream = other.stderr

        def read() -> None:
            for line in stream:
                lines.append(line)

        threading.Thread(target=read, daemon=True).start()
        assert wait_for(lambda: "Waiting to acquire" in "".join(lines) or other.poll() is not None, timeout=120)
        assert "Waiting to acquire" in "".join(lines), "".join(lines)
        time.sleep(0.5)  # many looks of the holder at /proc/locks: it must not lend to a stranger
        assert other.poll() is None, "a uv outside venvlock got the lock held by venvlock run"
    finally:
        go.touch()
        assert holder.wait(timeout=120) == 0
    assert other.wait(timeout=120) == 0, "".join(lines)


def test_tox_with_uv_as_install_command_never_waits_on_its_own_lock(wheelhouse: Path, tmp_path: Path) -> None:
    """Before: ``install_command = uv pip install {packages}`` waited UV_LOCK_TIMEOUT, then installed unlocked."""
    pytest.importorskip("tox")
    from helpers.tox_project import run_tox, tox_env, write_project

    project = write_project(
        tmp_path / "project",
        extra="allowlist_externals = uv\npass_env = UV_*\ninstall_command = uv pip install -v {packages}",
    )
    env = {
        **tox_env(wheelhouse, tmp_path),
        "PATH": tools_path(),
        "UV_LOCK_TIMEOUT": "10",
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
    }
    result = run_tox(project, env, "-e", "py", "-vv")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "install_deps> uv pip install" in output  # tox -vv shows uv's own lines
    assert not any(text in output for text in UV_WAITED), output[-3000:]
    assert os.path.exists(project / ".tox" / "py" / ".lock")


def test_each_of_many_holds_in_a_row_lends_and_takes_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One process's holds in a row each lend the lock to a blocked child; one released while lent lets it go.

    ``VENVLOCK_TIMEOUT=0``: a hold that found the lock still taken (a lend
    never ended, a descriptor let go locked again) fails at once.
    """
    from venvlock.core import Environment, hooks
    from venvlock.core._unix import lock_table

    folder = tmp_path / "env"
    folder.mkdir()
    (folder / "pyvenv.cfg").write_text(f"home = {os.path.dirname(sys.executable)}\n")
    monkeypatch.setenv("VENVLOCK_TIMEOUT", "0")
    environment, lock_path, me = Environment.for_venv(str(folder)), str(folder / ".lock"), os.getpid()

    def lockers() -> list[tuple[int, bool]]:
        probe = os.open(lock_path, os.O_RDONLY)
        try:
            return [(pid, blocked) for pid, _, blocked in lock_table(probe) or []]
        finally:
            os.close(probe)

    for turn in range(12):
        got, go = tmp_path / f"got-{turn}", tmp_path / f"go-{turn}"
        with hooks().venvlock_environment_lock(environment=environment, purpose="test", quiet=True) as held:
            child = subprocess.Popen([sys.executable, "-c", FLOCK_TAKER, lock_path, str(got), str(go)])
            assert wait_for(got.exists), f"turn {turn}: the blocked child was never lent the lock"
            if turn % 2 == 0:  # the child lets go: the hold takes the lock back on its own descriptor
                go.touch()
                assert child.wait(timeout=60) == 0
                assert wait_for(lambda: (me, True, False) in (lock_table(held.fd or -1) or []))
        if turn % 2:  # released while lent: the child keeps the lock, this process holds nothing (its call that
            # queued to take the lock back may still wait, and lets the lock go as soon as it gets it)
            assert [entry for entry in lockers() if entry != (me, True)] == [(child.pid, False)]
            go.touch()
            assert child.wait(timeout=60) == 0
        assert wait_for(lambda: lockers() == []), lockers()
