"""A nox test project: a noxfile whose sessions the tests drive through environment variables, and its wheels.

Used by ``tests/test_nox.py``.  The same :data:`NOXFILE` runs stock
``nox.session`` when ``TEST_PLAIN`` is set (the controls); ``TEST_BACKEND``,
``TEST_HANG_AT`` and the other ``TEST_*`` variables it reads pick the scenario.
Installs come from :func:`build_nox_wheels`'s folder only (no network).
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from helpers.processes import start_group
from support import build_wheel, check_intact, offline_env, pip_locked, venv_python

#: what the ``tests`` session imports: its ``-r`` file's tree and one more requirement
IMPORTS = "import alpha, beta, gamma, delta, eps, zeta, eta"
Completed = subprocess.CompletedProcess[str]

NOXFILE = '''
import os
import sys

import nox

if os.environ.get("TEST_CHANGED_NOX"):  # a nox whose internals differ: friendly_name no longer a property
    import functools
    from nox.sessions import SessionRunner

    SessionRunner.friendly_name = functools.cached_property(SessionRunner.friendly_name.fget)
    SessionRunner.friendly_name.__set_name__(SessionRunner, "friendly_name")
if os.environ.get("TEST_PLAIN"):
    session = nox.session
else:
    from venvlock.plugins.nox import session
if os.environ.get("TEST_PROTECT_ALL"):
    import venvlock.plugins.nox

    venvlock.plugins.nox.protect_all()
if os.environ.get("TEST_IMPORT_TWICE"):
    for name in [m for m in sys.modules if m.startswith("venvlock.plugins.nox")]:
        del sys.modules[name]
    from venvlock.plugins.nox import session

BACKEND = os.environ.get("TEST_BACKEND", "virtualenv")
PYTHONS = os.environ.get("TEST_PYTHONS", "").split(",")
IMPORTS = "import alpha, beta, gamma, delta, eps, zeta, eta"
HANG = "import pathlib, sys, time; pathlib.Path(sys.argv[1]).touch(); time.sleep(120)"


def hang_if_asked(session, step):
    """Touch $TEST_HANG and sleep when $TEST_HANG_AT names this step (lets a test kill the run there)."""
    if os.environ.get("TEST_HANG_AT") == step:
        command = ["python", "-c", HANG, os.environ["TEST_HANG"]]
        (session.run_install if step == "install" else session.run)(*command)


@session(venv_backend=BACKEND)
def tests(session):
    session.install("-r", "requirements.txt")
    session.install(os.environ.get("TEST_SPEC", "eta"))
    if os.environ.get("TEST_TARGET"):  # an install pip sends to another folder: for pip to do, every time
        session.install("--target", os.environ["TEST_TARGET"], "eta")
    if os.environ.get("TEST_MODULES"):  # what this nox process loaded for the installs
        with open(os.environ["TEST_MODULES"], "w") as file:
            file.write("\\n".join(sorted(sys.modules)))
    session.run("python", "-c", IMPORTS)
    hang_if_asked(session, "run")


@nox.session(venv_backend=BACKEND)
def unmarked(session):
    session.install("-r", "requirements.txt", "eta")
    session.run("python", "-c", IMPORTS)


@session(venv_backend=BACKEND)
def provision(session):
    if os.environ.get("TEST_PAUSE"):  # touch $TEST_PAUSE, then wait for $TEST_RESUME before anything else
        import pathlib, time

        pathlib.Path(os.environ["TEST_PAUSE"]).touch()
        while not os.path.exists(os.environ["TEST_RESUME"]):
            time.sleep(0.02)
    session.install("alpha")
    hang_if_asked(session, "install")
    session.install("big")
    session.install("gamma")
    session.run("python", "-c", "import alpha, big, gamma")
    hang_if_asked(session, "run")


@session(venv_backend=BACKEND)
def stops(session):
    session.install("alpha")
    (session.skip if os.environ["TEST_STOP"] == "skip" else session.error)("stopped by the session")


@session(venv_backend=BACKEND)
def nested(session):
    pip_locked = os.environ["TEST_PIP_LOCKED"]
    session.install("alpha")
    session.run(pip_locked, "install", "eta", external=True)
    session.run_install(pip_locked, "install", "eps", external=True)
    session.run("python", "-c", "import alpha, eta, eps")


@session(venv_backend="uv", python=PYTHONS, allow_parallel=True)
@nox.parametrize("n", ["1", "2"])
def matrix(session, n):
    session.install("alpha")
    hang_if_asked(session, "run-" + n)
    session.run("python", "-c", "import alpha")


@session(venv_backend=BACKEND)
def local(session):
    session.install(os.environ["TEST_WHEEL"])
    session.install("eta")
    session.run("python", "-c", "import eta, delta")


@session(venv_backend=BACKEND)
def script(session):
    session.install_and_run_script("script.py")
'''

SCRIPT = """\
# /// script
# dependencies = ["zeta", "eta"]
# ///
import eta, zeta
print("script ran")
"""


#: the wheels the sessions install: a small tree (``alpha==1.0`` and ``2.0``), and ``big``, which pip takes
#: seconds to unpack (so a test can kill a run inside pip)
NOX_WHEELS = [
    ("alpha", "1.0", ["beta"]),
    ("alpha", "2.0", ["beta"]),
    ("beta", "1.0", []),
    ("gamma", "1.0", ["delta>=1"]),
    ("delta", "1.0", []),
    ("eps", "1.0", []),
    ("zeta", "1.0", ["eps"]),
    ("eta", "1.0", []),
]


def build_nox_wheels(folder: Path) -> Path:
    """Write :data:`NOX_WHEELS` and ``big`` into *folder*."""
    for name, version, requires in NOX_WHEELS:
        build_wheel(folder, name, version, requires=requires, files=20)
    build_wheel(folder, "big", files=3000, payload=200)  # pip takes seconds to unpack it
    return folder


def write_project(folder: Path) -> Path:
    """The project folder: :data:`NOXFILE`, its ``requirements.txt`` and the PEP 723 ``script.py``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "noxfile.py").write_text(NOXFILE)
    (folder / "requirements.txt").write_text("alpha==1.0\ngamma\nzeta\n")
    (folder / "script.py").write_text(SCRIPT)
    return folder


