"""``venvlock doctor [PATH] [--json]``: whether an environment's locks work where it lives.

What it looks at:

* **the filesystem** of the environment's lock folder (type, mount point,
  options: :func:`venvlock.adapter.filesystem_of`) and how far a lock reaches
  there (this host, the server, nowhere);
* **a live probe**: three child processes take non-blocking ``flock`` tries
  on a new file in that folder (``O_EXCL|O_NOFOLLOW``, removed afterwards):
  an exclusive hold must keep a second process out (exclusive and shared
  tries), two shared holds must coexist and keep an exclusive try out, and a
  released lock must be free to the others.  No lock call is made by this
  process, and every answer is awaited :data:`PROBE_TIMEOUT` seconds at most
  (a "non-blocking" try that blocks, as cargo saw on NFS, is a failure).
  When the folder is not writable, the probe uses the environment lock
  itself if it is free, and gives it back at once;
* **uv**: whether uv locks the same file as venvlock (``<env>/.lock``, both
  with ``flock``/``LockFileEx``), and whether this user can lock it;
* **the lock files and their holders**, as ``venvlock status`` shows them;
* **advice** for network filesystems.

Exit status: 0 no problem found, 1 a problem (locks fail, do not exclude,
or stay on this host on a network filesystem; a lock file uv or venvlock
cannot lock: the environment lock, venvlock's sync lock beside it, the
creation lock; one missing where it cannot be made, as on a read-only
file system), 2 no environment at PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager

from venvlock.adapter import Adapter, display_path, filesystem_of, os_lock_file
from venvlock.cli._environments import environment_at
from venvlock.cli.status import _lock_line, lock_status
from venvlock.core import EnvironmentKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from venvlock.core import Environment

#: seconds to wait for one answer of a probe process (a lock try that takes longer blocks)
PROBE_TIMEOUT = 10.0

#: the probe's child: loads the core's OS half of the lock alone (argv[2]), opens the file (argv[1]) as venvlock
#: does, then answers each line of stdin (ex, sh, un) with ok, busy or error N
_CHILD = r"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("venvlock_os_lock", sys.argv[2])
os_lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(os_lock)
try:
    fd = os_lock.open_lock(sys.argv[1], create=False)
except OSError as e:
    print("open %d" % e.errno, flush=True)
    sys.exit(0)
print("ready", flush=True)
for line in sys.stdin:
    op = line.strip()
    try:
        if op == "un":
            os_lock.unlock(fd)
            taken = True
        else:
            taken = os_lock.lock(fd, exclusive=op == "ex")
    except OSError as e:
        print("error %d" % e.errno, flush=True)
    else:
        print("ok" if taken else "busy", flush=True)
"""

OK, BUSY = "ok", "busy"
_OPS = {"ex": "an exclusive try", "sh": "a shared try", "un": "a release"}

#: the probe's steps: (process, operation, the answer a working lock gives, what another answer means)
STEPS: tuple[tuple[int, str, str, str], ...] = (
    (0, "ex", OK, "a lock on a new file was refused as busy"),
    (1, "ex", BUSY, "a second process took the lock exclusively while another held it exclusively"),
    (1, "sh", BUSY, "a second process took the lock shared while another held it exclusively"),
    (0, "un", OK, "a release failed"),
    (1, "ex", OK, "a released lock stayed held for another process"),
    (1, "un", OK, "a release failed"),
    (0, "sh", OK, "a shared lock on a free file was refused"),
    (1, "sh", OK, "two shared holders could not coexist (shared locks act as exclusive here)"),
    (2, "ex", BUSY, "a third process took the lock exclusively while two others held it shared"),
    (0, "un", OK, "a release failed"),
    (2, "ex", BUSY, "a third process took the lock exclusively while another held it shared"),
    (1, "un", OK, "a release failed"),
    (2, "ex", OK, "a released shared lock stayed held for another process"),
    (2, "un", OK, "a release failed"),
)

#: how far a lock reaches (venvlock.adapter.filesystem_of(...).lock_scope())
LOCAL, NETWORK, THIS_HOST, NONE, UNKNOWN = "local", "network", "this-host", "none", "unknown"

#: probe results
WORKS, FAILS, NOT_EXCLUDED, HANGS, NOT_RUN = "works", "fails", "not-excluded", "hangs", "not-run"


