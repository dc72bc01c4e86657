"""venvlock's reading of pip arguments against pip's own code (the pip installed beside the tests).

In-process and read-only: pip's option parsers and requirement-file
preprocessing are imported, never run against an environment.
"""

from __future__ import annotations

import optparse
import os
import random
from pathlib import Path

import pytest

from venvlock._pip import options as _pip_options
from venvlock._pip.options import AMBIGUOUS, GENERAL_TABLE, INSTALL_TABLE, UNKNOWN, Option, read_options
from venvlock._pip.requirements import break_args_options, logical_lines

req_file = pytest.importorskip("pip._internal.req.req_file")


def _pip_install_parser() -> optparse.OptionParser:
    from pip._internal.commands import create_command

    parser: optparse.OptionParser = create_command("install").parser
    return parser


def _names(options: list[optparse.Option]) -> dict[str, bool]:
    return {name: option.takes_value() for option in options for name in option._short_opts + option._long_opts}


def test_the_install_table_is_pips() -> None:
    parser = _pip_install_parser()
    pips = _names([o for group in parser.option_groups for o in group.option_list])
    ours = {name: o.takes_value for name, o in {**INSTALL_TABLE.longs, **INSTALL_TABLE.shorts}.items()}
    assert ours == pips


def test_the_general_table_is_pips() -> None:
    from pip._internal.cli.main_parser import create_main_parser

    parser = create_main_parser()
    pips = _names(parser.option_list + [o for group in parser.option_groups for o in group.option_list])
    ours = {name: o.takes_value for name, o in {**GENERAL_TABLE.longs, **GENERAL_TABLE.shorts}.items()}
    assert ours == pips


def test_the_requirements_file_table_is_pips() -> None:
    parser = req_file.build_parser()
    table = _pip_options.FILE_TABLE
    ours = {name: o.takes_value for name, o in {**table.longs, **table.shorts}.items()}
    assert ours == _names(parser.option_list)


@pytest.mark.parametrize(
    "word", ["--upgr", "--force-re", "--retr", "--cache-d", "--no-dep", "--pre", "--pr", "--req", "--target", "--t",
             "--python", "--py", "--lo", "--log", "--no-i", "--zzz", "--ignore-i", "--us", "--user"],
)  # fmt: skip
def test_abbreviations_are_read_as_optparse_reads_them(word: str) -> None:
    parser = _pip_install_parser()
    ours = INSTALL_TABLE.long(word)
    try:
        pips: str = parser._match_long_opt(word)  # type: ignore[attr-defined]
    except optparse.AmbiguousOptionError:
        assert ours == AMBIGUOUS
    except optparse.BadOptionError:
        assert ours == UNKNOWN
    else:
        assert isinstance(ours, Option) and pips in ours.names


def test_options_values_and_bundles() -> None:
    read = list(read_options(["-qUr", "req.txt", "--cache-d=/c", "--retr", "2", "six", "--", "-x"]))
    names = [(o.name if isinstance(o, Option) else o, v) for o, v in read]
    assert names == [
        ("--quiet", None), ("--upgrade", None), ("--requirement", "req.txt"), ("--cache-dir", "/c"),
        ("--retries", "2"), ("", "six"), ("", "-x"),
    ]  # fmt: skip


def test_requirement_files_are_preprocessed_as_pip_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AB", "x${CD}")
    monkeypatch.setenv("CD", "y")
    monkeypatch.setenv("EMPTY", "")
    pieces = ["a", "b", " ", "\t", "#", "\\", "\n", "${AB}", "${CD}", "${EMPTY}", "${x}", "$", "{", "}", "-r", " #"]
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        assert list(logical_lines(text)) == [line for _, line in req_file.preprocess(text)], repr(text)
        for line in logical_lines(text):
            assert break_args_options(line) == req_file.break_args_options(line)


def test_the_variables_a_file_expands_are_noted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SET", "1")
    monkeypatch.delenv("UNSET", raising=False)
    seen: dict[str, str | None] = {}
    assert list(logical_lines("a${SET}\nb${UNSET} ${lower}\n", seen)) == ["a1", "b${UNSET} ${lower}"]
    assert seen == {"SET": "1", "UNSET": None}
    assert os.environ["SET"] == "1"


def test_install_elsewhere_is_seen_through_abbreviations() -> None:
    from venvlock._pip.options import goes_elsewhere

    assert goes_elsewhere(["--targ", "dir", "six"])
    assert goes_elsewhere(["--prefix=p", "six"])
    assert goes_elsewhere(["--us", "six"])  # ambiguous: pip stops, venvlock does not judge
    assert goes_elsewhere(["-p", "/usr/bin/python3", "six"], uv=True)
    assert not goes_elsewhere(["-r", "requirements.txt", "--no-user", "six"])


def test_only_the_scheme_is_judged_and_repaired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from venvlock.core import Environment, EnvironmentKind
    from venvlock.core._installed import repair

    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n")
    environment = Environment.for_venv(str(venv))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    assert environment.site_folders_to_judge() == [os.path.realpath(site)]
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert environment.site_folders_to_judge() is None  # pip would see PYTHONPATH's distributions: cannot judge
    monkeypatch.delenv("PYTHONPATH")
    assert Environment(sys.prefix, kind=EnvironmentKind.INTERPRETER).site_folders_to_judge() is None
    outside = tmp_path / "~drafts"
    outside.mkdir()
    inside = site / "~ix"
    inside.mkdir()
    repair([str(outside), str(inside)], [str(site)])
    assert outside.exists() and not inside.exists()


def test_isolation_follows_pips_exact_word(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pip reads its configuration isolated only for the exact word ``--isolated``, not an abbreviation."""
    from venvlock._pip.requirements import parse_request
    from venvlock.adapter.pip import PipArguments

    assert PipArguments(["--isolated", "install", "x"]).general == ["--isolated"]
    abbreviated = PipArguments(["--isol", "install", "x"]).general
    assert abbreviated != ["--isolated"] and INSTALL_TABLE.long(abbreviated[0]) is INSTALL_TABLE.longs["--isolated"]
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text("[install]\nupgrade = true\n")
    for name in [n for n in os.environ if n.startswith("PIP_") or n == "XDG_CONFIG_HOME"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    assert parse_request(["--isolated", "beta"], str(tmp_path)).cannot_judge == ""
    assert "upgrade" in parse_request([*abbreviated, "beta"], str(tmp_path)).cannot_judge
