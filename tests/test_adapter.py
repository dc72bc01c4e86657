"""The adapter layer's conventions, owned once: markers, holder labels, a tool's failure as an exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from venvlock.adapter import Adapter, Marker, VenvlockError, command_label, installer_exit_code


def test_the_half_built_marker_names_the_tool_that_left_it(tmp_path: Path) -> None:
    folder = tmp_path / "envs" / "py"
    folder.mkdir(parents=True)
    assert Marker.find_incomplete(folder) is None
    marker = Marker.incomplete(folder, tool="tox")
    assert marker.path == str(tmp_path / "envs" / ".py.incomplete")
    marker.set()
    assert Marker.find_incomplete(folder) == ("tox", marker.path)
    (tmp_path / "envs" / ".py.incomplete").write_text("incomplete\n")  # an older venvlock's hatch marker
    assert Marker.find_incomplete(folder) == ("hatch", marker.path)
    (tmp_path / "envs" / ".py.incomplete").write_text("something else\n")  # names no tool
    assert Marker.find_incomplete(folder) == (None, marker.path)
    marker.clear()
    assert Marker.find_incomplete(folder) is None


def test_a_marker_in_the_record_folder_is_not_written_through_a_link(tmp_path: Path) -> None:
    """Before: ``<env>/.venvlock -> elsewhere`` made the nox provisioned marker land in ``elsewhere``."""
    environment = Adapter.environment(tmp_path / "env")
    (tmp_path / "env").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "env" / ".venvlock").symlink_to(elsewhere, target_is_directory=True)
    marker = Marker.in_records(environment, "nox-provisioned", text="provisioned\n")
    with pytest.raises(VenvlockError, match="cannot write"):
        marker.set()
    assert list(elsewhere.iterdir()) == []
    (tmp_path / "env" / ".venvlock").unlink()
    marker.set()
    assert (tmp_path / "env" / ".venvlock" / "nox-provisioned").read_text() == "provisioned\n"


def test_holders_name_themselves_by_tool_and_arguments_redacted() -> None:
    assert command_label("tox", ["-e", "py", "--", "https://user:secret@host/x"]) == (
        "tox -e py -- 'https://user:****@host/x'"
    )
    assert Adapter("hatch").purpose == command_label("hatch")


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (SystemExit(3), 3),
        (SystemExit("message"), 1),
        (SystemExit(0), 1),
        (subprocess.CalledProcessError(5, ["pip"]), 5),
        (type("CommandFailed", (Exception,), {"return_code": 7})(), 7),
        (RuntimeError("no code"), 1),
    ],
)
def test_a_tools_failed_install_becomes_the_installer_exit_code(failure: BaseException, code: int) -> None:
    assert installer_exit_code(failure) == code


def test_markers_refuse_a_fifo_instead_of_hanging(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("no FIFOs")
    import os

    folder = tmp_path / "py"
    folder.mkdir()
    os.mkfifo(tmp_path / ".py.incomplete")
    assert Marker.find_incomplete(folder) == (None, str(tmp_path / ".py.incomplete"))


#: a process that only takes an adapter's locks (a tox no-op, nox -R): which of venvlock's modules it loads
LOCKS_ONLY = """\
import json, sys
from venvlock.adapter import Adapter
adapter = Adapter("tox", quiet=True)
environment = adapter.environment(sys.argv[1])
with adapter.using_lock(environment):
    pass
with adapter.creation_lock(environment):
    with adapter.environment_lock(environment):
        pass
