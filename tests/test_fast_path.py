"""pip-locked's no-op fast path (venvlock._fast): what it loads, and every input whose change makes it step aside.

Each test primes the environment with one full pip-locked run (which writes
the record and the fast path's entry), proves that the next identical run is
answered by the fast path (nothing of the core, pluggy or packaging loaded),
changes one input, and proves that the run after it takes the full route.

Files the tests create are dated 10 s back: a file modified within 2 s of a
reading proves nothing yet (coarse file-system clocks), so without it the
fast path would rightly stay out of the way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import past, pip_install, run, site_packages, venv_python

#: runs pip-locked's entry point as its console script does, then reports the modules it loaded
WRAPPER = """\
import json, sys
extra = __import__("os").environ.get("VENVLOCK_TEST_SYS_PATH")
if extra:
    sys.path.insert(1, extra)
before = set(sys.modules)
from venvlock.plugins.pip_locked import main
try:
    code = main(sys.argv[1:])
finally:
    loaded = sorted(set(sys.modules) - before)
    with open(__import__("os").environ["VENVLOCK_TEST_MODULES"], "w") as file:
        json.dump(loaded, file)
sys.exit(code)
"""

#: what a proven no-op may load beyond what the interpreter had before pip-locked's module
ALLOWED = {
    "venvlock",
    "venvlock.plugins",
    "venvlock.plugins.pip_locked",
    "venvlock._fast",
    "_sha256",  # the builtin sha256 (Python <= 3.11)
    "_sha2",  # (Python >= 3.12)
}
#: what the full route loads (one of them at least, each time)
FULL_ROUTE = "venvlock.core"


class Runner:
    def __init__(self, tmp_path: Path, env: dict[str, str], venv: Path) -> None:
        self.env = {**env, "VENVLOCK_TEST_MODULES": str(tmp_path / "modules.json")}
        self.venv = venv
        self.cwd = tmp_path
        self.modules_file = tmp_path / "modules.json"

    def __call__(self, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        result = run([sys.executable, "-c", WRAPPER, *args], self.env, cwd=self.cwd)
        return result, json.loads(self.modules_file.read_text())

    def settle(self, *extra: Path) -> None:
        past(self.venv / "pyvenv.cfg", site_packages(self.venv), *extra)

    def fast(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run, and assert the fast path answered."""
        result, modules = self(*args)
        assert result.returncode == 0, result.stderr
        assert set(modules) <= ALLOWED, sorted(set(modules) - ALLOWED)
        return result

    def full(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run, and assert the full route ran."""
        result, modules = self(*args)
        assert FULL_ROUTE in modules, modules
        return result


@pytest.fixture
def runner(tmp_path: Path, env: dict[str, str], venv: Path) -> Runner:
    return Runner(tmp_path, env, venv)


@pytest.fixture
def requirements(tmp_path: Path, runner: Runner, venv: Path, env: dict[str, str]) -> Path:
    """``req.txt`` naming alpha (-> beta, gamma[fast] -> delta), installed by plain pip, primed by pip-locked."""
    path = tmp_path / "req.txt"
    path.write_text("alpha\n")
    pip_install(venv, env, "-r", str(path))
    runner.settle(path)
    primed, _ = runner("install", "-r", str(path))
    assert primed.returncode == 0, primed.stderr
    assert primed.stderr.startswith("Checked 4 packages"), primed.stderr
    return path


def test_a_repeated_noop_loads_nothing_but_the_fast_path(runner: Runner, requirements: Path) -> None:
    """Before: a no-op imported the adapter layer, the core, the request reader and the record (about 25 modules)."""
    result = runner.fast("install", "-r", str(requirements))
    assert result.stderr.startswith("Checked 4 packages in "), result.stderr
    quiet = runner.full("install", "-q", "-r", str(requirements))  # other arguments: another entry
    assert quiet.stderr == ""
    assert runner.fast("install", "-q", "-r", str(requirements)).stderr == ""


def test_a_changed_requirements_file_steps_aside(runner: Runner, requirements: Path, venv: Path) -> None:
    runner.fast("install", "-r", str(requirements))
    requirements.write_text("alpha\nbeta==2.0\n")
    result = runner.full("install", "-r", str(requirements))
    assert result.returncode == 0, result.stderr
    assert (site_packages(venv) / "beta-2.0.dist-info").is_dir()


@pytest.mark.slow  # a variant of test_a_changed_requirements_file_steps_aside
def test_a_changed_nested_requirements_file_steps_aside(runner: Runner, tmp_path: Path, venv: Path) -> None:
    nested = tmp_path / "more.txt"
    nested.write_text("gamma\n")
    top = tmp_path / "top.txt"
    top.write_text(f"alpha\n-r {nested.name}\n")
    pip_install(venv, runner.env, "alpha")
    runner.settle(nested, top)
    runner.full("install", "-r", str(top))
    runner.fast("install", "-r", str(top))
    nested.write_text("gamma\nbeta==2.0\n")
    result = runner.full("install", "-r", str(top))
    assert result.returncode == 0, result.stderr
    assert (site_packages(venv) / "beta-2.0.dist-info").is_dir()


@pytest.mark.slow
def test_a_new_pip_configuration_file_steps_aside(runner: Runner, requirements: Path, venv: Path) -> None:
    runner.env.pop("PIP_CONFIG_FILE")  # pip reads its files now: the site, user and global ones
    runner.env["HOME"] = str(requirements.parent / "home")
    runner.full("install", "-r", str(requirements))
    runner.fast("install", "-r", str(requirements))
    (venv / "pip.conf").write_text("[install]\nupgrade = true\n")
    result = runner.full("install", "-r", str(requirements))
    assert result.returncode == 0, result.stderr
    assert "Checked" not in result.stderr  # pip's setting: only pip can judge it, and it ran


def test_a_new_uv_setting_steps_aside_when_uv_installs(runner: Runner, requirements: Path, tmp_path: Path) -> None:
    """Before: with ``VENVLOCK_INSTALLER=uv``, a ``[tool.uv.pip]`` table written after the entry was never looked at:
    the fast path answered "Checked 4 packages" where the full route lets uv run with its setting."""
    runner.env["VENVLOCK_INSTALLER"] = "uv"
    runner.env.pop("UV_NO_CONFIG")  # uv reads its files now: the project's, the user's, the system's
    runner.env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    runner.env["XDG_CONFIG_DIRS"] = str(tmp_path / "system-config")
    runner.full("install", "-r", str(requirements))  # another entry: the installer is part of the key
    runner.fast("install", "-r", str(requirements))
    project = tmp_path / "pyproject.toml"
    project.write_text("[tool.uv.pip]\nreinstall = true\n")
    past(project, tmp_path)
    result = runner.full("install", "-r", str(requirements))
    assert result.returncode == 0, result.stderr
    assert "Checked" not in result.stderr, result.stderr  # uv's setting: uv ran and reinstalled
    assert "alpha==1.0" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("name", "value"), [("PIP_UPGRADE", "1"), ("PIP_NO_DEPS", "1"), ("VENVLOCK_TIMEOUT", "7"), ("PYTHONPATH", "x")]
)
@pytest.mark.slow
def test_a_changed_variable_steps_aside(runner: Runner, requirements: Path, name: str, value: str | None) -> None:
    runner.fast("install", "-r", str(requirements))
    if value is None:
        runner.env.pop(name)
    else:
        runner.env[name] = value
    runner.full("install", "-r", str(requirements))


@pytest.mark.slow  # a variant: the default suite keeps the changed requirements file and the journal left behind
def test_a_variable_the_file_expands_steps_aside(runner: Runner, tmp_path: Path, venv: Path) -> None:
    path = tmp_path / "req.txt"
    path.write_text("${WHICH_PACKAGE}\n")
    runner.env["WHICH_PACKAGE"] = "alpha"
    pip_install(venv, runner.env, "alpha")
    runner.settle(path)
    runner.full("install", "-r", str(path))
    runner.fast("install", "-r", str(path))
    runner.env["WHICH_PACKAGE"] = "beta==2.0"
    result = runner.full("install", "-r", str(path))
    assert result.returncode == 0, result.stderr
    assert (site_packages(venv) / "beta-2.0.dist-info").is_dir()


@pytest.mark.slow
def test_a_distribution_installed_behind_its_back_steps_aside(
    runner: Runner, requirements: Path, venv: Path, env: dict[str, str]
) -> None:
    runner.fast("install", "-r", str(requirements))
    subprocess.run(
        [str(venv_python(venv)), "-m", "pip", "uninstall", "-q", "-y", "delta"], env=env, check=True, timeout=300
    )  # plain pip, behind venvlock's back
    result = runner.full("install", "-r", str(requirements))
    assert result.returncode == 0, result.stderr
    assert (site_packages(venv) / "delta-1.0.dist-info").is_dir()  # pip ran and put it back


@pytest.mark.slow  # a variant: the default suite keeps the changed requirements file and the journal left behind
def test_a_plugin_installed_steps_aside(runner: Runner, requirements: Path, tmp_path: Path) -> None:
    """A venvlock plugin appearing on pip-locked's own path: the full route runs, and loads it."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    runner.env["VENVLOCK_TEST_SYS_PATH"] = str(plugins)
    past(plugins)
    runner.full("install", "-r", str(requirements))
    runner.fast("install", "-r", str(requirements))
    (plugins / "noted_plugin.py").write_text("NOTED = True\n")
    info = plugins / "noted_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: noted-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[venvlock]\nnoted = noted_plugin\n")
    result, modules = runner("install", "-r", str(requirements))
    assert result.returncode == 0, result.stderr
    assert "noted_plugin" in modules, modules


