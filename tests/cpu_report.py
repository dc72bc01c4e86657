"""``--cpu-report``: the CPU each test costs (its worker's and its waited children's), ranked, to keep the default
suite in its budget (the README's test command under 3 minutes on 2 cores).

Wall time means little on a shared machine; CPU time does.  For each test, the
worker's ``RUSAGE_SELF`` plus ``RUSAGE_CHILDREN`` (user + system) is read
around its setup, call and teardown.  A grandchild counts once its parent has
reaped it; a process nobody waits for is not counted.  A session- or
module-scoped fixture's setup shows on the first test that uses it: it is
reported apart (and taken out of that test's own figure).  The controller prints
the ranking; ``--cpu-report-top N`` sets its length (default 25).
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

_FOLDER_VAR = "VENVLOCK_CPU_REPORT_DIR"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cpu-report")
    group.addoption("--cpu-report", action="store_true", help="rank tests and shared fixtures by CPU (self+children)")
    group.addoption("--cpu-report-top", type=int, default=25, help="how many tests the ranking shows")


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _Recorder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tests: dict[str, dict[str, float]] = {}
        self.fixtures: list[dict[str, Any]] = []
        self.shared_in: dict[str, float] = {}
        self.current = "?"  # the test whose setup is running (a session fixture's request names the session)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None]:
        start = _cpu()
        yield
        if fixturedef.scope in ("session", "package", "module", "class"):
            spent = _cpu() - start
            node = self.current
            self.fixtures.append(
                {"fixture": fixturedef.argname, "scope": fixturedef.scope, "cpu": spent, "first": node}
            )
            self.shared_in[node] = self.shared_in.get(node, 0.0) + spent

    def _phase(self, item: pytest.Item, phase: str) -> Generator[None]:
        self.current = item.nodeid
        start, wall = _cpu(), time.monotonic()
        yield
        entry = self.tests.setdefault(item.nodeid, {})
        entry[phase] = _cpu() - start
        entry["wall"] = entry.get("wall", 0.0) + time.monotonic() - wall

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None]:
        yield from self._phase(item, "setup")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None]:
        yield from self._phase(item, "call")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None]:
        yield from self._phase(item, "teardown")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for nodeid, shared in self.shared_in.items():
            if nodeid in self.tests:
                self.tests[nodeid]["shared"] = shared
        worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
        (self.folder / f"{worker}.json").write_text(
            json.dumps({"tests": self.tests, "fixtures": self.fixtures, "total": _cpu()})
        )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("--cpu-report"):
        return
    folder = os.environ.get(_FOLDER_VAR)
    if not folder:  # the controller (or a run without xdist): the workers inherit the variable
        import tempfile

        folder = tempfile.mkdtemp(prefix="cpu-report-")
        os.environ[_FOLDER_VAR] = folder
        config.stash[_CONTROLLER] = (Path(folder), _cpu())
    config.pluginmanager.register(_Recorder(Path(folder)), "cpu-report-recorder")


_CONTROLLER = pytest.StashKey[tuple[Path, float]]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _CONTROLLER not in config.stash:
        return
    import shutil

    folder, _start = config.stash[_CONTROLLER]
    tests: dict[str, dict[str, float]] = {}
    fixtures: list[dict[str, Any]] = []
    workers = 0.0
    for file in folder.glob("*.json"):
        data = json.loads(file.read_text())
        tests.update(data["tests"])
        fixtures.extend(data["fixtures"])
        if file.stem != "main":
            workers += data["total"]
    shutil.rmtree(folder, ignore_errors=True)
    os.environ.pop(_FOLDER_VAR, None)

    def own(entry: dict[str, float]) -> float:
        return sum(entry.get(phase, 0.0) for phase in ("setup", "call", "teardown")) - entry.get("shared", 0.0)

    write = terminalreporter.write_line
    top = config.getoption("--cpu-report-top")
    write("")
    write(f"CPU report: {len(tests)} tests; CPU-seconds (worker + waited children), shared fixtures apart")
    ranked = sorted(tests.items(), key=lambda kv: own(kv[1]), reverse=True)
    for nodeid, entry in ranked[:top]:
        phases = "/".join(f"{entry.get(phase, 0.0):.2f}" for phase in ("setup", "call", "teardown"))
        write(f"{own(entry):8.2f}  (setup/call/teardown {phases}; wall {entry.get('wall', 0.0):6.2f})  {nodeid}")
    write("shared fixtures (setup, each time a worker made one):")
    for fixture in sorted(fixtures, key=lambda f: f["cpu"], reverse=True):
        if fixture["cpu"] >= 0.05:
            write(f"{fixture['cpu']:8.2f}  {fixture['scope']:8} {fixture['fixture']}  (first in {fixture['first']})")
    in_tests = sum(own(entry) for entry in tests.values())
    in_fixtures = sum(f["cpu"] for f in fixtures)
    controller = _cpu()
    write(
        f"total: tests {in_tests:.1f}, shared fixtures {in_fixtures:.1f}, workers in all {workers:.1f} "
        f"(collection and start-up included), controller so far {controller:.1f} (workers reaped by now included)"
    )
