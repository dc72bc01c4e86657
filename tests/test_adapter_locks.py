"""The adapter layer's locks between many real processes: N processes x M acquisitions, mixed exclusive and shared.

Each process takes, M times and in an order of its own, one of the three
locks an adapter holds (:meth:`Adapter.creation_lock` exclusive,
:meth:`Adapter.using_lock` the same lock shared, :meth:`Adapter.environment_lock`
exclusive) and appends ``pid mode acquired released`` (``time.monotonic_ns``,
one clock for every process of the machine) to a log of its own.  The logs
must show that no two exclusive holds of one lock ever overlapped and that
no shared hold overlapped an exclusive one; a counter that only exclusive
holders increment (read, then write) must count every one of them.
filelock's strict stress test is the model.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from support import wait_for

HOLDER = """
import os, random, sys, time
from pathlib import Path
from venvlock.adapter import Adapter

folder, env_path, index, acquisitions = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
adapter = Adapter("contention", purpose=f"contention holder {index}", quiet=True)
environment = adapter.environment(env_path)
rng = random.Random(index)
log = folder / f"holds-{index}.log"
(folder / f"ready-{index}").touch()
while not (folder / "go").exists():  # all start together
    time.sleep(0.005)
for _ in range(acquisitions):
    mode = rng.choice(["using", "using", "using", "creation", "environment"])
    lock = {"using": adapter.using_lock, "creation": adapter.creation_lock}.get(mode, adapter.environment_lock)
    with lock(environment) as hold:
        acquired = time.monotonic_ns()
        assert hold is not None and getattr(hold, "locked", True), (mode, hold)
        if mode != "using":  # a read-modify-write that a second writer inside would spoil
            counter = folder / f"{mode}.count"
            count = int(counter.read_text()) if counter.exists() else 0
            time.sleep(rng.random() * 0.002)
            counter.write_text(str(count + 1))
        else:
            time.sleep(rng.random() * 0.002)
        released = time.monotonic_ns()
    with open(log, "a") as file:
        file.write(f"{os.getpid()} {mode} {acquired} {released}\\n")
"""


class Hold(NamedTuple):
    pid: int
    mode: str
    acquired: int
    released: int


def overlap(a: Hold, b: Hold) -> bool:
    return a.acquired < b.released and b.acquired < a.released


def contend(folder: Path, env_path: Path, processes: int, acquisitions: int, env: dict[str, str]) -> list[Hold]:
    """Run the holders, all released at once; return every hold from their logs."""
    command = [sys.executable, "-c", HOLDER, str(folder), str(env_path)]
    children = [
        subprocess.Popen([*command, str(index), str(acquisitions)], env=env, stderr=subprocess.PIPE, text=True)
        for index in range(processes)
    ]
    try:
        assert wait_for(lambda: len(list(folder.glob("ready-*"))) == processes, timeout=120), "holders never started"
        (folder / "go").touch()
        errors = [child.communicate(timeout=600)[1] for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert [child.returncode for child in children] == [0] * processes, [e for e in errors if e][:2]
    holds = []
    for log in folder.glob("holds-*.log"):
        for line in log.read_text().splitlines():
            pid, mode, acquired, released = line.split()
            holds.append(Hold(int(pid), mode, int(acquired), int(released)))
    return holds


@pytest.mark.parametrize(
    ("processes", "acquisitions"), [(4, 20), pytest.param(16, 100, marks=pytest.mark.stress)], ids=["4x20", "16x100"]
)
def test_exclusive_holds_never_overlap_and_shared_holds_overlap_no_exclusive_one(
    offline: dict[str, str], tmp_path: Path, processes: int, acquisitions: int
) -> None:
    env_path = tmp_path / "env"
    env_path.mkdir()  # the environment lock lives in the folder; it need not be a complete venv for the lock
    folder = tmp_path / "logs"
    folder.mkdir()
    holds = contend(folder, env_path, processes, acquisitions, {**offline, "VENVLOCK_TIMEOUT": "600"})

    assert len(holds) == processes * acquisitions
    by_mode = {mode: [h for h in holds if h.mode == mode] for mode in ("creation", "using", "environment")}
    for mode in ("creation", "environment"):  # exclusive: never two at once
        ordered = sorted(by_mode[mode], key=lambda h: h.acquired)
        clashes = [(a, b) for a, b in itertools.pairwise(ordered) if overlap(a, b)]
        assert clashes == [], f"two exclusive holds of the {mode} lock overlapped: {clashes[:3]}"
        counted = int((folder / f"{mode}.count").read_text()) if by_mode[mode] else 0
        assert counted == len(by_mode[mode]), f"the {mode} lock let two writers in: {counted} of {len(by_mode[mode])}"
    creations = by_mode["creation"]
    shared_clashes = [(s, c) for s in by_mode["using"] for c in creations if overlap(s, c)]
    assert shared_clashes == [], f"a shared hold overlapped an exclusive one: {shared_clashes[:3]}"