@pytest.mark.slow  # a variant: the default suite keeps the changed requirements file and the journal left behind
def test_a_changed_working_folder_or_argument_steps_aside(runner: Runner, requirements: Path, tmp_path: Path) -> None:
    runner.fast("install", "-r", str(requirements))
    runner.full("install", "-r", str(requirements), "--no-build-isolation")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    runner.cwd = elsewhere
    runner.full("install", "-r", str(requirements))


def test_a_run_under_another_processs_lock_is_proved_all_the_same(runner: Runner, requirements: Path) -> None:
    """Before: the note of the locks a run's ancestors hold (``VENVLOCK_HELD``: process ids, another in every run)
    was part of the entry key, so pip-locked in a nox or tox session's command, or under ``venvlock run``, never
    found an entry, and every adapter's sync under its own creation lock missed too."""
    for holder in (1000, 1001):  # two runs of the same ancestor command
        runner.env["VENVLOCK_HELD"] = f"{holder} {requirements.parent / 'other' / '.lock'}"
        runner.fast("install", "-r", str(requirements))


def test_a_sync_journal_left_behind_steps_aside(runner: Runner, requirements: Path, venv: Path) -> None:
    """A journal (a sync running, or one interrupted) makes the full route look, and heal, before any answer."""
    runner.fast("install", "-r", str(requirements))
    journal = venv / ".venvlock" / "journal"
    journal.write_text("pid 1\n")  # a holder that is not this run's and not alive as that sync: the heal decides
    result = runner.full("install", "-r", str(requirements))
    assert result.returncode == 0, result.stderr


def test_a_fifo_planted_where_the_fast_path_reads_reads_as_absent(tmp_path: Path) -> None:
    """Before: the fast path opened a FIFO planted at an entry's or a record's path and waited for a writer forever."""
    os.mkfifo(tmp_path / "fifo")
    code = "import sys; from venvlock._fast import read_own_file; print(read_own_file(sys.argv[1]))"
    result = subprocess.run(  # in a child: on failure it would hang
        [sys.executable, "-c", code, str(tmp_path / "fifo")], capture_output=True, text=True, timeout=30
    )
    assert result.stdout == "None\n", result.stderr