print(json.dumps(sorted(name for name in sys.modules if name.startswith(("venvlock", "packaging")))))
"""

#: what only a sync needs: the request, its reading, the check, the record, the journal, the installer, pip's readers
SYNC_ONLY = {
    "venvlock._faults",
    "venvlock._pip.config",
    "venvlock._pip.options",
    "venvlock._pip.requirements",
    "venvlock._uv",
    "venvlock.core._check",
    "venvlock.core._installed",
    "venvlock.core._installer",
    "venvlock.core._journal",
    "venvlock.core._record",
    "venvlock.core._request",
    "venvlock.core._results",
    "venvlock.core._sync",
    "venvlock.plugins.tox._judging",
}


def test_a_process_that_only_takes_locks_loads_nothing_a_sync_needs(tmp_path: Path) -> None:
    """The tox no-op's import budget: the locks (hooks, core, lock, holder files) and not one module of a sync."""
    import json

    venv = tmp_path / "venv"
    venv.mkdir()
    # a long option in the command line, as `nox --reuse-existing-virtualenvs` has: the holder file describes it
    command = [sys.executable, "-c", LOCKS_ONLY, str(venv), "--reuse-existing-virtualenvs"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert {"venvlock.core._lock", "venvlock.core._lock_services"} <= loaded  # it did lock
    assert not loaded & SYNC_ONLY, sorted(loaded & SYNC_ONLY)
    assert "venvlock._pip.redact" not in loaded  # no argument holds an @: nothing to redact
    assert not any(name.startswith("packaging") for name in loaded)
    # no plugin installed but venvlock's own: the core's answers, without pluggy and the plugin manager
    assert not loaded & {"pluggy", "venvlock.core._services", "venvlock.hookspec"}, sorted(loaded)


def test_a_folder_name_near_the_file_name_limit_gets_lock_and_marker_files_that_fit(tmp_path: Path) -> None:
    """A 250-byte folder name (nox keeps a long session name under a long ``--envdir``, and a tool may allow 255
    bytes): its creation lock, holder file and half-built marker still fit a file name; a usual name keeps its
    spelling."""
    from venvlock.adapter import Adapter, Marker

    folder = tmp_path / ("s" * 250)
    folder.mkdir()
    adapter = Adapter("tox", quiet=True)
    environment = adapter.environment(str(folder))
    with adapter.creation_lock(environment):
        assert any(".holder" in path.name for path in tmp_path.iterdir())  # the holder file was written too
    lock = Path(Adapter.creation_lock_path(environment))
    assert lock.parent == tmp_path and lock.is_file() and len(lock.name.encode()) <= 160, lock.name
    marker = Marker.incomplete(folder, tool="tox")
    marker.set()
    found = Marker.read_incomplete(folder)
    assert found is not None and found.tool == "tox" and Path(found.path).parent == tmp_path
    usual = adapter.environment(str(tmp_path / "venv"))
    assert Adapter.creation_lock_path(usual) == str(tmp_path / ".venv.create.lock")


#: a third-party plugin that keeps the locks elsewhere and hears every hold, installed as a distribution
ELSEWHERE_PLUGIN = """\
import os
from venvlock.hookspec import hookimpl

FOLDER = os.environ["ELSEWHERE"]


@hookimpl
def venvlock_creation_lock_path(environment):
    return os.path.join(FOLDER, "creation.lock")


@hookimpl
def venvlock_lock_path(environment):
    return os.path.join(FOLDER, "env.lock")


@hookimpl
def venvlock_acquired(environment, lock_path, waited):
    with open(os.path.join(FOLDER, "acquired"), "a") as file:
        file.write(os.path.basename(lock_path) + "\\n")


@hookimpl
def venvlock_waiting(environment, lock_path, holder, waited, quiet):
    with open(os.path.join(FOLDER, "waiting"), "a") as file:
        file.write(os.path.basename(lock_path) + "\\n")
"""

#: a process that takes a creation lock another process holds, and gives up (VENVLOCK_TIMEOUT)
TIMES_OUT = """\
import sys
from venvlock.adapter import Adapter, VenvlockError
adapter = Adapter("tox", quiet=True)
try:
    with adapter.creation_lock(adapter.environment(sys.argv[1])):
        pass
except VenvlockError as error:
    print(type(error).__name__)
"""


def install_elsewhere_plugin(
    plugins: Path,
    folder: str = "elsewhere_plugin-1.0.dist-info",
    entry_points: str = "[venvlock]\nelsewhere = elsewhere_plugin\n",
) -> Path:
    """:data:`ELSEWHERE_PLUGIN` installed in *plugins* as a distribution with metadata *folder* (a dist-info or an
    egg-info) and *entry_points*; returns the metadata folder."""
    (plugins / "elsewhere_plugin.py").write_text(ELSEWHERE_PLUGIN)
    info = plugins / folder
    info.mkdir()
    metadata = "PKG-INFO" if folder.endswith(".egg-info") else "METADATA"
    (info / metadata).write_text("Metadata-Version: 2.1\nName: elsewhere-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    return info


def plugin_env(plugins: Path, elsewhere: Path, **more: str) -> dict[str, str]:
    """This environment with *plugins* on ``sys.path``, the plugin's folder, and plugins loaded."""
    import os

    env = {**os.environ, "PYTHONPATH": str(plugins), "ELSEWHERE": str(elsewhere), **more}
    env.pop("VENVLOCK_NO_PLUGINS", None)
    return env


def test_an_installed_plugin_answers_a_process_that_only_takes_locks(tmp_path: Path) -> None:
    """The lock-only route asks the hooks as soon as a plugin of group ``venvlock`` is installed: its lock files
    are the ones held, and it hears each exclusive hold."""
    import json

    plugins, elsewhere, venv = tmp_path / "plugins", tmp_path / "elsewhere", tmp_path / "venv"
    for folder in (plugins, elsewhere, venv):
        folder.mkdir()
    install_elsewhere_plugin(plugins)
    env = plugin_env(plugins, elsewhere)
    result = subprocess.run(
        [sys.executable, "-c", LOCKS_ONLY, str(venv)], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "venvlock.core._services" in set(json.loads(result.stdout))  # the plugin manager answered
    assert (elsewhere / "acquired").read_text().split() == ["creation.lock", "env.lock", "env.lock"]  # + its sync lock
    assert not (venv / ".lock").exists()
    assert not (tmp_path / ".venv.create.lock").exists()
    # and it hears a wait: the plugin's creation lock held by this process, the other gives up
    import fcntl

    with open(elsewhere / "creation.lock", "r+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        env["VENVLOCK_TIMEOUT"] = "0.5"  # a wait (0 fails at once, with no waiting line)
        result = subprocess.run(
            [sys.executable, "-c", TIMES_OUT, str(venv)], capture_output=True, text=True, timeout=60, env=env
        )
    assert result.stdout == "LockTimeoutError\n", result.stderr
    assert (elsewhere / "waiting").read_text() == "creation.lock\n"


def test_a_plugin_installed_after_the_answer_was_remembered_is_heard(tmp_path: Path) -> None:
    """Whether a plugin may answer is remembered per ``sys.path``; installing one changes its folder, which
    makes the next process look again."""

    from support import past

    plugins, elsewhere, venv, cache = tmp_path / "plugins", tmp_path / "elsewhere", tmp_path / "venv", tmp_path / "c"
    for folder in (plugins, elsewhere, venv):
        folder.mkdir()
    past(plugins)
    env = plugin_env(plugins, elsewhere, VENVLOCK_CACHE_DIR=str(cache))

    def lock_only() -> None:
        result = subprocess.run(
            [sys.executable, "-c", LOCKS_ONLY, str(venv)], capture_output=True, text=True, timeout=60, env=env
        )
        assert result.returncode == 0, result.stderr

    lock_only()
    (remembered,) = (cache / "plugins").iterdir()
    assert remembered.read_text().split("\n")[1] == "own only"
    assert (venv / ".lock").exists()  # the core's lock file
    for damaged in ("", "venvlock-plugins-2\n", "not ours\nthird-party"):  # read as nothing remembered
        remembered.write_text(damaged)
        lock_only()
        assert remembered.read_text().split("\n")[1] == "own only"
    install_elsewhere_plugin(plugins)
    lock_only()
    assert (elsewhere / "acquired").read_text().split() == ["creation.lock", "env.lock", "env.lock"]


def test_an_egg_info_rewritten_in_place_is_read_again(tmp_path: Path) -> None:
    """setuptools' ``develop`` rewrites an egg-info's ``entry_points.txt`` in place, which changes no folder: the
    remembered answer holds that file's stat too."""
    import os

    from support import past

    plugins, elsewhere, venv, cache = tmp_path / "plugins", tmp_path / "elsewhere", tmp_path / "venv", tmp_path / "c"
    for folder in (plugins, elsewhere, venv):
        folder.mkdir()
    egg = install_elsewhere_plugin(
        plugins, "elsewhere_plugin.egg-info", entry_points="[console_scripts]\nelsewhere = elsewhere_plugin:main\n"
    )
    past(plugins / "elsewhere_plugin.py", egg / "PKG-INFO", egg / "entry_points.txt", egg, plugins)
    env = plugin_env(plugins, elsewhere, VENVLOCK_CACHE_DIR=str(cache))
    command = [sys.executable, "-c", LOCKS_ONLY, str(venv)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    (remembered,) = (cache / "plugins").iterdir()
    assert remembered.read_text().split("\n")[1] == "own only"
    before = os.stat(egg).st_mtime_ns, os.stat(plugins).st_mtime_ns
    with open(egg / "entry_points.txt", "w") as file:  # in place, as setuptools writes it
        file.write("[venvlock]\nelsewhere = elsewhere_plugin\n")
    assert (os.stat(egg).st_mtime_ns, os.stat(plugins).st_mtime_ns) == before  # no folder changed
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert (elsewhere / "acquired").read_text().split() == ["creation.lock", "env.lock", "env.lock"]


def test_venvlocks_own_plugins_implement_no_lock_hook() -> None:
    """Where no other plugin is installed the core answers the lock hooks alone (``plugins_may_answer``): so
    venvlock's own entry-point plugins (the uv installer) must answer none of them."""
    import importlib

    from venvlock.core import _plugins

    lock_hooks = {
        "venvlock_creation_lock",
        "venvlock_environment_lock",
        "venvlock_creation_lock_path",
        "venvlock_lock_path",
        "venvlock_acquired",
    }
    own = [target for _, target, is_own in _plugins._entry_points(_plugins.ENTRY_POINT_GROUP) if is_own]
    assert own  # the uv installer, at least
    for target in own:
        module = importlib.import_module(target.partition(":")[0])
        assert not lock_hooks & set(dir(module)), target
