"""Repair touches only the target environment's own install scheme: never PYTHONPATH folders, never egg-info pairs."""

from __future__ import annotations

from pathlib import Path

from support import pip_install, pip_locked, run, site_packages, venv_python, versions


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
