"""venvlock's redaction against pip's own ``redact_auth_from_url``, asked in a subprocess, and in real holders.

The default suite runs a fixed corpus of URLs and command lines; ``-m
stress`` (``nox -s differential``) a seeded random one.  pip is never
imported into pytest's interpreter.
"""

from __future__ import annotations

import json
import random
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from support import SECRET, TOKEN, Gate, build_gated_project, pip_locked, run, wait_for
from venvlock._pip.redact import redact_command, redact_text, redact_url

ORACLE = r"""
import json, sys
from pip._internal.utils.misc import redact_auth_from_url
answers = []
for url in json.load(sys.stdin):
    try:
        answers.append(redact_auth_from_url(url))
    except ValueError:
        answers.append(None)
json.dump(answers, sys.stdout)
"""


def pips_redaction(urls: list[str]) -> list[str | None]:
    """pip's ``redact_auth_from_url`` of each URL (None where pip raises)."""
    answer = subprocess.run(
        [sys.executable, "-c", ORACLE], input=json.dumps(urls), capture_output=True, text=True, check=True
    )
    result: list[str | None] = json.loads(answer.stdout)
    return result


URLS = [
    "https://user:pass@host/simple",
    "https://user:pa'ss@host/simple",  # the issue's: a quote in the password
    'https://us"er:p\'a"s@host:8080/simple/?q=1#frag',
    "https://token@host/simple",
    "https://user:p@ss@host/x",  # split at the last @
    "https://a@b:c@d@host/",
    "https://user:@host/",
    "https://:pass@host/",
    "https://@host/",
    "https://us%40er:p%3Ass@host/",
    "https://us er:p ss@host/",
    "https://user:pass@[::1]:8080/path",
    "HTTPS://User:Pass@Host/Path",
    "git+https://user:pass@host/repo.git@v1.0#egg=x",
    "file://user:pass@/tmp/x",
    "https://host/path@not-auth?x=@y#@z",
    "https://host/simple",
    "https://user:pass@host?query",
    "https://user:pass@host#frag",
    "https://üser:päss@høst/",
    "https://user:p;ss$word!(x)@host/",
]


def test_urls_are_redacted_as_pip_does() -> None:
    pips = pips_redaction(URLS)
    ours = [redact_url(url) for url in URLS]
    assert [(u, o, p) for u, o, p in zip(URLS, ours, pips, strict=True) if "@" in u and o != p] == []
    assert [u for u, o in zip(URLS, ours, strict=True) if "@" not in u and o != u] == []


def test_a_url_pip_cannot_read_is_still_hidden() -> None:
    assert pips_redaction(["https://user:secret@[::1/x"]) == [None]  # pip stops there; venvlock does not
    assert "secret" not in redact_url("https://user:secret@[::1/x")


QUOTED_SECRET = "s3'c\"r:e@t"  # quotes, a colon and an @ in the password


def command_lines(secret: str) -> list[list[str]]:
    url = f"https://user:{secret}@host/simple"
    return [
        ["pip-locked", "install", "--index-url", url, "beta"],
        ["pip-locked", "install", f"--index-url={url}", "beta"],
        ["pip-locked", "install", "-i", url, "beta"],
        ["pip-locked", "install", f"-i{url}", "beta"],
        ["pip-locked", "install", "--extra-index-url", url, f"--extra={url}", "--ind", url],
        ["pip-locked", "install", "-f", url, f"--find-links={url}"],
        ["pip-locked", "--proxy", f"user:{secret}@proxy:3128", "install", "beta"],
        ["pip-locked", f"--proxy=user:{secret}@proxy:3128", "install", "beta"],
        ["pip-locked", "install", "--prox", f"http://user:{secret}@proxy:3128", "beta"],
        ["pip-locked", "install", f"beta @ git+https://user:{secret}@host/beta.git@v1"],
        ["pip-locked", "install", f"git+https://token{secret}@host/beta.git"],
        ["env", f"PIP_INDEX_URL={url}", f"https_proxy=user:{secret}@proxy:3128", "pip", "install", "beta"],
        ["env", f"PIP_EXTRA_INDEX_URL=https://a/ {url}", "pip"],
        ["tox", "-e", "py", "--", f"--index-url={url}"],
    ]


@pytest.mark.parametrize("secret", [QUOTED_SECRET, "p'w", "x%27y", "pass", "a\\b"])
def test_command_lines_never_show_the_password(secret: str) -> None:
    for argv in command_lines(secret):
        line = redact_command(argv)
        assert secret not in line, (argv, line)
        assert secret not in redact_text(line), (argv, line)
        again = redact_text(shlex.join(argv))  # a holder line written unredacted (an older venvlock)
        assert secret not in again, (argv, again)
        assert "****@" in line


def test_an_option_value_is_one_url_white_space_included() -> None:
    """pip reads an option's value as one URL: a (malformed) space in its password is hidden too."""
    for argv in (["--index-url", "https://u:a b@h/"], ["--index-url=https://u:a b@h/"], ["--proxy", "u:a b@h:1"]):
        assert "a b" not in redact_command(argv) and "a b" not in redact_text(redact_command(argv))


