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

from support import scripts_dir, tools_path, venv_python, wait_for

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