def main(options: argparse.Namespace, extra: list[str]) -> int:
    environment = environment_at(options.path)
    try:
        report = diagnose(environment)
    except ProbeStopped as stopped:
        return 128 + stopped.signum
    if options.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 1 if report["problems"] else 0


def diagnose(environment: Environment) -> dict[str, object]:
    """Everything ``doctor`` finds about *environment*, as JSON-ready data."""
    lock_path = Adapter.lock_path(environment)
    folder = os.path.dirname(lock_path)
    filesystem = filesystem_of(folder)
    scope, why = filesystem.lock_scope()
    probe = probe_locks(folder, lock_path)
    if probe["result"] == FAILS and isinstance(probe["errno"], int):
        probe["detail"] = filesystem.lock_error(probe["errno"])
    uv = uv_facts(environment, lock_path)
    problems: list[str] = []
    if probe["result"] == FAILS:
        problems.append(f"locks fail: {probe['detail']}")
    elif probe["result"] in (NOT_EXCLUDED, HANGS):
        problems.append(f"locks do not work: {probe['detail']}")
    elif scope == THIS_HOST:
        problems.append(f"locks are local to this host ({why}): processes on other hosts are not kept out")
    uv_problems = uv["problems"]
    assert isinstance(uv_problems, list)
    problems.extend(uv_problems)
    problems.extend(filter(None, [_lock_file_problem(Adapter.sync_lock_path(environment), uv=False)]))
    if environment.kind is not EnvironmentKind.INTERPRETER:  # nothing creates an interpreter: no creation lock
        creation = Adapter.creation_lock_path(environment)
        problems.extend(filter(None, [_lock_file_problem(creation, uv=False, effect=CREATIONS)]))
    if probe["result"] == WORKS and scope == NONE:  # the probe beats the mount options: this version locks
        scope, why = NETWORK, f"{filesystem.type}: locks work here (the probe), across hosts as the cluster does"
    return {
        "environment": environment.path,
        "name": environment.name,
        "filesystem": {
            "type": filesystem.type,
            "mount_point": filesystem.mount_point or None,
            "source": filesystem.source or None,
            "options": list(filesystem.options),
            "network": filesystem.network,
            "lock_scope": scope,
            "why": why or None,
        },
        "probe": probe,
        "locks": _locks_word(probe, scope),
        "uv": uv,
        "environment_lock": _lock_files(lock_path, probe),
        "creation_lock": _lock_files(Adapter.creation_lock_path(environment), probe),
        "problems": problems,
        "advice": advice(filesystem.network or scope in (NETWORK, THIS_HOST, NONE), bool(problems)),
    }


def _lock_files(lock_path: str, probe: dict[str, object]) -> dict[str, object]:
    """The lock file's state and holder, as ``status`` shows it; not looked at where lock calls block."""
    if probe["result"] != HANGS:
        return lock_status(Adapter.lock_state(lock_path))
    reason = "not looked at: lock calls block on this filesystem"
    return {"path": lock_path, "state": "unknown", "held": False, "holder": None, "reason": reason}


def _locks_word(probe: dict[str, object], scope: str) -> str:
    """One word for scripts: ``work``, ``fail``, ``local-to-host``, ``unknown``."""
    result = probe["result"]
    if result in (FAILS, NOT_EXCLUDED, HANGS):
        return "fail"
    if result == NOT_RUN:
        return "unknown"
    return "local-to-host" if scope == THIS_HOST else "work"


# ---------------------------------------------------------------------------------------------------------------
def probe_locks(folder: str, lock_path: str) -> dict[str, object]:
    """Run the live probe (see the module docstring) in *folder*; ``result`` is one of ``works``, ``fails``, ...."""
    report: dict[str, object] = {"result": NOT_RUN, "file": None, "detail": "", "errno": None, "steps": []}
    if sys.platform == "win32":
        report["detail"] = "the live probe runs on Unix only"
        return report
    if not os.path.isdir(folder):
        report["detail"] = f"no folder {folder} yet"
        return report
    _remove_stale_probe_files(folder)
    path, made = _probe_file(folder, lock_path, report)
    if path is None:
        return report
    report["file"] = path
    try:
        with _signals_end_the_probe():
            _run_probe(path, report, on_real_lock=not made)
    finally:
        if made:
            try:
                os.unlink(path)
            except OSError:
                pass
    return report