def test_command_lines_show_urls_as_pip_does() -> None:
    url = "https://user:pa'ss@host/simple"
    (shown,) = pips_redaction([url])
    assert redact_command(["pip", "install", "--index-url", url]) == shlex.join(
        ["pip", "install", "--index-url", shown]
    )
    assert redact_command([f"--index-url={url}"]) == shlex.join([f"--index-url={shown}"])
    assert redact_command(["--proxy", "u:p'w@h:3128"]) == shlex.join(["--proxy", "u:****@h:3128"])
    assert redact_command(["install", "beta"]) == "install beta"
    assert redact_text("no credentials in 'this' line") == "no credentials in 'this' line"


_PIECES = ["a", "Z", "0", ":", "@", "'", '"', "%", "%40", "%3A", " ", "!", "$", ";", "[", "]", "é", "+", "-", "~"]


def random_url(rng: random.Random) -> str:
    def part(longest: int) -> str:
        return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, longest)))

    scheme = rng.choice(["https", "http", "git+https", "HTTP", "file", "s3"])
    host = rng.choice(["host", "host:8080", "[::1]", "h.example", "", "h@x"])
    tail = rng.choice(["", "/", "/simple/", "/p@th", "?q=@", "#@f", "/x?y#z"])
    return f"{scheme}://{part(6)}{rng.choice(['@', ':', '@', ''])}{part(6)}@{host}{tail}"


@pytest.mark.stress
@pytest.mark.parametrize("seed", range(4))
def test_random_urls_are_redacted_as_pip_does(seed: int) -> None:
    rng = random.Random(seed)
    urls = [random_url(rng) for _ in range(3000)]
    pips = pips_redaction(urls)
    ours = [redact_url(url) for url in urls]
    assert [(u, o, p) for u, o, p in zip(urls, ours, pips, strict=True) if p is not None and o != p] == []


@pytest.mark.stress
@pytest.mark.parametrize("seed", range(4))
def test_random_command_lines_never_show_the_password(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        secret = "".join(rng.choice(["a", "'", '"', ":", "@", "%", "$", ";", "!", "é", "\\"]) for _ in range(8))
        secret = "Q" + secret + "Q"  # never empty, never all-redactable punctuation
        for argv in command_lines(secret):
            line = redact_command(argv)
            assert secret not in line and secret not in redact_text(line), (argv, line)


# --------------------------------------------------------------------------------------------------
# real holders: neither the holder files nor another process's waiting line show the password
# --------------------------------------------------------------------------------------------------
def test_holder_files_and_waiting_lines_never_show_the_password(
    env: dict[str, str], venv: Path, tmp_path: Path, gate: Gate
) -> None:
    password = "se'cr\"et@pw"
    url = f"https://user:{password}@127.0.0.1:9/simple"  # PIP_NO_INDEX: pip never asks it
    project = build_gated_project(tmp_path / "projects")
    holder = subprocess.Popen(
        [pip_locked(), "--proxy", f"user:{password}@127.0.0.1:9", "install", "--extra-index-url", url, str(project)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    waiter = None
    try:
        assert wait_for(gate.started, timeout=120), "the holder never reached the gate"
        holder_files = [p for p in venv.rglob("*") if ".holder" in p.name and p.is_file()]
        assert holder_files, sorted(p.name for p in venv.iterdir())
        for path in holder_files:
            text = path.read_text()
            assert password not in text and "****@" in text, (path, text)
        waiter = subprocess.Popen(
            [pip_locked(), "install", f"--index-url={url}", "beta"], env=env, stderr=subprocess.PIPE, text=True
        )
        assert waiter.stderr is not None
        line = waiter.stderr.readline()
        assert line.startswith("Waiting for lock on environment "), line
        assert password not in line and "user:****@" in line, line
    finally:
        gate.open()
        assert holder.wait(timeout=120) == 0, holder.stderr.read() if holder.stderr else ""
        if waiter is not None:
            _, rest = waiter.communicate(timeout=120)
            assert password not in rest
            assert waiter.returncode == 0, rest


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, /proc and venv layout")


@pytest.mark.slow
def test_credentials_never_reach_holder_files_or_other_processes(
    env: dict[str, str], venv: Path, tmp_path: Path, gate: Gate
) -> None:
    project = build_gated_project(tmp_path / "projects")
    index = f"https://user:{SECRET}@index.invalid/simple"
    extra = f"https://{TOKEN}@index.invalid/extra"
    holder = subprocess.Popen(
        [pip_locked(), "install", "-i", index, f"--extra-index-url={extra}", str(project)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for(gate.started, timeout=120)
        held = (venv / ".lock.holder").read_text()
        assert SECRET not in held and TOKEN not in held, held
        assert "https://user:****@index.invalid/simple" in held and "https://****@index.invalid/extra" in held
        assert (venv / ".lock.holder").stat().st_mode & 0o777 == 0o644
        waiting = run([pip_locked(), "install", "beta"], {**env, "VENVLOCK_TIMEOUT": "1"})
        timed_out = run([pip_locked(), "install", "beta"], {**env, "VENVLOCK_TIMEOUT": "0"})
    finally:
        gate.open()
    assert holder.wait(timeout=120) == 0
    assert waiting.returncode == 75 and timed_out.returncode == 75
    for output in (waiting.stderr, timed_out.stderr):
        assert SECRET not in output and TOKEN not in output, output
        assert "user:****@" in output
    assert waiting.stderr.startswith("Waiting for lock")
    assert "Waiting" not in timed_out.stderr  # VENVLOCK_TIMEOUT=0: the error alone
