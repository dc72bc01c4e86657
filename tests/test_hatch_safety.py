"""The hatch adapter's marker and holder files: no link followed, a write error in one line, no credentials."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import SECRET, Gate, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


@pytest.mark.slow
def test_hatch_marker_replaces_a_planted_link_and_names_no_command(hatch_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: a link at .<name>.incomplete made `hatch run` overwrite the file it pointed to."""
    from helpers.hatch_project import incomplete_marker

    env_path = hatch_project.env_path()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    env_path.parent.mkdir(parents=True, exist_ok=True)
    incomplete_marker(env_path).symlink_to(victim)
    ran = hatch_project.hatch("run", "python", "-c", "import beta")
    assert ran.returncode == 0, ran.stderr
    assert victim.read_text() == "precious\n"
    assert not incomplete_marker(env_path).exists()


MARKER_WRITE_FAILS = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # every write of a byte fails with EFBIG, for real
sys.argv = ["hatch", *sys.argv[1:]]
from hatch.cli import main
sys.exit(main())
"""


def test_hatch_marker_write_error_is_one_line_and_leaves_no_marker(hatch_project) -> None:  # type: ignore[no-untyped-def]
    """Before: a traceback, and an empty .<name>.incomplete left behind."""
    from helpers.hatch_project import incomplete_marker
    from helpers.processes import TIMEOUT

    env_path = hatch_project.env_path()
    ran = subprocess.run(
        [sys.executable, "-c", MARKER_WRITE_FAILS, "run", "python", "-c", "pass"],
        cwd=hatch_project.root, env=hatch_project.env, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert ran.returncode != 0
    assert "Traceback" not in ran.stderr, ran.stderr
    assert "cannot write" in ran.stderr and "File too large" in ran.stderr, ran.stderr
    assert not incomplete_marker(env_path).exists()
    assert not any(p.name.endswith(".tmp") for p in env_path.parent.iterdir())


@pytest.mark.slow
def test_hatch_marker_and_holder_carry_no_credentials(tmp_path: Path, offline: dict[str, str]) -> None:
    """Before: `.<name>.incomplete` and the holder file held the whole command line, password included."""
    pytest.importorskip("hatch")
    from helpers.hatch_project import HatchProject, incomplete_marker
    from helpers.processes import finish

    project = HatchProject(tmp_path / "proj", offline)
    project.configure(project_dependencies=(), env_dependencies=("beta>=1",))
    env_path = project.env_path()
    gate = Gate(tmp_path / "gate")
    url = f"https://user:{SECRET}@index.invalid/simple"
    running = project.start("run", "python", "-c", "import sys", url, HOOK_GATE=str(gate.folder))
    try:
        assert wait_for(gate.started, timeout=120), "the creation never reached its pre-install command"
        marker = incomplete_marker(env_path).read_text()
        holder = Path(str(env_path.parent / f".{env_path.name}.create.lock") + ".holder").read_text()
    finally:
        gate.open()
    assert finish(running)[0] == 0
    assert marker == "incomplete\ntool = hatch\n", marker  # the tool that left it, no command line at all
    assert SECRET not in holder and "https://user:****@index.invalid/simple" in holder, holder


def test_failed_removal_of_a_linked_environment_keeps_it_usable(hatch_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: `hatch env remove` on a `path` that is a symbolic link failed (as in stock hatch) but left
    `.<name>.incomplete` behind, and every later `hatch run` then failed trying to remove the folder again."""
    from helpers.hatch_project import incomplete_marker

    target = tmp_path / "real" / "venv"
    target.parent.mkdir()
    link = hatch_project.root / "linked-venv"
    link.symlink_to(target, target_is_directory=True)
    hatch_project.configure(
        project_dependencies=(), env_dependencies=("beta>=1",), hook=False, options=f'path = "{link}"'
    )
    created = hatch_project.hatch("env", "create")
    assert created.returncode == 0, created.stderr
    removed = hatch_project.hatch("env", "remove")
    assert removed.returncode == 1  # hatch's removal refuses a link (shutil.rmtree), type virtual alike
    assert "Traceback" not in removed.stdout + removed.stderr
    assert f"cannot remove environment `default` at {link}" in removed.stderr, removed.stderr
    assert not incomplete_marker(link).exists()
    ran = hatch_project.hatch("run", "python", "-c", "import beta")
    assert ran.returncode == 0, ran.stderr
    assert link.is_symlink() and (target / "pyvenv.cfg").is_file()


@pytest.mark.slow
def test_half_built_linked_environment_is_named_not_reused(hatch_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: a creation through a linked `path` that failed left a folder hatch cannot remove, and every later
    run ended in a traceback; now each says in one line what to remove, and leaves everything as it is."""
    from helpers.hatch_project import incomplete_marker

    target = tmp_path / "real" / "venv"
    target.parent.mkdir()
    link = hatch_project.root / "linked-venv"
    link.symlink_to(target, target_is_directory=True)
    options = f'path = "{link}"\npost-install-commands = ["python -c \\"raise SystemExit(3)\\""]'
    hatch_project.configure(project_dependencies=(), env_dependencies=("beta>=1",), hook=False, options=options)
    failed = hatch_project.hatch("run", "python", "-c", "pass")
    assert failed.returncode != 0
    for _ in range(2):
        again = hatch_project.hatch("run", "python", "-c", "pass")
        assert again.returncode == 1
        assert "Traceback" not in again.stdout + again.stderr, again.stdout
        assert f"cannot remove environment `default` at {link}" in again.stderr, again.stderr
        assert "symbolic link" in again.stderr and str(target) in again.stderr, again.stderr
        assert (target / "pyvenv.cfg").is_file() and incomplete_marker(link).exists()


@pytest.mark.slow
def test_environment_kept_on_failure_is_not_removed_while_hatch_keep_env_is_set(hatch_project) -> None:  # type: ignore[no-untyped-def]
    """Before: HATCH_KEEP_ENV (hatch's "never remove environments on failure") kept the folder of a failed creation,
    but the next run removed and rebuilt it, so nothing could run in it to see what went wrong; type virtual uses it."""
    from helpers.hatch_project import incomplete_marker

    command = json.dumps("python -c \"import os; raise SystemExit(0 if os.environ.get('OK') else 3)\"")
    options = f"post-install-commands = [{command}]"
    hatch_project.configure(project_dependencies=(), env_dependencies=("beta>=1",), hook=False, options=options)
    failed = hatch_project.hatch("run", "python", "-c", "pass", HATCH_KEEP_ENV="1")
    assert failed.returncode == 3, failed.stderr
    env_path = hatch_project.env_path()
    assert env_path.is_dir() and incomplete_marker(env_path).exists()
    (env_path / "kept").touch()
    inspected = hatch_project.hatch("run", "python", "-c", "import beta", HATCH_KEEP_ENV="1")
    assert inspected.returncode == 0, inspected.stderr
    assert (env_path / "kept").exists()
    # without the setting, the half-built environment is built again, never taken as complete
    rebuilt = hatch_project.hatch("run", "python", "-c", "import beta", OK="1")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert not (env_path / "kept").exists() and not incomplete_marker(env_path).exists()
