"""venvlock's reading of pip's configuration against pip's own, asked in a subprocess.

The oracle is one long-lived process under the test interpreter that, per
case, loads pip's ``Configuration`` through pip's own parsers (the main
parser, which decides ``--python``, and ``pip install``'s) and answers with
what they apply, in their order, or pip's error.  pip is never imported into
pytest's interpreter.  The default suite runs the fixed corpus of odd files;
``-m stress`` (``nox -s differential``) a seeded random one.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from differential import environ
from support import make_venv, pip_install, pip_locked, run, site_packages, venv_python, versions

ORACLE = r"""
import json, os, sys
from pip._internal.cli.main_parser import create_main_parser
from pip._internal.commands import create_command
from pip._internal.exceptions import ConfigurationError
for line in sys.stdin:
    case = json.loads(line)
    os.environ.clear(); os.environ.update(case["env"])
    answer = {}
    try:
        install = create_command("install").parser
        install.config.load()
        answer["install"] = [list(item) for item in install._get_ordered_configuration_items()]
        main = create_main_parser()
        main.config.load()
        python = None
        for key, value in main._get_ordered_configuration_items():
            if key == "python":
                python = value
        answer["python"] = python
    except ConfigurationError as error:
        answer = {"error": str(error)}
    print(json.dumps(answer), flush=True)
"""


@dataclass
class ConfigCase:
    """pip's configuration files (bytes, as written on disk) and ``PIP_*`` variables."""

    site: bytes | None = None  # <sys.prefix>/pip.conf: here the global file of XDG_CONFIG_DIRS stands for it
    user: bytes | None = None  # $XDG_CONFIG_HOME/pip/pip.conf
    env_file: bytes | None = None  # PIP_CONFIG_FILE
    variables: dict[str, str] = field(default_factory=dict)


CORPUS = [
    # the issue's: indented keys are keys of their own, not continuations
    ConfigCase(user=b"[install]\n    no-compile = true\n    force-reinstall = true\n"),
    ConfigCase(user=b"[global]\n    python = /nonexistent/python\n"),
    ConfigCase(user=b"[global] ; a comment\ntimeout = 5\n[install]   # another\nupgrade = 1\n"),
    ConfigCase(user=b"[global]\ntimeout = 5\n[global]\nretries = 2\n"),  # duplicate section: pip stops
    ConfigCase(user=b"[install]\nno_deps = 1\nNo-Deps = 0\n"),  # duplicate key after pip's normalisation
    ConfigCase(user=b"[global]\nindex-url = https://x/%2Fsimple%(y)s%\n"),  # no interpolation
    ConfigCase(user=b"\xef\xbb\xbf[global]\ntimeout = 5\n"),  # a byte-order mark is not skipped: pip stops
    ConfigCase(user=b"[global]\r\ntimeout = 5\r\nextra-index-url =\r\n  https://a\r\n  https://b\r\n"),
    ConfigCase(user=b"[install]\nupgrade =\nno-deps=\ntimeout = 5\n"),
    ConfigCase(user=b"[install]\nFORCE_REINSTALL = yes\n--No_Deps: 1\n----Upgrade = 1\n"),
    ConfigCase(user=b"# c\n; c\n[global]\ntimeout = 5 ; not a comment\n  # indented comment\nretries=1\n"),
    ConfigCase(user=b"[global]\nfind-links =\n  a\n\n  b\nretries = 3\n"),
    ConfigCase(user=b"[DEFAULT]\nupgrade = 1\n[install]\n[global]\n"),
    ConfigCase(user=b"timeout = 5\n"),  # no section header: pip stops
    ConfigCase(user=b"[global]\nupgrade\n"),  # a key without a value: pip stops
    ConfigCase(user=b"[global]\ntimeout = \xff\n"),  # not UTF-8: pip stops
    ConfigCase(user=b"[Global]\ntimeout=5\n[ install ]\nupgrade=1\n[global.x]\ny = 1\n"),
    ConfigCase(user=b"[install]\n\tupgrade = 1\n\t\tcontinued\n  no-deps = 1\n"),
    ConfigCase(user=b"[global]\nindex-url: https://u:p@h/?a=b\nproxy = = x\n"),
    ConfigCase(user=b""),
    ConfigCase(user=b"[global]\n"),
    # precedence: files in pip's order, [global] < [install] < variables, an empty later value unsets
    ConfigCase(site=b"[install]\nupgrade = true\n", user=b"[install]\nupgrade =\n"),
    ConfigCase(site=b"[global]\nupgrade = 0\n[install]\nupgrade = 1\n", user=b"[global]\nupgrade = 2\n"),
    ConfigCase(user=b"[install]\nupgrade = true\n", variables={"PIP_UPGRADE": ""}),
    ConfigCase(user=b"[global]\nno-deps = 1\n", variables={"PIP_no_deps": "0", "PIP_VERSION": "1", "PIP_HELP": "1"}),
    ConfigCase(site=b"[global]\npython = /a\n", user=b"[global]\npython =\n"),
    ConfigCase(site=b"[global]\npython = /a\n", variables={"PIP_PYTHON": ""}),
    ConfigCase(user=b"[global]\npython = /a\n", variables={"PIP_PYTHON": "/b"}),
    ConfigCase(user=b"[install]\npython = /a\n"),
    ConfigCase(user=b"[global]\ntimeout = 1\n", env_file=b"[global]\ntimeout = 2\n"),  # the user file is skipped
    ConfigCase(site=b"[global]\ntimeout = 1\n", env_file=b"[global]\nretries = 2\n[install]\nupgrade = 1\n"),
]


