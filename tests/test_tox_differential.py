"""The tox plugin against stock tox, configuration by configuration: the same installed set after every run.

Each case is a few ``tox -e py`` runs of one project whose configuration
changes between runs (a ``set_env`` of pip's settings, an ``install_command``,
a constraints file...).  The runs go once with venvlock (a project folder of
its own) and once with stock tox (``VENVLOCK_TOX=0``, another folder), side by
side; after every run both must have ended alike (exit status) and hold the
same distributions (the dist-info folders of ``.tox/py``).  Where venvlock
cannot judge an install exactly as tox's installer would, it must let the
installer run: "never worse than the tool you wrap".

A few cases run in the default suite (those whose installs venvlock once
judged with its own settings instead of the installer's); the rest of the
corpus is ``slow``.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers.tox_project import run_tox, tox_env
from support import scripts_dir, site_packages

UV = str(scripts_dir() / "uv")

#: the run environment of every case; {settings} is the case's step, {{...}} tox's own substitutions
TOX_INI = """\
[tox]
skipsdist = true

[testenv:py]
runner = virtualenv
deps =
{deps}
{settings}
commands = python -c "import beta"
"""


@dataclass
class Step:
    """One run: the ``[testenv:py]`` settings, files to write beside ``tox.ini``, variables for the tox process."""

    settings: str = ""
    deps: tuple[str, ...] = ("beta",)
    files: dict[str, str] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=dict)


@dataclass
class Folders:
    wheelhouse: Path
    #: a find-links folder with only the old versions (beta 1.0): a first run installs those
    old: Path


Case = Callable[[Folders], list[Step]]


def _changed_find_links(folders: Folders) -> str:
    """``PIP_FIND_LINKS`` spelled otherwise (the same folder): tox tracks it, so it reinstalls the deps."""
    return f"PIP_FIND_LINKS={folders.wheelhouse}{{/}}"


# --------------------------------------------------------------------------------------------------
# the corpus
# --------------------------------------------------------------------------------------------------
def pip_constraint_in_set_env(folders: Folders) -> list[Step]:
    """``set_env = PIP_CONSTRAINT=c.txt`` (beta==1.0) after beta 2.0 was installed: pip downgrades."""
    return [
        Step(),
        Step(settings="set_env = PIP_CONSTRAINT={toxinidir}{/}c.txt", files={"c.txt": "beta==1.0\n"}),
    ]


def pip_upgrade_in_set_env(folders: Folders) -> list[Step]:
    """``set_env = PIP_UPGRADE=1`` with a newer beta on offer: pip upgrades."""
    return [
        Step(settings=f"set_env = PIP_FIND_LINKS={folders.old}"),
        Step(settings=f"set_env =\n    PIP_UPGRADE=1\n    {_changed_find_links(folders)}"),
    ]


def uv_install_command_upgrades(folders: Folders) -> list[Step]:
    """``install_command = uv pip install {packages}`` with ``[tool.uv.pip] upgrade = true``: uv upgrades."""
    pyproject = {"pyproject.toml": "[tool.uv.pip]\nupgrade = true\n"}
    common = (
        f"install_command = {UV} pip install {{packages}}\nallowlist_externals = {UV}\n"
        "pass_env = UV_NO_INDEX, UV_OFFLINE, UV_CACHE_DIR"
    )
    return [
        Step(settings=f"{common}\nset_env = UV_FIND_LINKS={folders.old}", files=pyproject),
        Step(
            settings=f"{common}\nset_env =\n    UV_FIND_LINKS={folders.wheelhouse}\n    {_changed_find_links(folders)}",
            files=pyproject,
        ),
    ]


def custom_pip_with_constraints(folders: Folders) -> list[Step]:
    """``install_command = python -m pip install -c c.txt {opts} {packages}`` whose constraints file changed."""
    command = "install_command = python -m pip install -c {toxinidir}{/}c.txt {opts} {packages}"
    return [
        Step(settings=command, files={"c.txt": "beta==2.0\n"}),
        Step(settings=f"{command}\nset_env = {_changed_find_links(folders)}", files={"c.txt": "beta==1.0\n"}),
    ]


def default_pip_spelled_out(folders: Folders) -> list[Step]:
    """``python -m pip install {opts} {packages}`` (not isolated), a reinstall of satisfied deps."""
    command = "install_command = python -m pip install {opts} {packages}"
    return [Step(settings=command), Step(settings=f"{command}\nset_env = {_changed_find_links(folders)}")]


def pass_env_filters_a_constraint(folders: Folders) -> list[Step]:
    """tox's process has ``PIP_CONSTRAINT`` (beta==1.0), but ``disallow_pass_env`` keeps it from pip."""
    filtered = Step(
        settings=f"disallow_pass_env = PIP_CONSTRAINT\nset_env = {_changed_find_links(folders)}",
        files={"c.txt": "beta==1.0\n"},
    )
    return [Step(), filtered]


