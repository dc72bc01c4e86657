"""Review of the "already satisfied" judgement against real pip (see ``differential.py``): what pip refuses or
reads otherwise is never judged satisfied."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from differential import Case, PipOracle, build_corpus_wheelhouse, judge, make_synced_venv
from support import site_packages
from venvlock._pip.config import read_settings
from venvlock._pip.options import APPENDED, HARMLESS, INSTALL_TABLE, Option

pip_commands = pytest.importorskip("pip._internal.commands")


#: installed distributions whose folder names and metadata pip may read otherwise than their metadata says
HAND_MADE = {
    "metaver-1.0.dist-info": "Name: metaver\nVersion: 2.0\n",  # pip 26.3: version 1.0, from the folder's name
    "metaname-1.0.dist-info": "Name: other\nVersion: 1.0\n",  # older pips: project "other"
    "noname-1.0.dist-info": "Version: 1.0\n",
    "dashed-name-1.0.dist-info": "Name: dashed-name\nVersion: 1.0\n",  # pip 26.3: project "dashed"
    "lowreq-1.0.dist-info": "name: lowreq\nversion: 1.0\nrequires-dist: unused\n",  # headers are case-blind
    "lowok-1.0.dist-info": "NAME: lowok\nVERSION: 1.0\nREQUIRES-DIST: beta\n",
}


def _hand_made(venv: Path, folder_name: str, metadata: str) -> None:
    info = site_packages(venv) / folder_name
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\n{metadata}")
    (info / "RECORD").write_text(f"{folder_name}/METADATA,,\n{folder_name}/RECORD,,\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, PipOracle]]:
    folder = tmp_path_factory.mktemp("judge")
    wheelhouse = build_corpus_wheelhouse(folder / "wheels")
    venv = make_synced_venv(folder, wheelhouse)
    for name in ("odd.tbz", "odd.tar.gz"):  # installed projects whose names pip reads as archive files
        _hand_made(venv, f"{name}-1.0.dist-info", f"Name: {name}\nVersion: 1.0\n")
    for folder_name, metadata in HAND_MADE.items():
        _hand_made(venv, folder_name, metadata)
    for name, requires in (("eggdep", "unused"), ("eggok", "beta")):  # pip: PKG-INFO's Requires-Dist, if any
        egg = site_packages(venv) / f"{name}-1.0-py3.egg-info"
        egg.mkdir()
        (egg / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nRequires-Dist: {requires}\n")
    oracle = PipOracle(venv)
    yield wheelhouse, venv, oracle
    oracle.close()


def _problems(world: tuple[Path, Path, PipOracle], tmp_path: Path, cases: list[Case]) -> list[str]:
    wheelhouse, venv, oracle = world
    problems = [judge(case, venv, tmp_path / str(i), wheelhouse, oracle) for i, case in enumerate(cases)]
    return [problem for problem in problems if problem]


#: option values pip stops on (exit status 1, 2 or 3): on the command line, in a requirements file, in a setting
REFUSED_VALUES = [
    Case(["--progress-bar=bogus", "beta"], expect=None),
    Case(["--exists-action=z", "beta"], expect=None),
    Case(["--retries=x", "beta"], expect=None),
    Case(["--timeout", "x", "beta"], expect=None),
    Case(["--root-user-action=x", "beta"], expect=None),
    Case(["--keyring-provider=x", "beta"], expect=None),
    Case(["-C", "novalue", "beta"], expect=None),
    Case(["--no-binary=-x", "beta"], expect=None),
    Case(["--only-binary", "-x", "beta"], expect=None),
    Case(["beta"], env={"PIP_TIMEOUT": "abc"}, expect=None),
    Case(["beta"], env={"PIP_PRE": "maybe"}, expect=None),
    Case(["beta"], env={"PIP_VERBOSE": "x"}, expect=None),
    Case(["beta"], env={"PIP_QUIET": "-1"}, expect=None),
    Case(["beta"], env={"PIP_PROGRESS_BAR": "bogus"}, expect=None),
    Case(["beta"], env={"PIP_EXISTS_ACTION": "s z"}, expect=None),
    Case(["beta"], env={"PIP_CONFIG_SETTINGS": "novalue"}, expect=None),
    Case(["beta"], site_conf="[install]\nprogress-bar = bogus\n", expect=None),
    Case(["beta"], site_conf="[global]\nretries = many\n", expect=None),
    Case(["beta"], site_conf="[global]\nno-cache-dir = perhaps\n", expect=None),  # replaced by PIP_NO_CACHE_DIR
    Case(["--isolated", "beta"], env={"PIP_TIMEOUT": "abc"}, expect=None),  # pip's main parser is never isolated
    Case(["-r", "r.txt"], files={"r.txt": "-C novalue\nbeta\n"}, expect=None),
    Case(["-r", "r.txt"], files={"r.txt": "--only-binary -x\nbeta\n"}, expect=None),
    Case(["--build-constraint", "missing.txt", "beta"], expect=None),
    Case(["--build-constraint", "bc.txt", "--no-build-isolation", "beta"], files={"bc.txt": ""}, expect=None),
]
#: ... and values it accepts: still judged
ACCEPTED_VALUES = [
    Case(["--progress-bar=off", "--exists-action=i", "--retries=0x3", "--timeout=1e3", "beta"], expect=True),
    Case(["-C", "a=", "--no-binary=:none:", "--only-binary", ":all:", "beta"], expect=True),
    Case(["beta"], env={"PIP_PRE": "Yes", "PIP_VERBOSE": "2", "PIP_QUIET": "false", "PIP_EXISTS_ACTION": "s i"}),
    Case(["-r", "r.txt"], files={"r.txt": "-C k=v\n--only-binary :all:\nbeta\n"}, expect=True),
]


def test_a_value_pip_refuses_is_never_judged(world: tuple[Path, Path, PipOracle], tmp_path: Path) -> None:
    assert _problems(world, tmp_path, REFUSED_VALUES + ACCEPTED_VALUES) == []


def _pip_accepts(arguments: list[str]) -> bool:
    parser = pip_commands.create_command("install").parser
    try:
        parser.parse_args(arguments)
    except (SystemExit, Exception):
        return False
    return True


SAMPLE_VALUES = ["x", "-x", "0", "1", "-1", "0x1f", "08", "1.5", "k=v", "on", "s", ":all:", "warn", "auto", "a b"]


JUDGED_OPTIONS = sorted({o for o in INSTALL_TABLE.longs.values() if o.kind == HARMLESS}, key=repr)


@pytest.mark.parametrize("option", JUDGED_OPTIONS, ids=repr)
def test_values_are_accepted_as_pips_parser_accepts_them(
    option: Option, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every option venvlock judges: the values it accepts are pip's, on the command line and in a setting."""
    for name in [name for name in os.environ if name.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    setting = "PIP_" + option.name[2:].upper().replace("-", "_")
    for value in SAMPLE_VALUES:
        if option.takes_value:
            assert option.accepts(value) is _pip_accepts([f"{option.name}={value}", "x"]), value
        monkeypatch.setenv(setting, value)
        ours = not read_settings(["x"], os.devnull, ".").cannot_judge
        assert ours is _pip_accepts(["x"]), (setting, value)
        monkeypatch.delenv(setting)
    capsys.readouterr()


def test_the_appended_options_are_pips() -> None:
    parser = pip_commands.create_command("install").parser
    options = [o for group in parser.option_groups for o in group.option_list]
    assert {o.get_opt_string() for o in options if o.action == "append"} == APPENDED


#: requirements pip reads as archive files (pip: "looks like a filename, but the file does not exist")
ARCHIVE_NAMES = [
    Case(["odd.tbz"], expect=None),
    Case(["odd.tar.gz[x]"], expect=None),
    Case(['odd.TBZ ; python_version >= "3"'], expect=None),
    Case(["-r", "r.txt"], files={"r.txt": "odd.tbz\n"}, expect=None),
    Case(["odd.tbz>=1"], expect=True),  # a name and a specifier to pip too
]


def test_a_requirement_pip_reads_as_an_archive_is_never_judged(
    world: tuple[Path, Path, PipOracle], tmp_path: Path
) -> None:
    assert _problems(world, tmp_path, ARCHIVE_NAMES) == []


def test_a_requirements_file_is_opened_by_the_name_given(world: tuple[Path, Path, PipOracle], tmp_path: Path) -> None:
    """``-r sub/link/../req.txt`` is the req.txt beside the link's target, for pip (the system's reading of the
    name), not sub/req.txt (a lexical reading); nested files are pip's ``abspath`` of their name."""
    (tmp_path / "target" / "inner").mkdir(parents=True)
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path / "target" / "inner", tmp_path / "sub" / "link")
    (tmp_path / "target" / "req.txt").write_text("unused\n")  # what pip reads: not installed
    (tmp_path / "sub" / "req.txt").write_text("beta\n")
    (tmp_path / "sub" / "nested.txt").write_text("beta\n")
    (tmp_path / "target" / "nested.txt").write_text("unused\n")
    cases = [
        Case(["-r", str(tmp_path / "sub" / "link" / ".." / "req.txt")], expect=False),
        Case(["-r", "r.txt"], files={"r.txt": f"-r {tmp_path}/sub/link/../nested.txt\n"}, expect=True),
    ]
    assert _problems(world, tmp_path / "cases", cases) == []