class ConfigOracle:
    """pip's own reading of its configuration, from one process under the test interpreter."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ORACLE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def ask(self, env: dict[str, str]) -> dict[str, object]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"env": env}) + "\n")
        self.process.stdin.flush()
        answer: dict[str, object] = json.loads(self.process.stdout.readline())
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def oracle() -> Iterator[ConfigOracle]:
    assert not os.path.exists(os.path.join(sys.prefix, "pip.conf")), "the test interpreter has a pip.conf"
    oracle = ConfigOracle()
    yield oracle
    oracle.close()


def case_environment(case: ConfigCase, folder: Path) -> dict[str, str]:
    """Write the case's files under *folder*; the variables pip (and venvlock) then read."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(HOME=str(folder / "home"), XDG_CONFIG_HOME=str(folder / "xdg-home"))
    env["XDG_CONFIG_DIRS"] = str(folder / "xdg-dirs")
    for text, path in (
        (case.site, folder / "xdg-dirs" / "pip" / "pip.conf"),
        (case.user, folder / "xdg-home" / "pip" / "pip.conf"),
        (case.env_file, folder / "env.conf"),
    ):
        if text is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text)
    if case.env_file is not None:
        env["PIP_CONFIG_FILE"] = str(folder / "env.conf")
    env.update(case.variables)
    return env


def venvlocks_reading(env: dict[str, str]) -> dict[str, object]:
    """venvlock's answer, in the oracle's terms."""
    from venvlock._pip.config import ConfigFileError, PipConfiguration, python_setting

    with environ(env):
        configuration = PipConfiguration(sys.prefix, isolated=False)
        if configuration.error:
            return {"error": configuration.error}
        try:
            python = python_setting(sys.prefix)
        except ConfigFileError as error:  # pragma: no cover - the same files as above
            return {"error": str(error)}
        return {
            "install": [[key, value] for key, value, _where in configuration.items("install")],
            "python": None if python is None else python[0],
        }


def differences(case: ConfigCase, folder: Path, oracle: ConfigOracle) -> str:
    env = case_environment(case, folder)
    pips, ours = oracle.ask(env), venvlocks_reading(env)
    if ("error" in pips) != ("error" in ours) or ("error" not in pips and pips != ours):
        return f"{case}:\n  pip:      {pips}\n  venvlock: {ours}"
    return ""


