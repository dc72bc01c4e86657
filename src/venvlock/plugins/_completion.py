"""Shell completion for ``pip-locked``: pip's own completion protocol, bound to ``pip-locked``.

pip completes through itself: the shell function that ``pip completion --bash``
prints runs the command being completed with ``PIP_AUTO_COMPLETE=1``,
``COMP_WORDS`` (the command line) and ``COMP_CWORD`` (the index of the word
being completed), and pip prints the candidates instead of running a command.
Run through ``pip-locked``, pip's ``completion`` binds its script to
``python -m pip``, not to ``pip-locked``.

So ``pip-locked completion --bash|--zsh|--fish|--powershell`` prints the same
scripts as pip, bound to ``pip-locked``, under names of their own (so they sit
beside pip's); and ``pip-locked`` run with ``PIP_AUTO_COMPLETE`` in its
environment hands the request to pip, as pip itself would answer it: pip-locked
takes pip's commands and options, so pip's candidates are pip-locked's.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

#: the command the scripts complete
PROG = "pip-locked"

_BASH = """\
_pip_locked_completion()
{
    local IFS=$' \\t\\n'
    COMPREPLY=( $( COMP_WORDS="${COMP_WORDS[*]}" \\
                   COMP_CWORD=$COMP_CWORD \\
                   PIP_AUTO_COMPLETE=1 "$1" 2>/dev/null ) )
}
complete -o default -F _pip_locked_completion pip-locked
"""

_ZSH = """\
#compdef pip-locked
__pip_locked() {
  compadd $( COMP_WORDS="$words[*]" \\
             COMP_CWORD=$((CURRENT-1)) \\
             PIP_AUTO_COMPLETE=1 $words[1] 2>/dev/null )
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  # autoload from fpath, call function directly
  __pip_locked "$@"
else
  # eval/source/. command, register function for later
  compdef __pip_locked pip-locked
fi
"""

_FISH = """\
function __fish_complete_pip_locked
    set -lx COMP_WORDS \\
        (commandline --current-process --tokenize --cut-at-cursor) \\
        (commandline --current-token --cut-at-cursor)
    set -lx COMP_CWORD (math (count $COMP_WORDS) - 1)
    set -lx PIP_AUTO_COMPLETE 1
    set -l completions
    if string match -q '2.*' $version
        set completions (eval $COMP_WORDS[1])
    else
        set completions ($COMP_WORDS[1])
    end
    string split \\  -- $completions
end
complete -fa "(__fish_complete_pip_locked)" -c pip-locked
"""

_POWERSHELL = """\
if ((Test-Path Function:\\TabExpansion) -and -not `
    (Test-Path Function:\\_pip_locked_completeBackup)) {
    Rename-Item Function:\\TabExpansion _pip_locked_completeBackup
}
function TabExpansion($line, $lastWord) {
    $lastBlock = [regex]::Split($line, '[|;]')[-1].TrimStart()
    if ($lastBlock.StartsWith("pip-locked ")) {
        $Env:COMP_WORDS=$lastBlock
        $Env:COMP_CWORD=$lastBlock.Split().Length - 1
        $Env:PIP_AUTO_COMPLETE=1
        (& pip-locked).Split()
        Remove-Item Env:COMP_WORDS
        Remove-Item Env:COMP_CWORD
        Remove-Item Env:PIP_AUTO_COMPLETE
    }
    elseif (Test-Path Function:\\_pip_locked_completeBackup) {
        # Fall back on existing tab expansion
        _pip_locked_completeBackup $line $lastWord
    }
}
"""

#: the scripts by shell, and the options of ``pip completion`` that choose them
SCRIPTS = {"bash": _BASH, "fish": _FISH, "powershell": _POWERSHELL, "zsh": _ZSH}
_SHELL_OPTIONS = {f"--{shell}": shell for shell in SCRIPTS} | {f"-{shell[0]}": shell for shell in SCRIPTS}


def script(shell: str) -> str:
    """The completion script for *shell*, as ``pip completion`` frames it, bound to ``pip-locked``."""
    return f"\n# {PROG} {shell} completion start\n{SCRIPTS[shell]}# {PROG} {shell} completion end\n"


def _run_pip(argv: Sequence[str]) -> int:
    """Hand *argv* to the pip of the environment pip-locked would change (``$VIRTUAL_ENV``, else its own)."""
    from venvlock.core import Environment, VenvlockError

    try:
        python = Environment.current().python
    except VenvlockError:  # a bad $VIRTUAL_ENV: pip's answers are the same from pip-locked's own pip
        python = sys.executable
    command = [python, "-m", "pip", *argv]
    if os.name != "nt":
        try:
            os.execv(command[0], command)
        except OSError as error:
            print(f"{PROG}: error: cannot run {command[0]}: {error.strerror}", file=sys.stderr)
            return 1
    import subprocess

    return subprocess.call(command)


def main(argv: Sequence[str]) -> int:
    """``pip-locked completion ...``, or a completion request (``PIP_AUTO_COMPLETE`` set) from a shell."""
    if "PIP_AUTO_COMPLETE" in os.environ or "-h" in argv or "--help" in argv:
        return _run_pip(argv)
    shells = [_SHELL_OPTIONS[arg] for arg in argv if arg in _SHELL_OPTIONS]
    if not shells:
        choices = " or ".join(f"--{shell}" for shell in sorted(SCRIPTS))
        print(f"{PROG}: error: completion: you must pass {choices}", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(script(shells[-1]) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `pip-locked completion --bash | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
