"""The ``venvlock`` command between real processes: real venvs, real pip, real locks, real signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from support import Gate, build_gated_project, pip_locked, scripts_dir, site_packages, venv_python, wait_for


def venvlock() -> str:
    return str(scripts_dir() / "venvlock")


def run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload,no-any-return]


def pip(venv: Path, env: dict[str, str], *args: str) -> None:
    done = run([str(venv_python(venv)), "-m", "pip", *args], env)
    assert done.returncode == 0, done.stderr


def status(env: dict[str, str], *paths: str) -> list[dict]:  # type: ignore[type-arg]
    done = run([venvlock(), "status", "--json", *paths], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def verify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([venvlock(), "verify", *args], env)


# ---------------------------------------------------------------------------------------------------
# version, help, usage
# ---------------------------------------------------------------------------------------------------
def test_version_help_and_usage_errors(offline: dict[str, str], tmp_path: Path) -> None:
    env = offline
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "pyvenv.cfg").write_text("home = /usr/bin\n")
    version = run([sys.executable, "-X", "importtime", "-m", "venvlock", "--version"], env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("venvlock 0.1.0 from ") and "(python 3." in version.stdout
    heavy = [m for m in ("venvlock.core", "filelock", "pluggy", "packaging") if f" {m}\n" in version.stderr]
    assert heavy == [], "--version must stay import-light"
    help_ = run([venvlock(), "--help"], env)
    assert help_.returncode == 0 and all(word in help_.stdout for word in ("status", "verify", "repair", "run"))
    unknown = run([venvlock(), "frobnicate"], env)
    assert unknown.returncode == 2 and "venvlock: error:" in unknown.stderr
    missing = run([venvlock(), "verify", str(tmp_path / "nowhere")], env)
    assert missing.returncode == 2 and "venvlock: error: no environment at" in missing.stderr
    no_command = run([venvlock(), "run"], env)
    assert no_command.returncode == 2 and "venvlock: error:" in no_command.stderr
    bad_timeout = run([venvlock(), "run", "--env", str(fake), "--", "true"], {**env, "VENVLOCK_TIMEOUT": "soon"})
    assert bad_timeout.returncode == 2 and "VENVLOCK_TIMEOUT" in bad_timeout.stderr


# ---------------------------------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------------------------------
def test_status_names_the_holder_redacted_and_creates_nothing(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    (free,) = status(env)
    assert free["environment"] == str(venv)
    assert free["environment_lock"]["state"] == "missing" and free["creation_lock"]["state"] == "missing"
    assert not (venv / ".lock").exists() and not (tmp_path / ".venv.create.lock").exists(), "a probe created a file"

    gate = Gate(tmp_path / "gate")
    project = build_gated_project(tmp_path / "projects")
    secret_url = "https://user:s3cret@example.invalid/simple"
    holder = subprocess.Popen(
        [pip_locked(), "install", "--extra-index-url", secret_url, str(project)],
        env={**env, "VENVLOCK_TEST_GATE": str(gate.folder)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(gate.started, timeout=120), "the holder never reached the gate"
        (held,) = status(env, str(venv))
        lock = held["environment_lock"]
        assert lock["state"] == "exclusive" and lock["holder"]["pid"] == holder.pid, lock
        assert "pip-locked install" in lock["holder"]["command"]
        assert abs(lock["holder"]["since"] - time.time()) < 120
        text = run([venvlock(), "status"], env)
        assert f"held (exclusive) by pid {holder.pid}: pip-locked install" in text.stdout, text.stdout
        assert "s3cret" not in text.stdout and "s3cret" not in json.dumps(held)
        waits = verify({**env, "VENVLOCK_TIMEOUT": "0.3"})  # verify reads under the lock: it waits for the sync
        assert waits.returncode == 75 and f"pid {holder.pid}" in waits.stderr, waits.stderr
    finally:
        gate.open()
        assert holder.wait(timeout=120) == 0
    (after,) = status(env)
    assert after["environment_lock"]["state"] == "free"


def test_status_all_finds_nox_and_tox_envs_and_half_built_markers(offline: dict[str, str], tmp_path: Path) -> None:
    env = offline
    project = tmp_path / "project"
    for folder in (".nox/tests", ".tox/py"):
        (project / folder).mkdir(parents=True)
        (project / folder / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (project / ".nox" / ".tests.incomplete").write_text("1\nhatch\n")  # a hatch-style marker beside a folder
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n')
    from hatch.utils.fs import Path as HatchPath  # hatch's own project id, not a copy of its formula

    hatch_venv = tmp_path / "hatch" / "env" / "virtual" / "demo" / HatchPath(project).id / "demo"
    hatch_venv.mkdir(parents=True)
    (hatch_venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    done = run(
        [venvlock(), "status", "--all", "--json"], {**env, "HATCH_DATA_DIR": str(tmp_path / "hatch")}, cwd=project
    )
    by_path = {report["environment"]: report for report in json.loads(done.stdout)}
    nox_env = by_path[str(project / ".nox" / "tests")]
    assert {marker["tool"] for marker in nox_env["markers"]} == {"hatch"}  # nox's provisioned marker is not one
    assert str(project / ".tox" / "py") in by_path and str(hatch_venv) in by_path
    assert not list(project.rglob("*.lock")), "status created a lock file"


# ---------------------------------------------------------------------------------------------------
# verify and repair
# ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_verify_finds_each_kind_of_damage_and_repair_puts_it_back(
    env: dict[str, str], venv: Path, tmp_path: Path, wheelhouse: Path
) -> None:
    pip(venv, env, "install", "alpha", "heavy0==1.0")
    site = site_packages(venv)
    clean = verify(env)
    assert clean.returncode == 0 and "No damage found" in clean.stdout, clean.stdout + clean.stderr

    # a file changed in place, same size: pip check sees nothing
    part = site / "heavy0" / "part_2.py"
    part.write_bytes(part.read_bytes().replace(b"VALUE = 2", b"VALUE = 9"))
    assert run([str(venv_python(venv)), "-m", "pip", "check"], env).returncode == 0
    changed = verify(env)
    assert changed.returncode == 1
    assert "heavy0 1.0: file changed (hash does not match RECORD): heavy0/part_2.py" in changed.stdout

    # warnings only do not fail: a stray file in a package folder, a folder no distribution owns
    (site / "alpha" / "stray.py").write_text("x = 1\n")
    (site / "numpy").mkdir()
    (site / "numpy" / "__init__.py").write_text("")
    # outside the environment's own folders: never judged
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "zeta-1.0.dist-info").mkdir(parents=True)

    # the other kinds of damage
    (site / "heavy0" / "part_3.py").unlink()
    (site / "heavy0" / "part_4.py").write_text("longer than before, and different\n" * 3)
    with zipfile.ZipFile(wheelhouse / "beta-1.0-py3-none-any.whl") as wheel:  # an interleaved older install
        wheel.extractall(site, [n for n in wheel.namelist() if n.startswith("beta-1.0.dist-info/")])
    (site / "delta-1.0.dist-info" / "RECORD").unlink()
    (site / "~eta").mkdir()
    shutil.rmtree(site / "gamma-1.0.dist-info")  # gamma gone: alpha's requirement is unmet

    damaged = verify({**env, "PYTHONPATH": str(elsewhere)})
    assert damaged.returncode == 1
    out = damaged.stdout
    for line in (
        "heavy0 1.0: file missing: heavy0/part_3.py",
        "heavy0 1.0: file changed (size ",
        "beta 1.0: one of 2 metadata folders of one project",
        "beta 2.0: one of 2 metadata folders of one project",
        "delta 1.0: no RECORD in delta-1.0.dist-info",
        "~eta: leftover of an interrupted pip run",
        "warning: alpha/stray.py: file owned by no distribution (in the folder of alpha 1.0)",
        "warning: numpy/: folder owned by no distribution (1 files",
        "alpha 1.0 requires gamma[fast]",
    ):
        assert line in out, f"{line!r} not in:\n{out}"
    assert "zeta" not in out
    report = json.loads(verify(env, "--json").stdout)
    assert report["damaged"] is True
    kinds = {problem["kind"] for problem in report["problems"]}
    assert {"hash", "size", "missing", "duplicate", "no-record", "leftover", "orphan", "orphan-folder"} <= kinds
    assert "requirement" in kinds

    plan = run([venvlock(), "repair", "--dry-run"], env)
    assert plan.returncode == 1, plan.stderr  # as the repair below: the unmet requirement would remain
    for line in (
        "Would remove beta-1.0.dist-info",
        "Would remove delta-1.0.dist-info",
        "Would reinstall heavy0==1.0",
        "Would reinstall beta==2.0",
        "Would reinstall delta==1.0",
        "Would remove ~eta",
        "Not repaired: alpha 1.0 requires gamma[fast]",
    ):
        assert line in plan.stdout, f"{line!r} not in:\n{plan.stdout}"
    assert (site / "~eta").exists() and (site / "beta-1.0.dist-info").exists(), "--dry-run changed something"

    repaired = run([venvlock(), "repair"], env)
    assert repaired.returncode == 1, repaired.stdout + repaired.stderr  # the unmet requirement is for the user
    assert "Still damaged: alpha 1.0 requires gamma[fast], which is not installed" in repaired.stdout
    left = json.loads(verify(env, "--json").stdout)["problems"]
    assert {problem["kind"] for problem in left} == {"requirement", "orphan", "orphan-folder"}, left
    assert not (site / "~eta").exists() and not (site / "beta-1.0.dist-info").exists()
    assert (
        (site / "heavy0" / "part_3.py").exists()
        and (site / "numpy").exists()
        and (site / "alpha" / "stray.py").exists()
    )


def test_the_cache_of_verified_files_never_hides_a_change(env: dict[str, str], venv: Path) -> None:
    time.sleep(2.1)  # files changed in the last 2 s are not cached (coarse clocks)
    first = json.loads(verify(env, "--json").stdout)
    second = json.loads(verify(env, "--json").stdout)
    assert second["checked"]["cached"] >= 200 and second["checked"]["hashed"] < first["checked"]["hashed"]
    part = site_packages(venv) / "pip" / "__init__.py"
    stat = part.stat()
    data = part.read_bytes()
    part.write_bytes(data.replace(b"import", b"IMPORT", 1))
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime: only the ctime tells
    found = verify(env)
    assert found.returncode == 1 and "pip/__init__.py" in found.stdout, found.stdout


@pytest.mark.slow
def test_a_killed_install_is_found_and_repaired(env: dict[str, str], venv: Path) -> None:
    """SIGKILL of a pip process group while it replaces heavy wheels: pip check says nothing, verify does."""
    site = site_packages(venv)
    for _attempt in range(5):  # the kill can land after pip's last commit on a loaded machine: then try again
        pip(venv, env, "install", "--force-reinstall", *[f"heavy{i}==1.0" for i in range(4)])
        proc = subprocess.Popen(
            [str(venv_python(venv)), "-m", "pip", "install", *[f"heavy{i}==2.0" for i in range(4)]],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        stashed = wait_for(lambda: any(e.startswith("~") for e in os.listdir(site)), timeout=120, interval=0.001)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert stashed, "pip never stashed a distribution"
        damaged = verify(env)
        if damaged.returncode != 0:
            break
    assert damaged.returncode == 1, damaged.stdout
    assert "leftover of an interrupted pip run" in damaged.stdout

    repaired = run([venvlock(), "repair"], env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    final = verify(env)
    assert final.returncode == 0, final.stdout
    assert "warning:" not in final.stdout, final.stdout
    versions: dict[str, list[str]] = {}
    for entry in os.listdir(site):
        assert not entry.startswith("~")
        if entry.endswith(".dist-info"):
            name, _, version = entry[: -len(".dist-info")].rpartition("-")
            versions.setdefault(name, []).append(version)
    assert all(len(versions.get(f"heavy{i}", [])) == 1 for i in range(4)), versions


# ---------------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------------
HOLD_SCRIPT = (
    "import os, sys, time\nopen(sys.argv[1], 'w').close()\nwhile not os.path.exists(sys.argv[2]): time.sleep(0.02)\n"
)


def test_run_holds_the_lock_others_wait_and_nested_pip_locked_goes_on(
    env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    holder = subprocess.Popen(
        [venvlock(), "run", "--", sys.executable, "-c", HOLD_SCRIPT, str(started), str(release)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(started.exists, timeout=60)
        busy = run([pip_locked(), "install", "delta"], {**env, "VENVLOCK_TIMEOUT": "0.5"})
        assert busy.returncode == 75, busy.stderr
        assert "venvlock run" in busy.stderr and "VENVLOCK_TIMEOUT" in busy.stderr
        busy_run = run([venvlock(), "run", "--", "true"], {**env, "VENVLOCK_TIMEOUT": "0"})
        assert busy_run.returncode == 75 and "venvlock: error: timed out" in busy_run.stderr
        waiter = subprocess.Popen([pip_locked(), "install", "delta"], env=env, stderr=subprocess.PIPE, text=True)
        assert waiter.stderr is not None
        assert "Waiting for lock on environment" in waiter.stderr.readline()
        release.touch()
        assert holder.wait(timeout=60) == 0
        assert waiter.wait(timeout=120) == 0
        assert status(env)[0]["last_sync"] is not None  # the waiter's sync was recorded
    finally:
        release.touch()
        holder.wait(timeout=60)

    # nested: a pip-locked inside the command goes on under the hold (it would time out otherwise)
    nested = run(
        [venvlock(), "run", "--", "sh", "-c", f"{pip_locked()} install beta==1.0 && exit 7"],
        {**env, "VENVLOCK_TIMEOUT": "5"},
    )
    assert nested.returncode == 7, nested.stderr
    assert "Waiting" not in nested.stderr
    assert (site_packages(venv) / "beta-1.0.dist-info").exists()
    (after,) = status(env)
    assert after["environment_lock"]["state"] == "free"


def test_run_with_creation_holds_both_locks_and_passes_signals_on(
    env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    inside = run([venvlock(), "run", "--creation", "--", venvlock(), "status", "--json"], env)
    assert inside.returncode == 0, inside.stderr
    (seen,) = json.loads(inside.stdout)
    assert seen["environment_lock"]["state"] == "exclusive" and seen["creation_lock"]["state"] == "exclusive"
    assert seen["environment_lock"]["holder"]["command"].startswith("venvlock run --creation")

    started = tmp_path / "started"
    script = f"import time; open({str(started)!r}, 'w').close(); time.sleep(60)"
    proc = subprocess.Popen([venvlock(), "run", "--", sys.executable, "-c", script], env=env)
    assert wait_for(started.exists, timeout=60)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    started.unlink()
    proc = subprocess.Popen([venvlock(), "run", "--", sys.executable, "-c", script], env=env)
    assert wait_for(started.exists, timeout=60)
    proc.send_signal(signal.SIGINT)  # to venvlock alone (no terminal): passed on, CMD's KeyboardInterrupt ends it
    assert proc.wait(timeout=30) == 128 + signal.SIGINT
    (after,) = status(env)
    assert after["environment_lock"]["state"] == "free"

    missing = run([venvlock(), "run", "--", str(tmp_path / "no-such-command")], env)
    assert missing.returncode == 127 and "venvlock: error: cannot run" in missing.stderr
