"""The hatch adapter reads the user's settings for hatch's ``virtual`` type: where environments go, their options."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")


@pytest.mark.parametrize(
    ("config", "variables"),
    [
        ('[dirs.env]\nvirtual = "{base}/envs"\n', {}),  # hatch's config: where virtual environments go
        ('[dirs.env]\nvirtual = ".hatch"\n', {}),  # relative to the project
        ("", {"HATCH_ENV_TYPE_VIRTUAL_PATH": ".venv"}),  # the `path` option through the environment
        ("", {"HATCH_ENV_TYPE_VIRTUAL_PATH": "{base}/elsewhere"}),
    ],
    ids=["dirs-env-absolute", "dirs-env-relative", "path-variable-relative", "path-variable-absolute"],
)
def test_settings_for_virtual_environments_place_venvlock_ones_alike(
    hatch_project, config: str, variables: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    """Before: type venvlock ignored `dirs.env.virtual` and `HATCH_ENV_TYPE_VIRTUAL_*`, and built elsewhere."""
    base = str(hatch_project.base)
    Path(hatch_project.env["HATCH_CONFIG"]).write_text(config.format(base=base))
    extra = {name: value.format(base=base) for name, value in variables.items()}
    found = {}
    for type_ in ("virtual", "venvlock"):
        hatch_project.configure(type_=type_, project_dependencies=(), env_dependencies=("beta>=1",), hook=False)
        shown = hatch_project.hatch("env", "find", **extra)
        assert shown.returncode == 0, shown.stderr
        found[type_] = shown.stdout.strip()
    assert found["venvlock"] == found["virtual"], found


def test_venvlock_settings_come_before_those_for_virtual(hatch_project) -> None:  # type: ignore[no-untyped-def]
    base = hatch_project.base
    Path(hatch_project.env["HATCH_CONFIG"]).write_text(f'[dirs.env]\nvirtual = "{base}/v"\nvenvlock = "{base}/l"\n')
    shown = hatch_project.hatch("env", "find")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().startswith(f"{base}/l/"), shown.stdout
    variables = {"HATCH_ENV_TYPE_VIRTUAL_PATH": str(base / "a"), "HATCH_ENV_TYPE_VENVLOCK_PATH": str(base / "b")}
    shown = hatch_project.hatch("env", "find", **variables)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == str(base / "b"), shown.stdout
