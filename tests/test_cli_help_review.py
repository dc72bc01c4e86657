"""``venvlock --help`` against the manual (docs/cli.md): a user who reads one finds the other's exit statuses."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from support import scripts_dir

CLI_PAGE = Path(__file__).parent.parent / "docs" / "cli.md"


def test_help_names_every_exit_status_of_the_manual() -> None:
    """Each status of docs/cli.md's "Exit status" table is in ``venvlock --help`` (before, 3 was missing)."""
    section = CLI_PAGE.read_text().split("## Exit status", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE))
    assert {"0", "1", "2", "3", "75"} <= documented, documented
    result = subprocess.run([str(scripts_dir() / "venvlock"), "--help"], capture_output=True, text=True, check=True)
    epilog = " ".join(result.stdout.split("exit status:", 1)[1].split())
    shown = set(re.findall(r"(?:^|; )(\d+) ", epilog))
    assert documented <= shown, (documented - shown, epilog)


def test_the_package_metadata_names_every_tool_with_an_adapter() -> None:
    """The description and keywords (``pip show``, ``poetry self show plugins``, the index page) name pip and every
    tool whose adapter ``venvlock.plugins`` holds (before: neither tox nor poetry)."""
    import tomllib

    root = Path(__file__).parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    tools = {"pip"} | {
        path.name for path in (root / "src" / "venvlock" / "plugins").iterdir() if (path / "__init__.py").is_file()
    }
    assert {"hatch", "nox", "tox", "poetry"} <= tools, tools
    missing = {tool for tool in tools if tool not in project["description"] or tool not in project["keywords"]}
    assert not missing, (missing, project["description"], project["keywords"])
