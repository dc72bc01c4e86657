"""The differential harness: venvlock's verdict against pip's own ``install --dry-run --report``.

The guiding invariant: when venvlock says "satisfied", pip's dry run installs
nothing.  "Cannot judge" and "not satisfied" are always safe (pip runs).

* :func:`build_corpus_wheelhouse` and :func:`make_synced_venv` make a venv
  holding extras, markers, pre-releases, local versions, epochs, odd names
  and an egg-info distribution.
* :class:`PipOracle` asks real pip, in one long-lived process under the
  venv's interpreter (pip's own ``main`` per case, with the case's working
  folder and variables), so a case costs a fraction of a pip start.
* :class:`Case` is one request: arguments, files to write, variables, pip.conf files.
* :func:`random_cases` is the seeded generator of the larger corpus.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from support import build_wheel, make_venv, offline_env, site_packages, venv_python

WHEELS: list[tuple[str, str, list[str], dict[str, list[str]] | None]] = [
    ("alpha", "1.0", ["beta>=1", 'gamma[fast]; python_version >= "3"'], None),
    ("beta", "1.0", [], None),
    ("beta", "2.0", [], None),
    ("gamma", "1.0", [], {"fast": ["delta"]}),
    ("delta", "1.0", [], None),
    ("Foo_Bar", "1.0", [], None),
    ("pre", "1.0", [], None),
    ("pre", "2.0rc1", [], None),
    ("loc", "1.0+local.1", [], None),
    ("epo", "1!1.0", [], None),
    ("unused", "1.0", [], None),
    ("needs", "1.0", ["unused; extra == 'more'", 'delta; sys_platform != "nonesuch"'], {"more": []}),
]
INSTALLED = ["alpha", "beta==1.0", "Foo_Bar", "pre==2.0rc1", "loc", "epo", "needs"]
NAMES = ["alpha", "beta", "gamma", "delta", "foo-bar", "Foo_Bar", "FOO.BAR", "pre", "loc", "epo", "unused", "eggy"]


def build_corpus_wheelhouse(folder: Path) -> Path:
    for name, version, requires, extras in WHEELS:
        build_wheel(folder, name, version, requires=requires, extras=extras, files=1)
    return folder


def make_synced_venv(folder: Path, wheelhouse: Path) -> Path:
    """A venv with :data:`INSTALLED` and a hand-made egg-info distribution ``eggy`` (needs beta; [x] needs delta)."""
    venv = folder / "venv"
    python = make_venv(venv)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--pre", *INSTALLED], env=offline_env(wheelhouse), check=True
    )
    egg = site_packages(venv) / "eggy-1.0-py3.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: eggy\nVersion: 1.0\n")
    (egg / "requires.txt").write_text("beta\n\n[x]\ndelta\n")
    (site_packages(venv) / "eggy.py").write_text("")
    return venv


@dataclass
class Case:
    """One request, and the world around it."""

    args: list[str]
    files: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    site_conf: str | None = None  # the venv's own pip.conf
    user_conf: str | None = None  # $HOME/.config/pip/pip.conf
    expect: bool | str | None = "any"  # the verdict venvlock should give ("any": only the invariant)

    def __str__(self) -> str:
        return " ".join(self.args) + (f" {self.files}" if self.files else "") + (f" {self.env}" if self.env else "")


ORACLE = r"""
import contextlib, io, json, os, sys
from pip._internal.cli.main import main as pip_main
base = dict(os.environ)
for line in sys.stdin:
    case = json.loads(line)
    os.environ.clear(); os.environ.update(case["env"]); os.chdir(case["cwd"])
    report = os.path.join(case["cwd"], ".report.json")
    with contextlib.suppress(FileNotFoundError):
        os.remove(report)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = pip_main(["install", "--dry-run", "--quiet", "--report", report, *case["args"]])
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except Exception as error:  # pip's own main lets a few errors out (a traceback, exit status 1)
            code = 1
            print(repr(error), file=sys.stderr)
    try:
        with open(report) as file:
            install = [item["metadata"]["name"] for item in json.load(file)["install"]]
    except (OSError, ValueError, KeyError):
        install = None
    print(json.dumps({"code": code, "install": install, "stderr": err.getvalue()[-2000:]}), flush=True)
"""


class PipOracle:
    """Real pip's ``install --dry-run --report`` answers, from one process under the venv's interpreter."""

    def __init__(self, venv: Path) -> None:
        self.process = subprocess.Popen(
            [str(venv_python(venv)), "-c", ORACLE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )

    def ask(self, args: list[str], cwd: Path, env: dict[str, str]) -> dict[str, object]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"args": args, "cwd": str(cwd), "env": env}) + "\n")
        self.process.stdin.flush()
        answer: dict[str, object] = json.loads(self.process.stdout.readline())
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


@contextlib.contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` is exactly *values* inside (venvlock's check reads it, as pip does)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def prepare(case: Case, venv: Path, folder: Path, wheelhouse: Path) -> dict[str, str]:
    """Write the case's files into *folder* (its working folder) and return the variables pip and the check see."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in case.files.items():
        (folder / name).write_text(text)
    home = folder / "home"
    (home / ".config" / "pip").mkdir(parents=True, exist_ok=True)
    user = home / ".config" / "pip" / "pip.conf"
    site = venv / "pip.conf"
    for path, text in ((user, case.user_conf), (site, case.site_conf)):
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)
    env = offline_env(wheelhouse, HOME=str(home))
    env.pop("PIP_CONFIG_FILE")  # pip reads its configuration files: the case's own
    env.update(XDG_CONFIG_DIRS=str(folder / "xdg"))
    env.update(case.env)
    return env