#: the probe file's name: ``.venvlock-doctor-<pid>-<random>.lock``; it holds the name of the doctor's host
_PROBE_PREFIX, _PROBE_SUFFIX = ".venvlock-doctor-", ".lock"


def _host() -> str:
    """This host's name, as a probe file says it: a pid means something only on its own host."""
    import platform

    return platform.node()


class ProbeStopped(BaseException):
    """SIGTERM or SIGHUP while the probe ran: raised so that its processes end and its file goes first."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _signals_end_the_probe() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`ProbeStopped` (as Ctrl-C raises KeyboardInterrupt), so the
    probe's processes and file are cleaned up; :func:`main` then exits 128+N, as a shell says."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise ProbeStopped(signum)

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            previous[number] = signal.signal(number, stop)
        except ValueError:  # not the main thread: leave the signal as it was
            pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _remove_stale_probe_files(folder: str) -> None:
    """Remove the probe files of doctors that were killed (SIGKILL) while probing: their pid has ended.

    Only this host's (a doctor on another host sharing the folder probes under a pid that means nothing here):
    a file that names another host, or cannot be read, is left alone.
    """
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (name.startswith(_PROBE_PREFIX) and name.endswith(_PROBE_SUFFIX)):
            continue
        pid = name[len(_PROBE_PREFIX) :].partition("-")[0]
        if not pid.isdigit() or _probe_host(os.path.join(folder, name)) not in ("", _host()):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass
        except OSError:  # alive (another user's), or cannot tell: left alone
            pass


def _probe_host(path: str) -> str | None:
    """The host a probe file names ("" for none: an empty file), or None when it cannot be read as one."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        return os.read(fd, 256).decode(errors="replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)


def _probe_file(folder: str, lock_path: str, report: dict[str, object]) -> tuple[str | None, bool]:
    """A new file to probe on (made ``O_EXCL|O_NOFOLLOW``, naming this host), else the free environment lock;
    (path, made)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    path = os.path.join(folder, f"{_PROBE_PREFIX}{os.getpid()}-{os.urandom(4).hex()}{_PROBE_SUFFIX}")
    try:
        fd = os.open(path, flags, 0o600)
        try:
            os.write(fd, _host().encode() + b"\n")
        except OSError:
            os.unlink(path)  # made, not written (a full disk): nothing left behind
            raise
        finally:
            os.close(fd)
    except OSError as error:
        cannot = error.strerror or str(error)
    else:
        return path, True
    state = Adapter.lock_state(lock_path)
    if state.state == "free":
        return lock_path, False
    reason = {"missing": "there is no lock file to probe", "unknown": state.reason}.get(state.state)
    if reason is None:
        reason = "the environment lock is in use: try again when it is free"
    report["detail"] = f"cannot create a file in {display_path(folder)} ({cannot}), and {reason}"
    return None, False


def _run_probe(path: str, report: dict[str, object], *, on_real_lock: bool) -> None:
    import errno

    children: list[subprocess.Popen[bytes]] = []
    steps: list[dict[str, object]] = []
    report["steps"] = steps
    try:
        for _ in range(3):
            child = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _CHILD, path, os_lock_file()],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            children.append(child)
        for child in children:
            answer = _answer(child)
            if answer != "ready":
                number = int(answer.split()[1]) if answer.startswith("open ") else None
                why = os.strerror(number) if number else f"the probe process said {answer or 'nothing'}"
                report["detail"] = f"the probe processes cannot open {display_path(path)} for writing ({why})"
                return
        for index, (who, op, want, meaning) in enumerate(STEPS):
            child = children[who]
            assert child.stdin is not None
            child.stdin.write(f"{op}\n".encode())
            child.stdin.flush()
            got = _answer(child)
            steps.append({"process": who + 1, "try": op, "want": want, "got": got or "no answer"})
            if got == want:
                continue
            if not got:
                report["result"] = HANGS
                report["detail"] = (
                    f"{_OPS[op]} did not answer within {PROBE_TIMEOUT:.0f}s: a non-blocking lock call blocks here "
                    "(why cargo does not lock on NFS)"
                )
            elif got.startswith("error "):
                number = int(got.split()[1])
                report["result"], report["errno"] = FAILS, number
                report["detail"] = f"{errno.errorcode.get(number, number)}: {os.strerror(number)}"
            elif index == 0 and on_real_lock:
                report["result"] = NOT_RUN
                report["detail"] = "the environment lock was taken while probing: try again when it is free"
            else:
                report["result"], report["detail"] = NOT_EXCLUDED, meaning
            return
        report["result"] = WORKS
        report["detail"] = "a held lock kept other processes out, exclusive and shared, and a released one was free"
    except BaseException:  # Ctrl-C, SIGTERM, SIGHUP: end the processes now, not after their timeouts
        _stop(children, at_once=True)
        children = []
        raise
    finally:
        _stop(children)


def _answer(child: subprocess.Popen[bytes]) -> str:
    """The child's next line, or ``""`` when none came within :data:`PROBE_TIMEOUT` (or it ended)."""
    import select

    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], PROBE_TIMEOUT)
    if not ready:
        return ""
    return child.stdout.readline().decode(errors="replace").strip()


