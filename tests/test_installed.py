"""The one model of installed distributions (``core/_installed``): unfinished installs, the containment of deletes."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

from support import pip_locked, scripts_dir, site_packages, venv_python


def extract_unfinished(wheel: Path, site: Path, keep: set[str]) -> None:
    """What pip leaves when killed mid-extraction: the wheel's dist-info (its RECORD, no INSTALLER), some files."""
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if ".dist-info/" in n or n in keep]
        archive.extractall(site, names)


def test_an_unfinished_dist_info_is_not_taken_as_installed(env: dict[str, str], venv: Path, wheelhouse: Path) -> None:
    site = site_packages(venv)
    extract_unfinished(wheelhouse / "delta-1.0-py3-none-any.whl", site, {"delta/__init__.py"})
    assert not (site / "delta-1.0.dist-info" / "INSTALLER").exists()
    found = json.loads(
        subprocess.run([str(scripts_dir() / "venvlock"), "verify", "--json"], env=env, capture_output=True).stdout
    )

    # no journal of venvlock's says a sync of its own left it: pip is not skipped, and meets it as it would
    # without venvlock (a sync deletes nothing of its own accord; before, it removed what its check found damaged,
    # and an installer that could not reach the package then failed where pip alone passes)
    done = subprocess.run([pip_locked(), "install", "delta"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not done.stderr.startswith("Checked"), "the unfinished install was taken as installed"
    assert "unfinished" in {problem["kind"] for problem in found["problems"]}, found["problems"]
    assert (site / "delta-1.0.dist-info").is_dir()  # as pip left it
    repaired = subprocess.run([str(scripts_dir() / "venvlock"), "repair"], env=env, capture_output=True, text=True)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert (site / "delta" / "part_0.py").exists() and (site / "delta-1.0.dist-info" / "INSTALLER").exists()
    imported = subprocess.run([str(venv_python(venv)), "-c", "import delta.part_1"], env=env, capture_output=True)
    assert imported.returncode == 0, imported.stderr


def test_a_dist_info_without_installer_but_whole_is_installed(
    env: dict[str, str], venv: Path, wheelhouse: Path
) -> None:
    """Tools that write no INSTALLER: every file RECORD lists is there, so the install finished."""
    site = site_packages(venv)
    with zipfile.ZipFile(wheelhouse / "delta-1.0-py3-none-any.whl") as archive:
        archive.extractall(site)
    done = subprocess.run([pip_locked(), "install", "delta"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (site / "delta-1.0.dist-info" / "INSTALLER").exists(), "a whole install was reinstalled"


def test_containment_is_judged_where_the_entry_really_lies(tmp_path: Path) -> None:
    from venvlock.core._installed import contained

    env = tmp_path / "env"
    site = env / "lib" / "site-packages"
    site.mkdir(parents=True)
    outside = tmp_path / "work" / "demo"
    (outside / "sub").mkdir(parents=True)
    (site / "demo").symlink_to(outside, target_is_directory=True)
    (site / "link.py").symlink_to(outside / "sub")
    roots = [str(env.resolve())]
    assert contained(str(site / "demo.py"), roots)
    assert not contained(str(site / "demo" / "sub" / "old.py"), roots)  # through a link leading outside
    assert contained(str(site / "link.py"), roots)  # the link itself, never what it points to
    assert not contained(str(env / ".." / "x.py"), roots)
    linked_env = tmp_path / "envlink"
    linked_env.symlink_to(env, target_is_directory=True)
    assert contained(str(linked_env / "lib" / "site-packages" / "demo.py"), roots)
