"""A poetry test project (``package-mode = false``, dependencies from the test index) and ways to run poetry.

Used by ``tests/test_poetry.py`` and ``benchmarks/bench_poetry.py``.  poetry
runs offline: the project's only source is :class:`helpers.pep503.Index` on
127.0.0.1, proxies point at a dead port (``NO_PROXY=127.0.0.1``), poetry's
cache, config and data folders are the test's, the keyring is the null one,
and the venv is in-project (``.venv``).

poetry runs from a venv of its own (:func:`make_poetry_venv`), not from the
interpreter running pytest: whatever a poetry that went wrong would install
into "its own" environment lands there.  That venv sees the test
interpreter's poetry and venvlock (the ``test`` extra installs poetry beside
venvlock) through a ``.pth`` file, so poetry finds venvlock's plugin through
its entry point, as beside a ``poetry self add venvlock``.
"""

from __future__ import annotations

import site
import subprocess
import venv
from pathlib import Path

from support import check_intact, offline_env, site_packages, tools_path

#: ``bin/poetry`` of a venv made by :func:`make_poetry_venv`
POETRY_SCRIPT = "#!{python}\nimport sys\nfrom poetry.console.application import main\nsys.exit(main())\n"
#: a port nothing listens on: any request that is not for the local index fails at once
DEAD_PROXY = "http://127.0.0.1:9"

PYPROJECT = """\
[project]
name = "demo"
version = "0.1"
requires-python = ">=3.10"
dependencies = [{deps}]

[tool.poetry]
package-mode = false

[[tool.poetry.source]]
name = "local"
url = "{index}"
priority = "primary"
{extra}"""


def write_project(folder: Path, index: str, *, deps: tuple[str, ...] = ("alpha",), extra: str = "") -> Path:
    """Write (or rewrite) the project's ``pyproject.toml`` in *folder*; return *folder*."""
    folder.mkdir(parents=True, exist_ok=True)
    body = ", ".join(f'"{dep}"' for dep in deps)
    (folder / "pyproject.toml").write_text(PYPROJECT.format(deps=body, index=index, extra=extra))
    return folder


def poetry_env(wheelhouse: Path, work: Path, **extra: str) -> dict[str, str]:
    """Offline poetry: private cache, config and data folders under *work*, in-project venvs, no keyring."""
    return offline_env(
        wheelhouse,
        PATH=tools_path(),
        POETRY_CACHE_DIR=str(work / "poetry-cache"),
        POETRY_CONFIG_DIR=str(work / "poetry-config"),
        POETRY_DATA_DIR=str(work / "poetry-data"),
        POETRY_VIRTUALENVS_IN_PROJECT="true",
        POETRY_NO_INTERACTION="1",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        HTTP_PROXY=DEAD_PROXY,
        HTTPS_PROXY=DEAD_PROXY,
        http_proxy=DEAD_PROXY,
        https_proxy=DEAD_PROXY,
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
        VENVLOCK_CACHE_DIR=str(work / "venvlock-cache"),
        VENVLOCK_TIMEOUT="240",
        VIRTUALENV_NO_DOWNLOAD="1",
        VIRTUALENV_NO_PERIODIC_UPDATE="1",
        NO_COLOR="1",
        **extra,
    )


def make_poetry_venv(folder: Path) -> Path:
    """A venv at *folder* whose ``bin/poetry`` runs the test interpreter's poetry (with venvlock beside it)."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    (found,) = (folder / "lib").glob("python*/site-packages")
    # addsitedir, not plain lines: the editable venvlock is itself a .pth file there, which must run too
    lines = [f"import site; site.addsitedir({folder!r})" for folder in site.getsitepackages()]
    (found / "_venvlock_tests_poetry.pth").write_text("\n".join(lines) + "\n")
    script = folder / "bin" / "poetry"
    script.write_text(POETRY_SCRIPT.format(python=folder / "bin" / "python"))
    script.chmod(0o755)
    return script


_POETRY: list[str] = []


def use_poetry(script: Path) -> None:
    """Run poetry as *script* (made by :func:`make_poetry_venv`) from now on in this process."""
    _POETRY[:] = [str(script)]


def poetry(*args: str) -> list[str]:
    assert _POETRY, "make_poetry_venv() and use_poetry() first"
    return [*_POETRY, *args]


def run_poetry(
    project: Path, env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        poetry(*args), cwd=project, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def problems_of(project: Path) -> list[str]:
    """What is wrong with the project's ``.venv`` (see :func:`support.check_intact`)."""
    venv = project / ".venv"
    try:
        site_packages(venv)
    except ValueError:
        return ["no site-packages"]
    return check_intact(venv)


def installed(project: Path, name: str) -> bool:
    return any(site_packages(project / ".venv").glob(f"{name}-*.dist-info"))