def _stop(children: list[subprocess.Popen[bytes]], *, at_once: bool = False) -> None:
    """End the probe processes: close their input (they release and exit), kill any that lingers (*at_once*:
    kill them all without waiting)."""
    for child in children:
        try:
            if child.stdin is not None:
                child.stdin.close()
        except OSError:
            pass
    for child in children:
        try:
            if at_once:
                child.kill()
            child.wait(timeout=PROBE_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            try:
                child.wait(timeout=PROBE_TIMEOUT)
            except subprocess.TimeoutExpired:  # stuck in the kernel (a hung network mount): leave it
                pass
        if child.stdout is not None:
            child.stdout.close()


# ---------------------------------------------------------------------------------------------------------------
def uv_facts(environment: Environment, lock_path: str) -> dict[str, object]:
    """Whether uv locks the file venvlock locks, and whether this user can lock it."""
    problems: list[str] = []
    uv_lock = os.path.join(environment.path, ".lock") if environment.kind is not EnvironmentKind.INTERPRETER else None
    same = uv_lock is not None and os.path.normcase(os.path.abspath(uv_lock)) == os.path.normcase(lock_path)
    if same:
        note = (
            f"uv and venvlock lock the same file ({display_path(lock_path)}) with the same lock (flock; LockFileEx "
            "on Windows): each waits for the other"
        )
    elif uv_lock is None:
        note = (
            f"an interpreter outside any venv: venvlock locks {display_path(lock_path)}, uv a file of its own in the "
            "temporary folder: they do not wait for each other"
        )
    else:
        note = (
            f"venvlock locks {display_path(lock_path)} (a plugin moved it), uv locks {display_path(uv_lock)}: "
            "they do not wait for each other"
        )
        problems.append(note)
    lock_file = _lock_file_problem(lock_path)
    if lock_file:
        problems.append(lock_file)
    return {
        "lock_file": uv_lock,
        "same_file": same,
        "uv": shutil.which("uv"),
        "note": note,
        "problems": problems,
    }


#: what a lock file that cannot be locked does: to every sync (the environment lock, the sync lock), to creations
SYNCS = "every sync of this environment warns and goes on unlocked (VENVLOCK_UNLOCKED=fail stops it instead)"
CREATIONS = (
    "every creation, recreation or removal of this environment by tox, nox, hatch or poetry, and venvlock repair, "
    "warns and goes on unlocked (VENVLOCK_UNLOCKED=fail stops it instead)"
)


def _lock_file_problem(lock_path: str, *, uv: bool = True, effect: str = SYNCS) -> str:
    """Why venvlock (and uv, *uv*: uv locks this file too) cannot lock *lock_path* as this user ("" when it can,
    or when its folder is not there yet): a link, not a file, not writable, or missing where it cannot be made
    (a read-only file system, a folder not writable by this user)."""
    import stat

    where = display_path(lock_path)
    who = "uv and venvlock" if uv else "venvlock"
    try:
        info = os.lstat(lock_path)
    except FileNotFoundError:
        folder = os.path.dirname(lock_path)
        if not os.path.isdir(folder) or os.access(folder, os.W_OK):
            return ""
        try:
            read_only = bool(os.statvfs(folder).f_flag & getattr(os, "ST_RDONLY", 1))
        except OSError:
            read_only = False
        why = "the file system is read-only" if read_only else f"{display_path(folder)} is not writable by you"
        return (
            f"{where} does not exist and cannot be made ({why}): {who} cannot lock it, so {effect}; create it "
            "while the folder can be written (mode 0666, as uv makes its lock file)"
        )
    except OSError:
        return ""
    if stat.S_ISLNK(info.st_mode):
        return f"{where} is a symbolic link: venvlock does not follow it, and cannot lock it (remove the link)"
    if not stat.S_ISREG(info.st_mode):
        return f"{where} is not a regular file: nothing can lock it (remove it)"
    if not os.access(lock_path, os.W_OK) and os.access(os.path.dirname(lock_path), os.W_OK):
        return (
            f"{where} is not writable by you (mode {stat.S_IMODE(info.st_mode):04o}, owner uid {info.st_uid}): "
            f"{who} open it for writing (NFS needs it), fail, and go on unlocked; make it writable for "
            "everyone who syncs this environment (uv makes it 0666)"
        )
    return ""


# ---------------------------------------------------------------------------------------------------------------
def advice(network: bool, problems: bool) -> list[str]:
    """What to do about locks on a network filesystem (none on a local one without problems)."""
    if not network and not problems:
        return []
    return [
        "pip takes no environment lock; cargo does not lock on NFS at all (a non-blocking lock try can hang "
        "there); uv locks <env>/.lock and, when that fails, warns and goes on unlocked.",
        "venvlock locks <env>/.lock as uv does; when the lock cannot be had it warns, naming the cause, and goes "
        "on unlocked, unless VENVLOCK_UNLOCKED=fail makes it stop instead (exit 75; see README Settings).",
        "Locks that stay on one host (NFS nolock or local_lock=all|flock, Lustre localflock, SMB nobrl, FUSE) do "
        "not protect an environment synced from several hosts: sync it from one host, or keep an environment per "
        "host on local disk and share the wheels instead.",
        "To lock across hosts: NFS with a lock manager (NFSv4, or NFSv3 with lockd; local_lock=none), Lustre "
        "mounted with -o flock, SMB without nobrl; GPFS locks have been seen not to exclude across nodes.",
        "Run venvlock doctor on each host that syncs this environment: the probe sees this host only.",
    ]


def format_report(report: dict[str, object]) -> str:
    """The lines ``doctor`` prints."""
    filesystem = report["filesystem"]
    probe = report["probe"]
    uv = report["uv"]
    assert isinstance(filesystem, dict) and isinstance(probe, dict) and isinstance(uv, dict)
    lines = [str(report["name"])]
    where = f" on {filesystem['mount_point']}" if filesystem["mount_point"] else ""
    source = f" ({filesystem['source']})" if filesystem["source"] else ""
    lines.append(f"  filesystem:       {filesystem['type']}{where}{source}")
    reach = {
        LOCAL: "every process on this host (a local filesystem)",
        NETWORK: "other hosts as far as the server locks",
        THIS_HOST: "this host only",
        NONE: "nowhere: locks are expected to fail",
        UNKNOWN: "unknown",
    }.get(str(filesystem["lock_scope"]), str(filesystem["lock_scope"]))
    why = f" ({filesystem['why']})" if filesystem["why"] else ""
    lines.append(f"  locks reach:      {reach}{why}")
    on = f" (probed on {display_path(str(probe['file']))})" if probe["file"] else ""
    word = {WORKS: "work", FAILS: "fail", NOT_EXCLUDED: "do not exclude", HANGS: "hang", NOT_RUN: "not probed"}
    lines.append(f"  locks:            {word[str(probe['result'])]}: {probe['detail']}{on}")
    lines.append(f"  uv:               {uv['note']}" + ("" if uv["uv"] else " (uv is not on PATH)"))
    lines.append(f"  environment lock: {_lock_line(report['environment_lock'])}")  # type: ignore[arg-type]
    lines.append(f"  creation lock:    {_lock_line(report['creation_lock'])}")  # type: ignore[arg-type]
    problems = report["problems"]
    assert isinstance(problems, list)
    if problems:
        lines.extend(f"  problem:          {problem}" for problem in problems)
    else:
        lines.append("  problems:         none")
    tips = report["advice"]
    if isinstance(tips, list) and tips:
        lines.append("advice:")
        lines.extend(f"  - {tip}" for tip in tips)
    return "\n".join(lines)
