"""A hatch test project: its own hatch data, cache and config, a tiny in-tree build backend, local wheels only.

Used by ``tests/test_hatch.py`` and ``benchmarks/bench_hatch.py``.  The project
(``proj``) builds with :data:`BACKEND`, which writes its wheel with a copy of
:mod:`helpers.wheel_writer` placed beside it, so nothing needs downloading.
Its pre-install command (:data:`HOOK`) logs each environment creation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from helpers.processes import TIMEOUT
from helpers.wheel_writer import copy_into
from support import run_many, scripts_dir, tools_path

#: the hatch installed beside the test interpreter (it finds venvlock's plugin through its entry point)
HATCH = str(scripts_dir() / "hatch")
#: what every command imports: the project, its dependency tree (alpha -> beta, gamma[fast] -> delta), an env dependency
IMPORTS = "import proj, alpha, beta, gamma, delta"

BACKEND = '''\
"""A minimal PEP 517/660 backend for the test project: no build dependencies, nothing to download."""
import json, os

from wheel_writer import write_wheel

ROOT = os.path.dirname(os.path.abspath(__file__))


def _wheel(directory, editable):
    with open(os.path.join(ROOT, "backend.json"), encoding="utf-8") as file:
        meta = json.load(file)
    name, version = meta["name"], meta["version"]
    files = []
    if editable:
        files.append(("_" + name + "_editable.pth", (os.path.join(ROOT, "src") + "\\n").encode()))
    else:
        package = os.path.join(ROOT, "src", name)
        for entry in sorted(os.listdir(package)):
            if entry.endswith(".py"):
                with open(os.path.join(package, entry), "rb") as file:
                    files.append((name + "/" + entry, file.read()))
    return write_wheel(directory, name, version, files, requires=meta["dependencies"], generator="test", compress=False)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, editable=False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, editable=True)
'''

# the pre-install command: counts creations; stops at a gate when the test asks it to
HOOK = """\
import os, time
with open(os.environ["CREATION_LOG"], "a") as log:
    log.write(f"{os.getpid()}\\n")
held = os.environ.get("VENVLOCK_HELD", "")
with open(os.environ["CREATION_LOG"] + ".held", "a") as log:
    log.write(repr(held) + "\\n")
gate = os.environ.get("HOOK_GATE")
if gate:
    open(os.path.join(gate, f"started-{os.getpid()}"), "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(gate, "open")) and time.monotonic() < deadline:
        time.sleep(0.02)
"""

# a command that runs in the environment until the test lets it end
LONG_COMMAND = """\
import os, sys, time
gate = sys.argv[1]
with open(os.path.join(gate, f"started-{os.getpid()}"), "w") as file:
    file.write(os.environ.get("VENVLOCK_HELD", ""))
deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(gate, "open")) and time.monotonic() < deadline:
    time.sleep(0.02)
"""

# a .pth that stops every pip run in the environment at a gate (to kill a sync midway)
PIP_GATE = """\
import os, sys, time
if os.environ.get("PIP_GATE") and "pip" in " ".join(getattr(sys, "orig_argv", sys.argv)):
    open(os.path.join(os.environ["PIP_GATE"], f"started-{os.getpid()}"), "w").close()
    time.sleep(120)
"""


class HatchProject:
    """A project folder with its own hatch data, cache and config, and ways to run hatch in it."""

    def __init__(self, root: Path, offline: dict[str, str]) -> None:
        self.root = root
        self.base = root.parent
        (root / "src" / "proj").mkdir(parents=True)
        (root / "src" / "proj" / "__init__.py").write_text('__version__ = "0.1.0"\n')
        (root / "backend.py").write_text(BACKEND)
        copy_into(root)
        (root / "tools").mkdir()
        (root / "tools" / "hook.py").write_text(HOOK)
        (root / "tools" / "long.py").write_text(LONG_COMMAND)
        config = self.base / "hatch-config.toml"
        config.write_text("")
        self.creation_log = self.base / "creations.log"
        self.env = {
            **offline,
            "HATCH_DATA_DIR": str(self.base / "hatch-data"),
            "HATCH_CACHE_DIR": str(self.base / "hatch-cache"),
            "HATCH_CONFIG": str(config),
            "HATCH_PYTHON": sys.executable,
            "UV_CACHE_DIR": str(self.base / "uv-cache"),
            "CREATION_LOG": str(self.creation_log),
            "PATH": tools_path(offline.get("PATH")),  # no python of the test run's to fall back on
        }
        for name in ("HATCH_ENV", "HATCH_ENV_ACTIVE", "HATCH_KEEP_ENV", "HATCH_VERBOSE", "HATCH_QUIET"):
            self.env.pop(name, None)

    def configure(
        self,
        *,
        type_: str = "venvlock",
        project_dependencies: Sequence[str] = ("alpha",),
        env_dependencies: Sequence[str] = ("beta>=1",),
        options: str = "",
        extra: str = "",
        hook: bool = True,
    ) -> None:
        """Write pyproject.toml (and the backend's copy of the metadata)."""
        (self.root / "backend.json").write_text(
            json.dumps({"name": "proj", "version": "0.1.0", "dependencies": list(project_dependencies)})
        )
        command = json.dumps(f'python "{self.root / "tools" / "hook.py"}"')
        hook_line = f"pre-install-commands = [{command}]" if hook else ""
        type_line = f'type = "{type_}"' if type_ else ""
        (self.root / "pyproject.toml").write_text(
            f"""\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]

[project]
name = "proj"
version = "0.1.0"
dependencies = {json.dumps(list(project_dependencies))}

[tool.hatch.env]
requires = ["venvlock"]

[tool.hatch.envs.default]
{type_line}
dependencies = {json.dumps(list(env_dependencies))}
{hook_line}
{options}

{extra}
"""
        )

    # -- running hatch ---------------------------------------------------------------------------
    def hatch(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HATCH, *args],
            cwd=self.root,
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def many(self, count: int, *args: str) -> list[subprocess.CompletedProcess[str]]:
        return run_many([[HATCH, *args]] * count, env=self.env, cwd=self.root, timeout=TIMEOUT)

    def start(self, *args: str, **extra_env: str) -> subprocess.Popen[str]:
        """Start hatch in its own process group (so a test can kill it with everything it started)."""
        return subprocess.Popen(
            [HATCH, *args],
            cwd=self.root,
            env={**self.env, **extra_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    # -- looking at the result -------------------------------------------------------------------
    def env_path(self, name: str = "default") -> Path:
        found = self.hatch("env", "find", name)
        assert found.returncode == 0, found.stderr
        return Path(found.stdout.strip())

    def creations(self) -> int:
        return len(self.creation_log.read_text().splitlines()) if self.creation_log.exists() else 0

    def held_during_hooks(self) -> list[str]:
        log = Path(str(self.creation_log) + ".held")
        return log.read_text().splitlines() if log.exists() else []


def incomplete_marker(env_path: Path) -> Path:
    return env_path.parent / f".{env_path.name}.incomplete"
