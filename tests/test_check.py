"""The in-process check agrees with pip: where it says "satisfied", pip would install nothing, and back."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from differential import PipOracle
from venvlock.core import Environment, Outcome, SyncRequest, hooks


@pytest.fixture(scope="session")
def synced(wheelhouse: Path) -> tuple[Path, dict[str, str]]:
    """A venv with alpha (and its dependencies) and heavy0, made once per run: the tests only read it."""
    from support import built_once, make_venv, offline_env

    env = offline_env(wheelhouse)

    def build(folder: Path) -> None:
        python = make_venv(folder / "venv")
        subprocess.run([str(python), "-m", "pip", "install", "-q", "alpha", "heavy0==1.0"], env=env, check=True)

    return built_once("check-synced", build) / "venv", env


@pytest.fixture(scope="session")
def oracle(synced: tuple[Path, dict[str, str]]) -> Iterator[PipOracle]:
    """Real pip's ``install --dry-run --report``, asked in one pip process (pip's start-up once, not per case)."""
    answers = PipOracle(synced[0])
    yield answers
    answers.close()


def pip_would_install(oracle: PipOracle, env: dict[str, str], args: list[str], cwd: Path) -> bool:
    answer = oracle.ask(args, cwd, env)
    assert answer["code"] == 0 and answer["install"] is not None, answer["stderr"]
    return answer["install"] != []


CASES = {
    "plain": (["alpha"], True),
    "normalised name": (["ALPHA"], True),
    "extra pulls an installed dependency": (["gamma[fast]"], True),
    "unknown extra is ignored as pip does": (["alpha[nothing]"], True),
    "specifier not met": (["beta<2"], False),
    "specifier met": (["beta>=2,<3"], True),
    "false marker": (['heavy1; python_version < "3"'], True),
    "true marker, missing": (['heavy1; python_version >= "3"'], False),
    "not installed": (["heavy1"], False),
    "constraint not met": (["alpha", "-c", "constraints.txt"], False),
    "requirements file": (["-r", "requirements.txt"], True),
    "nested requirements file": (["-r", "outer.txt"], False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_check_agrees_with_pip(
    synced: tuple[Path, dict[str, str]], oracle: PipOracle, tmp_path: Path, name: str
) -> None:
    venv, env = synced
    (tmp_path / "constraints.txt").write_text("beta<2\n")
    (tmp_path / "requirements.txt").write_text(
        "# pinned\nalpha  # the app\nheavy0==1.0 \\\n  ; python_version >= '3'\n"
    )
    (tmp_path / "outer.txt").write_text("-r requirements.txt\nheavy2\n")
    args, satisfied = CASES[name]
    verdict = hooks().venvlock_check(
        environment=Environment.for_venv(str(venv)), request=SyncRequest(args, cwd=str(tmp_path))
    )
    assert verdict.outcome is (Outcome.SATISFIED if satisfied else Outcome.INSTALL_NEEDED), verdict.reason
    assert pip_would_install(oracle, env, args, tmp_path) is not satisfied


@pytest.mark.parametrize(
    "args",
    [["-U", "alpha"], ["--force-reinstall", "alpha"], ["--no-deps", "alpha"], ["-e", "."], ["./local"],
     ["alpha @ file:///x.whl"], ["--frobnicate", "alpha"], ["--target", "t", "alpha"]],
)  # fmt: skip
def test_what_only_the_installer_can_judge(synced: tuple[Path, dict[str, str]], args: list[str]) -> None:
    venv, _ = synced
    verdict = hooks().venvlock_check(environment=Environment.for_venv(str(venv)), request=SyncRequest(args))
    assert verdict.outcome is Outcome.CANNOT_JUDGE


def test_pip_settings_that_change_the_meaning_go_to_the_installer(
    synced: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    venv, _ = synced
    environment = Environment.for_venv(str(venv))

    def check(args: list[str]) -> Outcome:
        return hooks().venvlock_check(environment=environment, request=SyncRequest(args)).outcome

    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "pip.conf"))
    (tmp_path / "pip.conf").write_text("[install]\nupgrade = true\n")
    assert check(["alpha"]) is Outcome.CANNOT_JUDGE
    (tmp_path / "pip.conf").write_text(f"[global]\nconstraint = {tmp_path / 'c.txt'}\n")
    (tmp_path / "c.txt").write_text("beta<2\n")
    assert check(["alpha"]) is Outcome.INSTALL_NEEDED
    monkeypatch.setenv("PIP_FORCE_REINSTALL", "1")
    assert check(["alpha"]) is Outcome.CANNOT_JUDGE


def test_damage_is_not_in_sync(tmp_path: Path, wheelhouse: Path) -> None:
    from support import make_venv, offline_env, site_packages

    venv = tmp_path / "venv"
    python = make_venv(venv)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "alpha"], env=offline_env(wheelhouse), check=True)
    environment = Environment.for_venv(str(venv))
    request = SyncRequest(["alpha"])
    assert hooks().venvlock_check(environment=environment, request=request).outcome is Outcome.SATISFIED
    site = site_packages(venv)
    (site / "~eta").mkdir()
    verdict = hooks().venvlock_check(environment=environment, request=request)
    assert verdict.outcome is Outcome.INSTALL_NEEDED and str(site / "~eta") in verdict.damaged
    (site / "~eta").rmdir()
    (site / "beta-1.0.dist-info").mkdir()  # a second, half-written dist-info for beta
    verdict = hooks().venvlock_check(environment=environment, request=request)
    assert verdict.outcome is Outcome.INSTALL_NEEDED and "beta is damaged" in verdict.reason


def test_a_verdict_is_one_of_three_outcomes_and_plugins_of_0x_still_build_them() -> None:
    from venvlock.core import Verdict

    assert Verdict.already_satisfied(checked=3).outcome is Outcome.SATISFIED
    assert Verdict.nothing_to_do(checked=3).satisfied  # the earlier spelling, still accepted
    assert Verdict.install_needed("beta<2 not met", checked=3).outcome is Outcome.INSTALL_NEEDED
    assert Verdict.cannot_judge("a URL").outcome is Outcome.CANNOT_JUDGE
    assert [Verdict(flag).outcome for flag in (True, False, None)] == list(Outcome)  # venvlock 0.x spelling
    assert [Verdict(flag).satisfied for flag in (True, False, None)] == [True, False, False]  # never a guess