def nox_env(wheels: Path, work: Path) -> dict[str, str]:
    """Offline from *wheels*, a private venvlock cache under *work*, and the pip-locked the ``nested`` session runs."""
    return offline_env(
        wheels,
        VENVLOCK_CACHE_DIR=str(work / "cache"),
        VENVLOCK_TIMEOUT="240",
        TEST_PIP_LOCKED=pip_locked(),
    )


def nox_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "nox", *args]


def run_nox(project: Path, env: dict[str, str], *args: str, timeout: float = 240) -> Completed:
    return subprocess.run(
        nox_command(*args), cwd=project, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def describe(results: Sequence[subprocess.CompletedProcess[str]]) -> str:
    failed = [r for r in results if r.returncode != 0]
    return "\n\n".join(f"$ {' '.join(r.args)}\n{r.stdout}{r.stderr}"[-3000:] for r in failed[:2])


def venv_problems(venv: Path, imports: str = IMPORTS) -> list[str]:
    """What is wrong with a session's venv: damage, and the imports the session needs."""
    if not venv_python(venv).exists():
        return [f"{venv} has no interpreter"]
    problems = check_intact(venv)
    python = str(venv_python(venv))
    done = subprocess.run([python, "-c", imports], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        problems.append(done.stderr.strip().splitlines()[-1])
    return problems


def start_nox(project: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return start_group(nox_command(*args), project, env)


def other_python() -> str | None:
    """The folder of a second CPython (another X.Y than the running one), if this machine has one."""
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3.*")))
    candidates += [f"/usr/bin/python3.{minor}" for minor in range(9, 15)]
    for candidate in candidates:
        version = os.path.basename(candidate)[len("python") :]
        if version.count(".") != 1 or version == running or not os.access(candidate, os.X_OK):
            continue
        if subprocess.run([candidate, "-c", "import venv"], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def provisioned_marker(venv: Path) -> Path:
    """The file the nox adapter writes into a session's venv once it is completely provisioned."""
    from venvlock.plugins.nox import _patch  # the adapter's one name for it; a test has no public way to it

    return venv / ".venvlock" / _patch.MARKER_NAME
