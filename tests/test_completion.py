"""`pip-locked completion`: scripts bound to pip-locked, and pip's completion protocol answered through pip-locked."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from support import pip_locked, scripts_dir

SHELLS = ("bash", "zsh", "fish", "powershell")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PIP_AUTO_COMPLETE")}
    env["PATH"] = f"{scripts_dir()}{os.pathsep}{env.get('PATH', '')}"
    return env


def _completion(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [pip_locked(), "completion", *args], env=_env(), capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_script_is_bound_to_pip_locked(shell: str) -> None:
    result = _completion(f"--{shell}")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert f"# pip-locked {shell} completion start" in text
    assert f"# pip-locked {shell} completion end" in text
    assert "-m pip" not in text, text  # pip's own script, run through pip-locked, binds to `python -m pip`
    assert "PIP_AUTO_COMPLETE" in text
    binding = {
        "bash": "complete -o default -F _pip_locked_completion pip-locked",
        "zsh": "compdef __pip_locked pip-locked",
        "fish": 'complete -fa "(__fish_complete_pip_locked)" -c pip-locked',
        "powershell": 'StartsWith("pip-locked ")',
    }[shell]
    assert binding in text


def test_short_options_and_missing_shell() -> None:
    assert _completion("-b").stdout == _completion("--bash").stdout
    result = _completion()
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--bash or --fish or --powershell or --zsh" in result.stderr


def test_completion_help_is_pips() -> None:
    result = _completion("--help")
    assert result.returncode == 0
    assert "--bash" in result.stdout


def _complete_in_bash(line: str) -> list[str]:
    """Source `pip-locked completion --bash` in a real bash and complete the last word of *line*."""
    script = _completion("--bash").stdout
    words = line.split(" ")
    bash = f"""
{script}
complete -p pip-locked
COMP_WORDS=({" ".join(words)})
COMP_CWORD={len(words) - 1}
_pip_locked_completion pip-locked {words[-1]} {words[-2]}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", bash],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "complete -o default -F _pip_locked_completion pip-locked"
    return lines[1:]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_and_options() -> None:
    # before: pip-locked answered a completion request with its help text, so every word of it was offered
    assert _complete_in_bash("pip-locked uni") == ["uninstall"]
    assert set(_complete_in_bash("pip-locked install --no-dep")) == {"--no-deps", "--no-dependencies"}


def test_completion_request_changes_nothing(tmp_path: os.PathLike[str]) -> None:
    # a completion request naming install is answered by pip's completion; nothing is locked or installed
    env = _env() | {"PIP_AUTO_COMPLETE": "1", "COMP_WORDS": "pip-locked install --tar", "COMP_CWORD": "2"}
    result = subprocess.run(
        [pip_locked(), "install", "--target", str(tmp_path), "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.split() == ["--target="]
    assert os.listdir(tmp_path) == []