def test_config_files_are_read_as_pip_reads_them(oracle: ConfigOracle, tmp_path: Path) -> None:
    problems = [differences(case, tmp_path / str(i), oracle) for i, case in enumerate(CORPUS)]
    assert [p for p in problems if p] == []


def test_the_oracle_can_disagree(oracle: ConfigOracle, tmp_path: Path) -> None:
    """The harness is able to fail: pip's answer depends on the file."""
    one = oracle.ask(case_environment(ConfigCase(user=b"[install]\nupgrade = 1\n"), tmp_path / "1"))
    two = oracle.ask(case_environment(ConfigCase(user=b"[install]\nupgrade = 0\n"), tmp_path / "2"))
    assert ["upgrade", "1"] in one["install"] and one != two  # type: ignore[operator]


_LINES = [
    "[global]", "[install]", "[DEFAULT]", "[global] ; c", "[Global]", "# comment", "; comment",
    "", " ", "timeout = 5", "retries=2", "upgrade = true", "no_deps = 1", "No-Deps: 0", "--pre = yes",
    "python = /x", "python =", "upgrade =", "index-url = https://u:p@h/%41", "x = %(y)s",
    "find-links = a b", "\tcontinued", "  indented = 1", "    more", "[install]  # c", "a : b = c",
]  # fmt: skip
_BAD_LINES = ["key", "= value", "\ufeff[global]", "[install", "[]", "upgrade = 1"]  # pip stops (the last: a duplicate)


def random_case(rng: random.Random) -> ConfigCase:
    def text() -> bytes | None:
        if rng.random() < 0.3:
            return None
        newline = rng.choice(["\n", "\r\n", "\n", "\r"])
        lines = rng.sample(_LINES, rng.randint(0, 8))
        if rng.random() < 0.1:
            lines.insert(rng.randint(0, len(lines)), rng.choice(_BAD_LINES))
        if rng.random() < 0.7:
            lines.insert(0, rng.choice(["[global]", "[install]"]))
        return newline.join(lines).encode() + (newline.encode() if rng.random() < 0.8 else b"")

    variables = {}
    for name in rng.sample(["PIP_UPGRADE", "PIP_PYTHON", "PIP_NO_DEPS", "PIP_no_deps", "PIP_TIMEOUT"], 2):
        if rng.random() < 0.3:
            variables[name] = rng.choice(["", "1", "/p", "0"])
    return ConfigCase(site=text(), user=text(), env_file=text() if rng.random() < 0.2 else None, variables=variables)


