"""``venvlock repair`` with real venvs and pip: nothing deleted outside the env's scheme, pip-less venvs, --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import (
    make_venv,
    pip_install,
    pip_locked,
    run,
    scripts_dir,
    site_packages,
    venv_python,
    versions,
    wait_for,
)


def venvlock(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(scripts_dir() / "venvlock"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def pip(venv: Path, env: dict[str, str], *args: str) -> None:
    done = subprocess.run([str(venv_python(venv)), "-m", "pip", *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def second_metadata_folder(site: Path, name: str, version: str, listed: list[str]) -> Path:
    """An interleaved older install's dist-info: its own METADATA and a RECORD listing *listed*."""
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir()
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (folder / "INSTALLER").write_text("pip\n")
    rows = [*listed, f"{folder.name}/METADATA", f"{folder.name}/RECORD", f"{folder.name}/INSTALLER"]
    (folder / "RECORD").write_text("".join(f"{row},,\n" for row in rows))
    return folder


def test_repair_never_deletes_through_a_package_folder_linked_outside(
    env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    """A package folder linked to a checkout outside the env, and a second metadata folder of its project."""
    pip(venv, env, "install", "beta==2.0")
    site = site_packages(venv)
    checkout = tmp_path / "work" / "beta"
    (site / "beta").rename(checkout.parent.mkdir() or checkout)
    (site / "beta").symlink_to(checkout, target_is_directory=True)
    (checkout / "sub").mkdir()
    (checkout / "sub" / "old.py").write_text("mine\n")
    second_metadata_folder(site, "beta", "1.0", ["beta/sub/old.py", "beta/__init__.py"])

    plan = venvlock("repair", "--dry-run", env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "Would remove beta-1.0.dist-info (" in plan.stdout, plan.stdout  # no file of it counted: all outside
    repaired = venvlock("repair", env=env)
    assert (checkout / "sub" / "old.py").read_text() == "mine\n", "repair deleted a file outside the environment"
    assert (checkout / "__init__.py").exists()
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert not (site / "beta-1.0.dist-info").exists()


@pytest.mark.slow  # pip-less venvs: test_environment; repair: the other tests here
def test_repair_of_a_venv_without_pip_uses_pip_with_python(env: dict[str, str], tmp_path: Path) -> None:
    """``--without-pip`` (as ``uv venv``): repair reinstalls with ``pip --python``, as pip-locked does."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    env = {**env, "VIRTUAL_ENV": str(bare)}
    done = subprocess.run([str(scripts_dir() / "pip-locked"), "install", "delta"], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    part = site_packages(bare) / "delta" / "part_0.py"
    part.unlink()
    repaired = venvlock("repair", env=env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "No module named pip" not in repaired.stderr
    assert part.exists()

    # pip finds no wheel to reinstall: which, and how to point it at one; no word of leftovers there are not
    part.unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    failed = venvlock("repair", env={**env, "PIP_FIND_LINKS": str(empty)})
    assert failed.returncode != 0, failed.stdout + failed.stderr  # pip's own status
    assert "reinstalling delta==1.0" in failed.stderr and "venvlock repair -- --find-links DIR" in failed.stderr
    assert "leftovers" not in failed.stderr, failed.stderr
    fixed = venvlock("repair", str(bare), "--", "--find-links", env["PIP_FIND_LINKS"], env=env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_repair_of_a_named_venv_stays_in_it_whatever_pip_python_says(
    env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    """``PIP_PYTHON`` names another venv: the named one is repaired, the other is left as it was.

    pip follows ``PIP_PYTHON`` (and ``python`` in a ``pip.conf``) by re-running
    itself under that interpreter, unless it is a re-run itself; the repair's
    pip must not leave the environment venvlock chose.
    """
    pip(venv, env, "install", "delta")
    part = site_packages(venv) / "delta" / "part_0.py"
    part.unlink()
    other = tmp_path / "other"
    repaired = venvlock("repair", str(venv), env={**env, "PIP_PYTHON": str(make_venv(other))})
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert part.exists(), "the named environment was not repaired"
    assert not list(site_packages(other).glob("delta*")), "the repair installed into PIP_PYTHON's environment"


def test_the_repair_installer_leaves_pip_settings_of_later_commands_as_they_were(
    env: dict[str, str], venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repair's pip gets pip's re-run marker; the process does not keep it for the commands it runs later.

    ``Adapter.install`` also reinstalls what a healed journal removed before
    ``venvlock run`` starts its command: that command's own ``pip --python``
    or ``PIP_PYTHON`` must work as without venvlock.
    """
    from venvlock.adapter import Adapter

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("_PIP_RUNNING_IN_SUBPROCESS", raising=False)
    adapter = Adapter("test", quiet=True)
    environment = Adapter.environment(venv)
    with adapter.environment_lock(environment) as hold:
        assert adapter.install(environment, ["delta"], hold) == 0
    assert (site_packages(venv) / "delta").is_dir()
    assert "_PIP_RUNNING_IN_SUBPROCESS" not in os.environ


def test_repair_json_and_dry_run_json(env: dict[str, str], venv: Path) -> None:
    pip(venv, env, "install", "delta")
    site = site_packages(venv)
    (site / "delta" / "part_1.py").unlink()
    (site / "~elta").mkdir()
    # verify keeps in its cache only files changed 2 s before it looked (times set back still change the ctime):
    # let the clock pass that, or a dry run that wrote the cache would go unseen
    newest = max(path.lstat().st_ctime for path in venv.rglob("*"))
    assert wait_for(lambda: time.time() > newest + 2.1, timeout=30)
    dry = venvlock("repair", "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    assert not (venv / ".venvlock" / "verified").exists()  # before: the dry run wrote verify's cache
    plan = json.loads(dry.stdout)
    assert plan["dry_run"] is True and plan["after"] is None and plan["installer_exit"] is None
    assert [item["name"] for item in plan["plan"]["reinstall"]] == ["delta"]
    assert plan["plan"]["leftovers"] == [str(site / "~elta")]
    assert (site / "~elta").exists()
    done = venvlock("repair", "--json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)  # the installer's own output does not spoil it
    assert result["installer_exit"] == 0 and result["after"]["damaged"] is False and result["exit"] == 0
    assert not (site / "~elta").exists() and (site / "delta" / "part_1.py").exists()


def test_repair_touches_nothing_outside_the_environment(env: dict[str, str], venv: Path, tmp_path: Path) -> None:
    pip_install(venv, env, "beta==1.0", "delta")
    project = tmp_path / "proj"
    (project / "~drafts").mkdir(parents=True)
    (project / "~drafts" / "notes.txt").write_text("mine")
    (project / "~$report.docx").write_text("mine")
    vendored = project / "beta-1.0.dist-info"  # a copy installed with `pip install -t`, on PYTHONPATH
    vendored.mkdir()
    (vendored / "METADATA").write_text("Metadata-Version: 2.1\nName: beta\nVersion: 1.0\n")
    (vendored / "RECORD").write_text("beta/__init__.py,,\n")
    (project / "beta").mkdir()
    (project / "beta" / "__init__.py").write_text("# vendored\n")
    (project / "gamma.egg-info").mkdir()  # from `setup.py egg_info`
    (project / "gamma.egg-info" / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: gamma\nVersion: 0.1\n")
    # a Debian-style pair in the venv itself: pip's dist-info and an egg-info of the same project
    egg = site_packages(venv) / "delta-1.0-py3.egg-info"
    egg.write_text("Metadata-Version: 1.1\nName: delta\nVersion: 1.0\n")
    outside = {k: v for k, v in env.items() if k != "VIRTUAL_ENV"}
    result = run(
        [pip_locked(), "--python", str(venv_python(venv)), "install", "beta", "gamma", "delta"],
        {**outside, "PYTHONPATH": "."},
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    for kept in ("~drafts/notes.txt", "~$report.docx", "beta-1.0.dist-info/RECORD", "beta/__init__.py"):
        assert (project / kept).exists(), kept
    assert (project / "gamma.egg-info" / "PKG-INFO").exists()
    assert egg.exists() and versions(venv)["delta"] == "1.0" and versions(venv)["beta"] == "1.0"
    assert "gamma" not in versions(venv)  # as plain pip: the egg-info on PYTHONPATH satisfies it


@pytest.mark.parametrize(
    ("settings", "passed_on", "named"),
    [
        ({"PIP_PREFIX": "{elsewhere}"}, [], "PIP_PREFIX"),
        ({"PIP_TARGET": "{elsewhere}"}, [], "PIP_TARGET"),
        ({"PIP_USER": "yes"}, [], "PIP_USER"),
        ({"PIP_CONFIG_FILE": "{config}"}, [], "root in [install] of "),
        ({}, ["--", "--targ", "{elsewhere}"], "--targ"),
        ({}, ["--", "--root={elsewhere}"], "--root"),
    ],
)
def test_repair_never_reinstalls_outside_the_environment(
    env: dict[str, str], venv: Path, tmp_path: Path, settings: dict[str, str], passed_on: list[str], named: str
) -> None:
    """Before: with PIP_PREFIX set, repair's pip uninstalled delta from the venv and installed it under the
    prefix, then said "Repaired" (delta gone from the venv); PIP_TARGET or `-- --target` reinstalled into
    another folder; PIP_USER made pip fail after the removals.  Now such a setting is a bad setting (exit 2)
    named before anything is touched."""
    pip(venv, env, "install", "delta")
    part = site_packages(venv) / "delta" / "part_0.py"
    part.unlink()
    elsewhere = tmp_path / "elsewhere"
    config = tmp_path / "pip.conf"
    config.write_text(f"[install]\nroot = {elsewhere}\n")
    fill = {"elsewhere": str(elsewhere), "config": str(config)}
    given = {name: value.format(**fill) for name, value in settings.items()}
    args = [arg.format(**fill) for arg in passed_on]
    before = sorted(p.relative_to(venv) for p in venv.rglob("*"))
    for dry_run in ([], ["--dry-run"]):
        done = venvlock("repair", *dry_run, str(venv), *args, env={**env, **given})
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert done.stderr.startswith("venvlock: error: repair: ") and named in done.stderr, done.stderr
        assert "installs into" in done.stderr and done.stdout == "", (done.stdout, done.stderr)
    assert not elsewhere.exists()
    assert sorted(p.relative_to(venv) for p in venv.rglob("*")) == before, "repair changed the environment"
    assert venvlock("repair", str(venv), env=env).returncode == 0 and part.exists()


def test_repair_plans_nothing_for_site_folders_outside_the_install_scheme(
    offline: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    """Before: for an interpreter outside a venv, verify reads its other site folders too (Debian's
    /usr/lib/python3/dist-packages, apt's), and repair planned to remove apt's dist-infos ("Would remove
    distro-1.8.0.dist-info (an install that did not finish)": Debian strips RECORD) and to reinstall them
    with pip into /usr/local.  Only the environment's own scheme is repaired: the rest is reported, not planned."""
    from venvlock.adapter import Adapter
    from venvlock.core._environment import Environment
    from venvlock.core._scheme import Scheme

    own, other = tmp_path / "prefix" / "site", tmp_path / "distro" / "dist-packages"
    for folder, wanted in ((own, "beta==1.0"), (other, "delta")):
        done = run([str(venv_python(venv)), "-m", "pip", "install", "-q", "--target", str(folder), wanted], offline)
        assert done.returncode == 0, done.stderr
    (own / "beta" / "part_0.py").unlink()
    (other / "delta" / "part_0.py").unlink()
    (other / "delta-1.0.dist-info" / "RECORD").rename(other / "RECORD.kept")  # as a distribution strips it
    prefix = tmp_path / "prefix"
    environment = Environment(str(prefix), kind="interpreter", python=sys.executable)
    environment._scheme = Scheme(str(prefix), str(prefix), [str(own)], [str(prefix / "bin")], [str(other)])
    report = Adapter.verify(environment)
    assert {p.distribution for p in report.problems if p.severity.value == "damage"} == {"beta", "delta"}
    plan = Adapter.plan_repair(report, environment)
    assert [name for name, _, _ in plan.installs.values()] == ["beta"], plan.as_dict()
    assert plan.removals == [] and plan.leftovers == [], plan.as_dict()
    alone = [problem for problem in plan.left_alone if problem.distribution == "delta"]
    assert alone and all(problem.folder.startswith(str(other)) for problem in alone), plan.as_dict()
    assert any("outside" in line and "delta" in line for line in plan.lines(dry_run=True)), plan.lines(dry_run=True)


def test_a_dry_run_exits_as_the_repair_would(env: dict[str, str], venv: Path) -> None:
    """Damage the repair leaves alone (an unmet requirement): the dry run exits 1, as the repair does.  Before,
    every dry run exited 0, and a script could not ask first."""
    pip_install(venv, env, "alpha")
    pip(venv, env, "uninstall", "-y", "beta")
    dry = venvlock("repair", "--dry-run", env=env)
    assert dry.returncode == 1 and "Not repaired" in dry.stdout, dry.stdout + dry.stderr
    done = venvlock("repair", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert json.loads(venvlock("repair", "--dry-run", "--json", env=env).stdout)["exit"] == 1
