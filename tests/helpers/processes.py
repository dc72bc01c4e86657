"""Real processes in tests: read a running process's stderr line by line, kill a process group, collect results."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from support import wait_for

#: how long a test waits for a tool's process (a whole cold environment creation on a busy machine)
TIMEOUT = 300.0


def failures(results: Sequence[subprocess.CompletedProcess[str]]) -> list[str]:
    """The exit code and stderr tail of each failed result."""
    return [f"exit {r.returncode}: {r.stderr[-1500:]}" for r in results if r.returncode != 0]


def finish(process: subprocess.Popen[str], timeout: float = TIMEOUT) -> tuple[int, str, str]:
    """Wait for *process*; its exit code, stdout and stderr."""
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def start_group(command: Sequence[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start *command* in a process group of its own (for :func:`kill_group`), stderr merged into its stdout."""
    return subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL *process* (started with ``start_new_session=True``) with everything it started."""
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)


class Lines:
    """The stderr of a running process, read line by line in a thread, so a test can wait for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, *parts: str, timeout: float = TIMEOUT) -> str:
        """The first line containing every one of *parts*; fails the test if none comes in time."""

        def found() -> str | None:
            return next((line for line in list(self.lines) if all(p in line for p in parts)), None)

        assert wait_for(lambda: found() is not None, timeout=timeout), f"no line with {parts}: {self.lines}"
        line = found()
        assert line is not None
        return line

    def text(self) -> str:
        self._thread.join(timeout=TIMEOUT)
        return "".join(self.lines)