def requirement_and_constraint_files(folders: Folders) -> list[Step]:
    """``deps = -r req.txt -c c.txt``, then the constraint tightened by a variable that only tox sets."""
    files = {"req.txt": "beta\n", "c.txt": "beta==${BETA_PIN}\n"}
    return [
        Step(deps=("-r req.txt", "-c c.txt"), files=files, settings="set_env = BETA_PIN=2.0"),
        Step(
            deps=("-r req.txt", "-c c.txt"),
            files=files,
            settings=f"set_env =\n    BETA_PIN=2.0\n    {_changed_find_links(folders)}",
            environ={"BETA_PIN": "1.0"},  # what venvlock would read, were it to judge with its own environment
        ),
    ]


def requirement_file_variable(folders: Folders) -> list[Step]:
    """A requirement file naming ``${BETA_SPEC}``, which tox's ``set_env`` and the tox process spell otherwise."""
    files = {"req.txt": "beta${BETA_SPEC}\n"}
    first = f"set_env =\n    BETA_SPEC===1.0\n    PIP_FIND_LINKS={folders.old}"
    return [
        Step(deps=("-r req.txt",), files=files, settings=first),
        Step(
            deps=("-r req.txt",),
            files=files,
            settings=f"set_env =\n    BETA_SPEC===2.0\n    {_changed_find_links(folders)}",
            environ={"BETA_SPEC": ">=1.0"},
        ),
    ]


DEFAULT_CASES: list[Case] = [uv_install_command_upgrades]
SLOW_CASES: list[Case] = [
    pip_constraint_in_set_env,
    pip_upgrade_in_set_env,
    custom_pip_with_constraints,
    default_pip_spelled_out,
    pass_env_filters_a_constraint,
    requirement_and_constraint_files,
    requirement_file_variable,
]


# --------------------------------------------------------------------------------------------------
# the harness
# --------------------------------------------------------------------------------------------------
def installed_set(project: Path) -> set[str]:
    """``name-version`` of every distribution installed in the project's ``.tox/py``."""
    try:
        site = site_packages(project / ".tox" / "py")
    except ValueError:
        return set()
    return {entry.name.removesuffix(".dist-info").lower() for entry in site.glob("*.dist-info")}


def run_steps(project: Path, environ: dict[str, str], steps: list[Step]) -> list[tuple[int, set[str], str]]:
    """Each step's tox run: its exit status, the installed set after it, and its output (for messages)."""
    results = []
    for step in steps:
        project.mkdir(parents=True, exist_ok=True)
        for name, text in step.files.items():
            (project / name).write_text(text)
        deps = "\n".join(f"    {dep}" for dep in step.deps)
        (project / "tox.ini").write_text(TOX_INI.format(deps=deps, settings=step.settings))
        result = run_tox(project, {**environ, **step.environ}, "-e", "py")
        results.append((result.returncode, installed_set(project), result.stdout + result.stderr))
    return results


def compare(case: Case, tmp_path: Path, wheelhouse: Path) -> list[set[str]]:
    """Run *case* with venvlock and with stock tox side by side; fail where they differ; stock's installed sets."""
    old = tmp_path / "old-wheels"
    old.mkdir()
    for wheel in wheelhouse.glob("beta-1.0-*.whl"):
        shutil.copy(wheel, old)
    steps = case(Folders(wheelhouse, old))
    environ = {**tox_env(wheelhouse, tmp_path), "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
    ran: dict[str, list[tuple[int, set[str], str]]] = {}

    def run(label: str, extra: dict[str, str]) -> None:
        ran[label] = run_steps(tmp_path / label, {**environ, **extra}, steps)

    stock = threading.Thread(target=run, args=("stock", {"VENVLOCK_TOX": "0"}))
    stock.start()
    run("venvlock", {})
    stock.join()
    for number, ((code, found, output), (stock_code, stock_found, stock_output)) in enumerate(
        zip(ran["venvlock"], ran["stock"], strict=True), start=1
    ):
        where = f"{case.__name__}, run {number}"
        assert stock_code == 0, f"{where}: the stock control failed:\n{stock_output}"
        assert code == stock_code, f"{where}: exit {code}, stock tox {stock_code}:\n{output}"
        assert found == stock_found, (
            f"{where}: venvlock left {sorted(found - stock_found)} where stock tox has {sorted(stock_found - found)}"
            f"\n{output}"
        )
    return [found for _, found, _ in ran["stock"]]


@pytest.mark.parametrize("case", DEFAULT_CASES, ids=lambda case: case.__name__)
def test_tox_installs_match_stock(case: Case, tmp_path: Path, wheelhouse: Path) -> None:
    stock = compare(case, tmp_path, wheelhouse)
    betas = [{name for name in found if name.startswith("beta-")} for found in stock]
    assert betas[0] != betas[-1], f"the control: stock tox's last run changed nothing here: {betas}"


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW_CASES, ids=lambda case: case.__name__)
def test_tox_installs_match_stock_corpus(case: Case, tmp_path: Path, wheelhouse: Path) -> None:
    compare(case, tmp_path, wheelhouse)