@pytest.mark.stress
@pytest.mark.parametrize("seed", range(4))
def test_random_config_files_are_read_as_pip_reads_them(oracle: ConfigOracle, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    problems = [differences(random_case(rng), tmp_path / str(i), oracle) for i in range(300)]
    assert [p for p in problems if p] == []


# --------------------------------------------------------------------------------------------------
# whole runs: pip-locked acts on what pip reads
# --------------------------------------------------------------------------------------------------
def test_indented_keys_of_a_pip_conf_are_honoured(env: dict[str, str], venv: Path) -> None:
    """``force-reinstall`` indented under ``[install]`` is a setting of its own: pip reinstalls, so pip runs."""
    python = str(venv_python(venv))
    subprocess.run([python, "-m", "pip", "install", "-q", "beta==1.0"], env=env, check=True)
    (venv / "pip.conf").write_text("[install]\n    no-compile = true\n    force-reinstall = true\n")
    env = {k: v for k, v in env.items() if k != "PIP_CONFIG_FILE"}  # pip reads its files, the venv's own among them
    result = subprocess.run([pip_locked(), "install", "beta"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Checked" not in result.stderr
    assert "Successfully installed beta-" in result.stdout, result.stderr  # reinstalled, as pip does


def test_an_indented_python_setting_picks_the_environment(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    make_venv(other)
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\n  timeout = 30\n  python = {venv_python(other)}\n")  # two keys, not one value
    env = {**env, "PIP_CONFIG_FILE": str(config)}
    result = subprocess.run([pip_locked(), "install", "delta"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert any(p.name.startswith("delta-") for p in site_packages(other).iterdir()), result.stderr
    assert (other / ".lock").exists() and not (venv / ".lock").exists()


def test_a_config_file_pip_cannot_load_is_left_to_pip(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    """A duplicate section stops pip: pip-locked does not claim "satisfied", pip says what is wrong."""
    python = str(venv_python(venv))
    subprocess.run([python, "-m", "pip", "install", "-q", "beta==1.0"], env=env, check=True)
    config = tmp_path / "pip.conf"
    config.write_text("[global]\ntimeout = 5\n[global]\nretries = 2\n")
    env = {**env, "PIP_CONFIG_FILE": str(config)}
    stock = subprocess.run([python, "-m", "pip", "install", "beta"], env=env, capture_output=True, text=True)
    locked = subprocess.run([pip_locked(), "install", "beta"], env=env, capture_output=True, text=True, timeout=300)
    assert locked.returncode == stock.returncode != 0, (locked.stderr, stock.stderr)
    assert "Checked" not in locked.stderr


@pytest.fixture
def configured(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """*env* reading pip's configuration files (a private home: no user files)."""
    home = tmp_path / "home"
    home.mkdir()
    configured = {k: v for k, v in env.items() if k not in ("PIP_CONFIG_FILE", "XDG_CONFIG_HOME")}
    return {**configured, "HOME": str(home)}


# the venv's own pip.conf, by default: test_indented_keys_of_a_pip_conf_are_honoured (a whole run), the differential
# case site_conf "upgrade = true" (the check); --python from outside the venv: test_environment's first test
@pytest.mark.slow
def test_the_venvs_own_pip_conf_is_read(configured: dict[str, str], venv: Path) -> None:
    pip_install(venv, configured, "beta==1.0")
    (venv / "pip.conf").write_text("[install]\nupgrade = true\n")
    outside = {k: v for k, v in configured.items() if k != "VIRTUAL_ENV"}  # pip reads it all the same
    result = run([pip_locked(), "--python", str(venv_python(venv)), "install", "beta"], outside)
    assert result.returncode == 0, result.stderr
    assert versions(venv)["beta"] == "2.0", result.stderr  # pip, reading the venv's pip.conf, upgrades


@pytest.mark.slow  # the default case of a python setting in a config file: test_an_indented_python_setting_picks_...
@pytest.mark.parametrize("where", ["PIP_PYTHON", "config"])
def test_pips_python_setting_is_the_environment_locked_and_judged(
    configured: dict[str, str], venv: Path, tmp_path: Path, where: str
) -> None:
    pip_install(venv, configured, "delta")
    other = tmp_path / "other"
    make_venv(other)
    if where == "PIP_PYTHON":
        setting = {"PIP_PYTHON": str(venv_python(other))}
    else:
        (tmp_path / "pip.conf").write_text(f"[global]\npython = {venv_python(other)}\n")
        setting = {"PIP_CONFIG_FILE": str(tmp_path / "pip.conf")}
    result = run([pip_locked(), "install", "delta"], {**configured, **setting})
    assert result.returncode == 0, result.stderr
    assert "delta" in versions(other), result.stderr  # judged against the env pip installs into
    assert (other / ".lock").exists()  # and locked there


@pytest.mark.slow  # a variant of the python setting (test_an_indented_python_setting_picks_the_environment)
def test_the_command_lines_python_wins_over_pip_python(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    pip_install(venv, env, "delta")
    other = tmp_path / "other"
    other.mkdir()  # PIP_PYTHON names no environment at all: pip, given --python, never looks at it
    outside = {k: v for k, v in env.items() if k != "VIRTUAL_ENV"}
    result = run([pip_locked(), "--python", str(venv), "install", "delta"], {**outside, "PIP_PYTHON": str(other)})
    assert result.returncode == 0 and result.stderr.startswith("Checked 1 package"), result.stderr
