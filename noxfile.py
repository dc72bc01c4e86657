"""venvlock's own sessions, protected by venvlock's nox adapter.

nox -s tests     the default suite (what `.ci/run` runs)
nox -s slow      the slow cases: default-suite scenarios at a larger scale or on more variants, stock-tool controls (CI)
nox -s stress    100-process stress tests, not in the default suite
nox -s differential  the randomized differential corpus (venvlock's verdict against pip's dry run)
nox -s chaos     the whole fault-injection matrix (adapter x phase x fault, and timed faults), printed as a table
nox -s bench     the benchmarks, side by side with pip, hatch, nox, tox, poetry and uv, then one table of them all
nox -s lint      ruff and mypy
nox -s docs      the documentation site, built with --strict into site/ (`-- serve` to preview it)
"""

from __future__ import annotations

import os
import random

import nox

try:
    from venvlock.plugins.nox import session
except ImportError:  # nox running without venvlock beside it: the sessions still work, unprotected
    session = nox.session

nox.options.sessions = ["lint", "tests"]


@session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@session
def slow(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-m", "slow", *session.posargs)


@session
def stress(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-m", "stress", "-n", "0", *session.posargs)  # one at a time


@session
def differential(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run(
        "python", "-m", "pytest", "-m", "stress",
        "tests/test_differential.py", "tests/test_pip_config.py", "tests/test_redact.py",
        *session.posargs,
    )  # fmt: skip


@session
def chaos(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    table = f"{session.create_tmp()}/chaos-table.txt"
    if os.path.exists(table):
        os.remove(table)
    seed = os.environ.get("VENVLOCK_CHAOS_SEED") or str(random.SystemRandom().randrange(1 << 32))
    session.log(f"the timed faults' seed: {seed} (replay: VENVLOCK_CHAOS_SEED={seed} nox -s chaos)")
    env = {"VENVLOCK_CHAOS_TABLE": table, "VENVLOCK_CHAOS_SEED": seed}
    try:
        session.run(
            "python", "-m", "pytest", "-m", "slow or not slow", "tests/test_fault_matrix.py", *session.posargs, env=env
        )  # fmt: skip
    finally:
        session.run("python", "tests/test_fault_matrix.py", table)
        session.log(f"the timed faults' seed: {seed}")


@session
def bench(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    quick = ["--quick"] if "--quick" in session.posargs else []
    summary = f"{session.create_tmp()}/bench-summary.jsonl"
    if os.path.exists(summary):
        os.remove(summary)
    env = {"VENVLOCK_BENCH_SUMMARY": summary}
    scripts = ("bench_pip.py", "bench_hatch.py", "bench_nox.py", "bench_tox.py", "bench_poetry.py", "bench_verify.py")
    for script in scripts:  # a missed target (exit 1) is a line of the table, not the end of the session
        session.run("python", f"benchmarks/{script}", *quick, env=env, success_codes=[0, 1])
    lock_wait = ["--waiters", "20", "--seconds", "5"] if quick else []
    session.run("python", "benchmarks/bench_lock_wait.py", *lock_wait, env=env)
    if "--stress" in session.posargs:
        session.run("python", "benchmarks/bench_pip.py", "--stress", env=env)
    session.run("python", "benchmarks/summary.py", summary)


@session
def lint(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("mypy")


@session
def docs(session: nox.Session) -> None:
    session.install("-e", ".[docs]")
    env = {"NO_MKDOCS_2_WARNING": "1"}
    if session.posargs[:1] == ["serve"]:
        session.run("python", "-m", "mkdocs", "serve", *session.posargs[1:], env=env)
    else:
        session.run("python", "-m", "mkdocs", "build", "--strict", *session.posargs, env=env)