FOLDERS_AND_METADATA = [
    Case(["metaver>=2"], expect=None),
    Case(["metaver"], expect=None),
    Case(["metaname"], expect=None),
    Case(["other"], expect=False),
    Case(["noname"], expect=None),
    Case(["dashed-name"], expect=None),
    Case(["lowreq"], expect=False),
    Case(["lowok"], expect=True),
    Case(["eggdep"], expect=False),
    Case(["eggok"], expect=True),
]


def test_an_installed_distribution_pip_may_read_otherwise_is_never_judged(
    world: tuple[Path, Path, PipOracle], tmp_path: Path
) -> None:
    """A dist-info whose folder name and metadata disagree (name, version), or metadata without a Name: what pip
    makes of it depends on pip's version; header names in any case are read as pip reads them."""
    assert _problems(world, tmp_path, FOLDERS_AND_METADATA) == []


def _another_python(minimum: tuple[int, int] = (3, 8)) -> str:
    """An interpreter of another version than the one running the tests (*minimum* or newer), that runs."""
    import glob
    import shutil
    import subprocess
    import sys

    names = [shutil.which(f"python3.{minor}") for minor in range(8, 16) if minor != sys.version_info[1]]
    candidates = [*(n for n in names if n), *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")))]
    for candidate in candidates:
        code = "import sys, venv; sys.exit(sys.version_info[:2] == %r or sys.version_info[:2] < %r)"
        if subprocess.run([candidate, "-c", code % (tuple(sys.version_info[:2]), minimum)]).returncode == 0:
            return candidate
    pytest.skip("no interpreter of another version")


@pytest.mark.parametrize("how", ["--symlinks", "--copies"])
def test_markers_are_the_environments_own_when_its_folder_holds_another_interpreter(how: str, tmp_path: Path) -> None:
    """A venv of another interpreter whose ``pyvenv.cfg`` names the folder and version of ours (CPython and PyPy
    of one version in ``/usr/bin``): its markers are asked of it (a link: where it leads; a copy: the
    ``executable`` it was made from), not taken from ours."""
    import subprocess
    import sys

    from venvlock.core import Environment, Outcome, SyncRequest, hooks

    other = _another_python((3, 11) if how == "--copies" else (3, 8))  # 3.11 writes ``executable``
    venv = tmp_path / "venv"
    subprocess.run([other, "-m", "venv", "--without-pip", how, str(venv)], check=True)
    config = venv / "pyvenv.cfg"
    lines = [line for line in config.read_text().splitlines() if not line.startswith(("home", "version"))]
    ours = os.path.dirname(os.path.realpath(sys._base_executable))  # type: ignore[attr-defined]
    running = ".".join(str(part) for part in sys.version_info[:3])
    config.write_text("\n".join([*lines, f"home = {ours}", f"version = {running}"]) + "\n")
    request = SyncRequest([f'unused; python_version != "{sys.version_info[0]}.{sys.version_info[1]}"'])
    answer = hooks().venvlock_check(environment=Environment.for_venv(str(venv)), request=request)
    assert answer.outcome is not Outcome.SATISFIED, answer.reason


def test_pip_locked_is_as_quiet_as_pip_by_pips_settings(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    """pip's quietness is its -q less its -v, counted on from PIP_QUIET/PIP_VERBOSE and configuration files: where
    pip prints nothing for a satisfied request, pip-locked prints no "Checked" line either, and the other way."""
    import subprocess

    from support import pip_locked, venv_python

    subprocess.run([str(venv_python(venv)), "-m", "pip", "install", "-q", "beta"], env=env, check=True)
    quiet_conf = tmp_path / "quiet.conf"
    quiet_conf.write_text("[install]\nquiet = 1\n")
    runs: list[tuple[dict[str, str], list[str]]] = [
        ({"PIP_QUIET": "1"}, []),
        ({"PIP_QUIET": "yes"}, []),
        ({"PIP_QUIET": "2", "PIP_VERBOSE": "1"}, []),
        ({"PIP_CONFIG_FILE": str(quiet_conf)}, []),
        ({"PIP_QUIET": "1", "PIP_VERBOSE": "1"}, []),
        ({}, ["-q", "-v"]),
        ({"PIP_QUIET": "0"}, []),
    ]
    for extra, options in runs:
        pip = subprocess.run(
            [str(venv_python(venv)), "-m", "pip", "install", *options, "beta"],
            env={**env, **extra}, capture_output=True, text=True, check=True,
        )  # fmt: skip
        for _ in range(2):  # the full route, then the fast path's entry
            locked = subprocess.run(
                [pip_locked(), "install", *options, "beta"],
                env={**env, **extra}, capture_output=True, text=True, check=True,
            )  # fmt: skip
            assert ("already satisfied" in pip.stdout) is ("Checked" in locked.stderr), (extra, options, locked.stderr)


def _older_pip_wheel() -> Path:
    """A wheel of a pip older than the one venvlock's table is (ensurepip's bundled ones), that runs here."""
    import ensurepip
    import glob

    folders = [os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")]
    folders += glob.glob(os.path.expanduser("~/.pyenv/versions/*/lib/python3*/ensurepip/_bundled"))
    wheels = sorted({w for f in folders for w in glob.glob(os.path.join(f, "pip-2[2-5].*.whl"))}, reverse=True)
    if not wheels:
        pytest.skip("no older pip wheel here")
    return Path(wheels[0])


@pytest.mark.slow
def test_options_an_older_pip_reads_otherwise_run_that_pip(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    """A venv with an older pip: options it lacks (or reads with other values), abbreviations, go to that pip,
    which says what it makes of them; what every pip reads alike is still judged."""
    import subprocess

    from support import pip_locked, venv_python

    python = str(venv_python(venv))
    subprocess.run([python, "-m", "pip", "install", "-q", str(_older_pip_wheel()), "beta"], env=env, check=True)
    (tmp_path / "r.txt").write_text("-C k=v\nbeta\n")
    cases = [
        ["--resume-retries", "3", "beta"],
        ["--root-user-action=ignore", "beta"],
        ["--keyring-provider=auto", "beta"],
        ["--progress-bar=raw", "beta"],
        ["-r", str(tmp_path / "r.txt")],
        ["--no-ind", "beta"],
        ["--progress-bar=off", "--no-index", "beta"],
    ]
    for args in cases:
        pip = subprocess.run([python, "-m", "pip", "install", *args], env=env, capture_output=True, text=True)
        locked = subprocess.run([pip_locked(), "install", *args], env=env, capture_output=True, text=True)
        assert locked.returncode == pip.returncode, (args, pip.stderr, locked.stderr)
        assert ("Checked" in locked.stderr) is (args[0] == "--progress-bar=off"), (args, locked.stderr)


ENCODINGS = [
    Case(["-r", "r.txt"], files={"r.txt": "# -*- coding: cp500 -*-\nbeta\n"}, expect=None),  # pip reads EBCDIC
    Case(["-r", "r.txt"], files={"r.txt": "beta\n# vim: set fileencoding=utf-16 :\n"}, expect=None),
    Case(["-r", "r.txt"], files={"r.txt": "# coding: nonesuch\nbeta\n"}, expect=None),
    Case(["-r", "r.txt"], files={"r.txt": "# -*- coding: utf-8 -*-\nbeta\n"}, expect=True),
    Case(["-r", "r.txt"], files={"r.txt": "beta\n\n# coding: cp500 (third line: not a declaration)\n"}, expect=True),
]


def test_a_requirements_file_pip_decodes_otherwise_is_never_judged(
    world: tuple[Path, Path, PipOracle], tmp_path: Path
) -> None:
    """pip decodes a requirements file in the encoding a PEP 263 comment of its first two lines declares."""
    assert _problems(world, tmp_path, ENCODINGS) == []