def verdict(case: Case, venv: Path, folder: Path, env: dict[str, str]) -> tuple[bool | None, str]:
    from venvlock.core import Environment, Outcome, SyncRequest, hooks

    with environ(env):
        answer = hooks().venvlock_check(
            environment=Environment.for_venv(str(venv)), request=SyncRequest(case.args, cwd=str(folder))
        )
    judged = {Outcome.SATISFIED: True, Outcome.INSTALL_NEEDED: False, Outcome.CANNOT_JUDGE: None}
    return judged[answer.outcome], answer.reason


def judge(case: Case, venv: Path, folder: Path, wheelhouse: Path, oracle: PipOracle) -> str:
    """Check one case; return a description of what is wrong ("" when it holds)."""
    env = prepare(case, venv, folder, wheelhouse)
    satisfied, reason = verdict(case, venv, folder, env)
    answer = oracle.ask(case.args, folder, env)
    site = venv / "pip.conf"
    site.unlink(missing_ok=True)
    if satisfied and answer["install"] != []:
        return f"{case}: venvlock says satisfied, pip says {answer}"
    if case.expect != "any" and satisfied is not case.expect:
        return f"{case}: venvlock says {satisfied} ({reason}), expected {case.expect}"
    return ""


# --------------------------------------------------------------------------------------------------
# the seeded generator
# --------------------------------------------------------------------------------------------------
_SPECS = ["", "", "", "==1.0", ">=1", "<2", "!=1.0", "~=1.0", ">=2", "==2.0rc1", ">=1!0", "<1", "==1.0+local.1", ">0",
          "<3", ">=0.1", "!=3"]  # fmt: skip
_EXTRAS = ["", "[fast]", "[x]", "[more]", "[nothing]"]
_MARKERS = ["", '; python_version >= "3"', '; python_version < "3"', "; sys_platform == 'nonesuch'"]
_OPTIONS = [*[[]] * 12, ["--pre"], ["--no-deps"], ["--user"], ["-U"], ["--upgr"], ["-q"], ["--no-index"],
            ["--target", "t"], ["--prefix", "p"], ["--force-re"], ["--isolated"], ["--no-build-isolation"]]  # fmt: skip
_VARIABLES = [*[{}] * 12, {"PIP_UPGRADE": "1"}, {"PIP_NO_DEPS": "yes"}, {"PIP_PRE": "1"}, {"PIP_CONSTRAINT": "c.txt"},
              {"PIP_USER": "1"}, {"PIP_VERBOSE": "1"}, {"PIP_FORMAT": "columns"}]  # fmt: skip
_CONFS = [*[None] * 16, "[install]\nupgrade = true\n", "[global]\nconstraint = c.txt\n", "[global]\nno-index = 1\n",
          "[install]\nno-deps = true\n", "[install]\nignore-installed = 1\n", "[global]\nverbose = 1\n"]  # fmt: skip


def random_requirement(rng: random.Random) -> str:
    return rng.choice(NAMES) + rng.choice(_EXTRAS) + rng.choice(_SPECS) + rng.choice(_MARKERS)


def random_cases(seed: int, count: int) -> Iterator[Case]:
    rng = random.Random(seed)
    for _ in range(count):
        constraints = [rng.choice(NAMES) + rng.choice(_SPECS) + rng.choice(_MARKERS) for _ in range(2)]
        if rng.random() < 0.05:
            constraints.append(random_requirement(rng))  # extras too, which pip refuses
        files: dict[str, str] = {"c.txt": "\n".join(constraints) + "\n"}
        args: list[str] = [*rng.choice(_OPTIONS)]
        for _ in range(rng.randint(1, 3)):
            kind = rng.random()
            if kind < 0.5:
                args.append(random_requirement(rng))
            elif kind < 0.7:
                name = f"r{len(files)}.txt"
                nested = rng.choice(["", "-c c.txt\n", "-r c.txt\n", "${SPEC_LINE}\n", "beta \\\n  >=1\n"])
                files[name] = nested + random_requirement(rng) + "  # a comment\n"
                args += ["-r", name]
            elif kind < 0.85:
                args += ["-c", "c.txt"]
            else:
                name = f"h{len(files)}.txt"
                files[name] = "-r c.txt\n"
                args += ["-c", name]
        env = dict(rng.choice(_VARIABLES))
        if rng.random() < 0.3:
            env["SPEC_LINE"] = random_requirement(rng)
        yield Case(args, files, env, site_conf=rng.choice(_CONFS), user_conf=rng.choice(_CONFS))
