"""A tox test project: ``tox.ini`` (``skipsdist``), a command that stamps its start and end, and ways to run tox.

Used by ``tests/test_tox.py``.  The command of the environment, ``stamp.py``
(:data:`STAMP`), writes its start and end times (and whether its environment
was still there at the end) to ``stamps.log``, so overlap and waiting are
proven by the commands' own timestamps (:func:`stamps`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers.processes import start_group
from support import check_intact, offline_env, scripts_dir, site_packages

#: the tox installed beside the test interpreter (it finds venvlock's plugin through its entry point)
TOX = str(scripts_dir() / "tox")


STAMP = """\
import os, sys, time
log, until = sys.argv[1], sys.argv[2]
import alpha
with open(log, "a") as file:
    file.write(f"start {os.getppid()} {time.time():.6f}\\n")
try:  # seconds to run, or a file to wait for (the test creates it: an event, not a guess at timing)
    deadline, release = time.monotonic() + float(until), None
except ValueError:
    deadline, release = float("inf"), until
still_there = True
while time.monotonic() < deadline and not (release and os.path.exists(release)):
    still_there = still_there and os.path.exists(alpha.__file__)  # all along, not only at the end
    time.sleep(0.005)
still_there = still_there and os.path.exists(alpha.__file__)
with open(log, "a") as file:
    file.write(f"end {os.getppid()} {time.time():.6f} {still_there}\\n")
sys.exit(0 if still_there else 3)
"""

# pip, after which it hangs while the file named by its first argument exists (to be killed there)
SLOW_INSTALL = """\
import os, subprocess, sys, time
flag = sys.argv[1]
code = subprocess.call([sys.executable, "-m", "pip", "install", *sys.argv[2:]])
if os.path.exists(flag):
    open(flag + ".reached", "w").close()
    time.sleep(120)
sys.exit(code)
"""

# tox passes its environments (virtualenv's creation included) only the variables of pass_env: the run's caches too,
# or virtualenv and the commands write theirs under the user's HOME
TOX_INI = """\
[tox]
skipsdist = true
{core}
[testenv]
pass_env = XDG_CACHE_HOME, XDG_DATA_HOME

[testenv:py]
runner = {runner}
deps =
{deps}
{extra}
commands = python {{toxinidir}}/stamp.py {{toxinidir}}/stamps.log {{posargs:0}}
"""


def write_project(
    folder: Path,
    *,
    runner: str = "virtualenv",
    deps: tuple[str, ...] = ("alpha",),
    core: str = "",
    extra: str = "",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "\n".join(f"    {dep}" for dep in deps)
    (folder / "tox.ini").write_text(TOX_INI.format(runner=runner, deps=body, core=core, extra=extra))
    (folder / "stamp.py").write_text(STAMP)
    (folder / "slow_install.py").write_text(SLOW_INSTALL)
    return folder


def tox_env(wheelhouse: Path, work: Path) -> dict[str, str]:
    """Offline, the tests' seeded virtualenv app-data (warm, as on a machine that made a venv before), no config."""
    return offline_env(
        wheelhouse,
        VENVLOCK_CACHE_DIR=str(work / "cache"),
        VENVLOCK_TIMEOUT="180",
        VIRTUALENV_NO_DOWNLOAD="1",
        VIRTUALENV_NO_PERIODIC_UPDATE="1",
        TOX_USER_CONFIG_FILE=str(work / "no-user-config.ini"),
        NO_COLOR="1",
    )


def tox(*args: str) -> list[str]:
    return [TOX, *args]


def run_tox(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(tox(*args), cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)


def start_tox(project: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return start_group(tox(*args), project, env)


def stamps(project: Path) -> dict[int, tuple[float, float | None, bool]]:
    """``tox pid -> (command start, command end, environment still there at the end)``."""
    found: dict[int, list[object]] = {}
    log = project / "stamps.log"
    for line in log.read_text().splitlines() if log.exists() else []:
        kind, pid, stamp, *rest = line.split()
        entry = found.setdefault(int(pid), [0.0, None, False])
        if kind == "start":
            entry[0] = float(stamp)
        else:
            entry[1], entry[2] = float(stamp), rest == ["True"]
    return {pid: (float(s), e if e is None else float(e), bool(ok)) for pid, (s, e, ok) in found.items()}  # type: ignore[arg-type]


def started(project: Path, count: int = 1) -> bool:
    log = project / "stamps.log"
    return log.exists() and log.read_text().count("start ") >= count


def problems_of(project: Path) -> list[str]:
    venv = project / ".tox" / "py"
    try:
        site_packages(venv)
    except ValueError:
        return ["no site-packages"]
    return check_intact(venv)


def assert_all_ok(results: list[subprocess.CompletedProcess[str]], project: Path) -> None:
    failed = [r for r in results if r.returncode != 0]
    assert not failed, "\n".join(f"exit {r.returncode}:\n{r.stdout}\n{r.stderr}" for r in failed[:2])
    assert problems_of(project) == []


def installed(project: Path, name: str) -> bool:
    return any(site_packages(project / ".tox" / "py").glob(f"{name}-*.dist-info"))
