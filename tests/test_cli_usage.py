"""The ``venvlock`` command line as users of pip and uv expect it: arguments, usage errors, help, exit status."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support import scripts_dir


def venvlock(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(scripts_dir() / "venvlock"), *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def fake_venv(path: Path) -> Path:
    """A folder with a ``pyvenv.cfg``: enough for ``run`` and ``status`` to lock and probe (no interpreter needed)."""
    path.mkdir(parents=True)
    (path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return path


#: prints its arguments, one per line: what COMMAND was given
ECHO_ARGS = [sys.executable, "-c", "import sys; print(*sys.argv[1:], sep='\\n')"]


def test_run_gives_everything_after_the_command_to_it(offline: dict[str, str], tmp_path: Path) -> None:
    """Before: `venvlock run --env E ls -la` failed "unrecognized arguments: -la"."""
    env = fake_venv(tmp_path / "env")
    for spelling in (["-p", str(env)], ["--env", str(env)], ["--python", str(env)], [f"--env={env}"]):
        own = ["-la", "--env", "x", "--creation", "-h", "--", "-p"]
        done = venvlock("run", *spelling, *ECHO_ARGS, *own, env=offline)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == own, done.stdout
        with_dashes = venvlock("run", *spelling, "--", *ECHO_ARGS, *own, env=offline)
        assert with_dashes.returncode == 0 and with_dashes.stdout.splitlines() == own, with_dashes
    status = venvlock("run", "-p", str(env), sys.executable, "-c", "raise SystemExit(3)", env=offline)
    assert status.returncode == 3, status.stderr
    nothing = venvlock("run", "-p", str(env), "--", env=offline)
    assert nothing.returncode == 2 and "venvlock: error: run: no command given" in nothing.stderr


def test_one_way_to_name_the_environment_for_every_command(offline: dict[str, str], tmp_path: Path) -> None:
    """`-p/--python PATH` (pip's spelling; `--env` as well) for status, verify, repair and run; PATH still works."""
    env = fake_venv(tmp_path / "env")
    other = fake_venv(tmp_path / "other")
    for spelling in (["-p", str(env)], ["--python", str(env)], ["--env", str(env)], [str(env)]):
        done = venvlock("status", "--json", *spelling, env=offline)
        assert done.returncode == 0, done.stderr
        assert f'"environment": "{env}"' in done.stdout
    both = venvlock("status", "--json", str(env), "-p", str(other), env=offline)
    assert both.returncode == 0 and str(env) in both.stdout and str(other) in both.stdout, both.stderr
    nowhere = str(tmp_path / "nowhere")
    for command in ("verify", "repair", "run"):
        missing = venvlock(command, "-p", nowhere, *(["true"] if command == "run" else []), env=offline)
        assert missing.returncode == 2, (command, missing.stderr)
        assert f"venvlock: error: no environment at {nowhere}" in missing.stderr, (command, missing.stderr)
    two = venvlock("verify", "-p", str(env), str(other), env=offline)
    assert two.returncode == 2 and "one environment at a time" in two.stderr, two.stderr


def test_usage_errors_show_the_command_s_own_usage(offline: dict[str, str]) -> None:
    """Before: `verify --bogus` printed the top-level usage, and `-j -3` was accepted."""
    bogus = venvlock("verify", "--bogus", env=offline)
    assert bogus.returncode == 2, bogus.stderr
    assert (
        bogus.stderr.startswith("usage: venvlock verify ")
        and "venvlock: error: unrecognized arguments: --bogus" in bogus.stderr
    )
    for jobs in ("-3", "many", "1.5"):
        rejected = venvlock("verify", "-j", jobs, env=offline)
        assert rejected.returncode == 2, (jobs, rejected.stderr)
        assert "usage: venvlock verify " in rejected.stderr and "argument -j/--jobs" in rejected.stderr, rejected.stderr
    top = venvlock("--bogus", "status", env=offline)
    assert top.returncode == 2 and top.stderr.startswith("usage: venvlock [-h]"), top.stderr
    unknown = venvlock("frobnicate", env=offline)
    assert unknown.returncode == 2 and "venvlock: error:" in unknown.stderr


def test_help_lists_each_command_once_and_names_no_source_path(offline: dict[str, str]) -> None:
    """Before: the commands were listed twice in two wordings, and help ended "See docs/cli.md"."""
    done = venvlock("--help", env=offline)
    assert done.returncode == 0, done.stderr
    for command in ("status", "verify", "repair", "run"):
        listed = re.findall(rf"^\s+{command}\s", done.stdout, flags=re.MULTILINE)
        assert len(listed) == 1, (command, done.stdout)
    assert "docs/" not in done.stdout and "venvlock COMMAND --help" in done.stdout, done.stdout
    assert "VENVLOCK_UV" in done.stdout, "the uv repair runs is found by it"
    for command in ("status", "verify", "repair", "run"):
        own = venvlock(command, "--help", env=offline)
        assert own.returncode == 0 and own.stdout.startswith(f"usage: venvlock {command} "), own.stdout
        assert "-p PATH, --python PATH, --env PATH" in own.stdout, own.stdout


def test_a_reader_that_went_away_gets_no_error_message(offline: dict[str, str], tmp_path: Path) -> None:
    """Before: `venvlock status | head -1` ended "venvlock: error: Broken pipe" on stderr."""
    env = fake_venv(tmp_path / "env")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before venvlock writes a word
    try:
        done = subprocess.run(
            [str(scripts_dir() / "venvlock"), "status", "-p", str(env)],
            env=offline,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 1 and done.stderr == "", done.stderr


def test_a_bad_setting_is_an_error_for_every_command(offline: dict[str, str], tmp_path: Path) -> None:
    """Before: `status` and `doctor` ignored `VENVLOCK_TIMEOUT=soon` (exit 0), and every command, `repair`
    included, ignored `VENVLOCK_INSTALLER=bogus`: a setting is checked on every path, as pip-locked does."""
    env = fake_venv(tmp_path / "env")
    settings = {"VENVLOCK_TIMEOUT": "soon", "VENVLOCK_INSTALLER": "bogus", "VENVLOCK_UNLOCKED": "maybe"}
    for name, value in settings.items():
        for command in (["status"], ["verify"], ["repair", "--dry-run"], ["doctor"], ["run", "true"]):
            done = venvlock(command[0], "-p", str(env), *command[1:], env={**offline, name: value})
            assert done.returncode == 2, (name, command, done.stdout, done.stderr)
            assert done.stderr.startswith(f"venvlock: error: {name}={value!r}"), (name, command, done.stderr)
            assert done.stdout == "", (name, command, done.stdout)
    assert list(env.iterdir()) == [env / "pyvenv.cfg"], "nothing made in the environment"


def test_run_passes_on_the_descriptors_it_inherited(offline: dict[str, str], tmp_path: Path) -> None:
    """Before: `venvlock run -- cat <(echo hi)` failed "No such file or directory: /dev/fd/63", and a make
    jobserver's descriptors never reached COMMAND: run closed every descriptor but its locks.  As with
    flock(1), COMMAND inherits what venvlock inherited."""
    env = fake_venv(tmp_path / "env")
    reading, writing = os.pipe()
    os.write(writing, b"hi\n")
    os.close(writing)
    read_it = [sys.executable, "-c", f"import os; print(os.read({reading}, 100).decode().strip())"]
    try:
        command = [str(scripts_dir() / "venvlock"), "run", "-p", str(env), *read_it]
        done = subprocess.run(command, env=offline, capture_output=True, text=True, timeout=120, pass_fds=(reading,))
    finally:
        os.close(reading)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hi\n", done.stdout
