"""How the ``venvlock`` command names itself and reports an error."""

from __future__ import annotations

import sys

PROG = "venvlock"


def error(message: str) -> None:
    """One line on stderr: ``venvlock: error: <message>``."""
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    """One line on stderr, ``venvlock: <message>``: what the command chose (which environment, and why)."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
