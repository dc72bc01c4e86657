"""A PEP 503 "simple" index of a wheelhouse, served on 127.0.0.1 by a thread of the test process.

poetry takes packages from an index URL only (no local folder source), so
its tests serve the session's wheelhouse as ``simple/<normalized name>/`` pages
(directory listings of links to the wheels, which is all PEP 503 asks for).
The server binds an ephemeral port, answers from a temporary tree of links
to the wheels (in the run's folder, :func:`support.run_root`), logs nothing, and stops (thread joined, tree removed) on
:meth:`Index.close`.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from support import run_root


def normalize(name: str) -> str:
    """PEP 503's normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Index:
    """The wheels of *wheelhouse* (``*.whl``) as a simple index at :attr:`url` until :meth:`close`."""

    def __init__(self, wheelhouse: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pep503-", dir=run_root()))
        for wheel in sorted(wheelhouse.glob("*.whl")):
            project = self.root / "simple" / normalize(wheel.name.split("-", 1)[0])
            project.mkdir(parents=True, exist_ok=True)
            (project / wheel.name).symlink_to(wheel)
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """The index's ``simple/`` URL (with its trailing slash)."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/simple/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
