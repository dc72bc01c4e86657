"""``python -m venvlock``: the ``venvlock`` command."""

from __future__ import annotations

import sys

from venvlock.cli import main

if __name__ == "__main__":
    sys.exit(main())
