"""``venvlock doctor``: the filesystem of an environment and a live probe of its locks, between real processes.

The probe's verdicts on a filesystem whose locks fail or lie are produced for
real: a small C library, preloaded into the doctor's probe processes, makes
libc's ``flock`` fail with a chosen errno (what Lustre, NFS and clusters do)
or succeed without locking (what locks local to another host look like).
Filesystem types come from a fixed mountinfo corpus (nfs, lustre, gpfs,
cifs, fuse.sshfs) and from a real tmpfs mount where one can be made.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import venv as venv_module
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support import scripts_dir, wait_for
from venvlock.adapter import Adapter
from venvlock.audit._filesystem import (
    LOCAL,
    NETWORK,
    NONE,
    THIS_HOST,
    Filesystem,
    filesystem_of,
    lock_error_meaning,
    mount_of,
    parse_mountinfo,
    unescape,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

LINUX = sys.platform.startswith("linux")


def venvlock() -> str:
    return str(scripts_dir() / "venvlock")


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venvlock(), "doctor", *args],
        env=env if env is not None else os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def make_env(path: Path) -> Path:
    venv_module.EnvBuilder(with_pip=False).create(path)
    return path


@pytest.fixture
def env_dir(tmp_path: Path) -> Path:
    return make_env(tmp_path / "venv")


def leftovers(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith(".venvlock-doctor-"))


# ---------------------------------------------------------------------------------------------------
# a real environment on this machine's disk
# ---------------------------------------------------------------------------------------------------
@pytest.mark.skipif(sys.platform == "win32", reason="the live probe runs on Unix")
def test_doctor_on_a_local_venv_finds_working_locks(env_dir: Path) -> None:
    done = doctor(str(env_dir), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["environment"] == str(env_dir)
    assert report["locks"] == "work"
    assert report["problems"] == [] and report["advice"] == []
    probe = report["probe"]
    assert probe["result"] == "works" and probe["errno"] is None
    # the second process was kept out by the first's exclusive hold; two shared holds coexisted
    steps = [(s["process"], s["try"], s["got"]) for s in probe["steps"]]
    assert (2, "ex", "busy") in steps and (2, "sh", "ok") in steps and (3, "ex", "busy") in steps
    assert all(s["got"] == s["want"] for s in probe["steps"])
    filesystem = report["filesystem"]
    if LINUX:
        assert filesystem["type"] == filesystem_of(str(env_dir)).type != "unknown"
        assert str(env_dir).startswith(filesystem["mount_point"])
    assert report["uv"]["same_file"] is True and report["uv"]["lock_file"] == str(env_dir / ".lock")
    assert report["environment_lock"]["state"] == "missing" and report["creation_lock"]["state"] == "missing"
    # the probe file is gone, and no lock file was made
    assert leftovers(env_dir) == [] and not (env_dir / ".lock").exists()

    text = doctor(str(env_dir))
    assert text.returncode == 0, text.stderr
    assert "  locks:            work: " in text.stdout and "  problems:         none" in text.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="the live probe runs on Unix")
def test_doctor_names_the_holder_and_does_not_wait_for_a_held_lock(env_dir: Path, tmp_path: Path) -> None:
    ready, release = tmp_path / "ready", tmp_path / "release"
    hold = (
        "import os, time, sys\n"
        f"open({str(ready)!r}, 'w').close()\n"
        f"while not os.path.exists({str(release)!r}): time.sleep(0.01)\n"
    )
    holder = subprocess.Popen([venvlock(), "run", "--env", str(env_dir), "--", sys.executable, "-c", hold])
    try:
        assert wait_for(ready.exists), "the holder never took the lock"
        done = doctor(str(env_dir), "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["probe"]["result"] == "works"  # probed on a file of its own, not on the held lock
        lock = report["environment_lock"]
        assert lock["state"] == "exclusive" and lock["holder"]["pid"] > 0
        assert "held (exclusive) by pid" in doctor(str(env_dir)).stdout
    finally:
        release.touch()
        assert holder.wait(timeout=60) == 0


def test_doctor_usage_errors(tmp_path: Path) -> None:
    missing = doctor(str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "venvlock: error: no environment at" in missing.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    not_env = doctor(str(plain))
    assert not_env.returncode == 2 and "not a virtual environment" in not_env.stderr
    assert doctor("--frobnicate").returncode == 2


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_a_lock_file_that_is_a_symbolic_link_is_a_problem(env_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    (env_dir / ".lock").symlink_to(target)
    done = doctor(str(env_dir), "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["locks"] == "work" and any("symbolic link" in p for p in report["problems"])
    assert report["advice"]  # a problem brings the advice
    assert target.read_text() == ""


def test_doctor_on_an_interpreter_outside_any_venv(tmp_path: Path) -> None:
    base = Path(sys.base_prefix) / ("python.exe" if sys.platform == "win32" else "bin/python3")
    if not base.is_file() or sys.base_prefix == sys.prefix:
        pytest.skip("no interpreter outside a venv at hand")
    done = doctor(str(base), "--json", env={**os.environ, "VENVLOCK_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["uv"]["same_file"] is False and "do not wait for each other" in report["uv"]["note"]
    assert report["probe"]["result"] == "not-run" and not (tmp_path / "cache").exists()  # nothing made


def test_other_commands_do_not_import_the_doctor(env_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "venvlock", "status", "--json", str(env_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "venvlock.cli.status" in done.stderr
    assert "venvlock.cli.doctor" not in done.stderr and "venvlock.audit._filesystem" not in done.stderr


# ---------------------------------------------------------------------------------------------------
# a real tmpfs
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A fresh tmpfs mounted in the test's folder (root on Linux only; skipped where mounting is refused)."""
    if not LINUX or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root on Linux")
    point = tmp_path / "mnt"
    point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "venvlock-test", str(point)], check=False)
    if mounted.returncode != 0:
        pytest.skip("mount -t tmpfs is refused here")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)


def test_doctor_on_a_tmpfs(tmpfs: Path) -> None:
    env_dir = make_env(tmpfs / "venv")
    done = doctor(str(env_dir), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["filesystem"]["type"] == "tmpfs"
    assert report["filesystem"]["mount_point"] == str(tmpfs.resolve())
    assert report["filesystem"]["source"] == "venvlock-test"
    assert report["filesystem"]["lock_scope"] == LOCAL and report["locks"] == "work"
    assert leftovers(env_dir) == []


def test_doctor_on_a_read_only_mount_falls_back_to_the_free_lock_file(tmpfs: Path) -> None:
    env_dir = make_env(tmpfs / "venv")
    for lock_file in (env_dir / ".lock", env_dir / ".lock.sync", tmpfs / ".venv.create.lock"):  # all it locks
        lock_file.touch(mode=0o666)
    if subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=False).returncode != 0:
        pytest.skip("cannot remount the tmpfs read-only")
    done = doctor(str(env_dir), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert "ro" in report["filesystem"]["options"]
    probe = report["probe"]
    # no file can be made here: the probe turned to the free environment lock, opened read-only as venvlock
    # opens it (its probe processes load the core's own OS half of the lock), where locks still work locally
    assert probe["result"] == "works" and probe["file"] == str(env_dir / ".lock")
    assert report["locks"] == "work" and report["environment_lock"]["state"] == "free"

    # held by another process: the doctor neither waits for it nor takes it
    ready, release = tmpfs.parent / "ready", tmpfs.parent / "release"
    hold = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(env_dir / '.lock')!r}, os.O_RDONLY)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        f"open({str(ready)!r}, 'w').close()\n"
        f"while not os.path.exists({str(release)!r}): time.sleep(0.01)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold])
    try:
        assert wait_for(ready.exists), "the holder never took the lock"
        busy = json.loads(doctor(str(env_dir), "--json").stdout)
        assert busy["probe"]["result"] == "not-run" and "in use" in busy["probe"]["detail"]
        assert busy["environment_lock"]["state"] == "exclusive"
    finally:
        release.touch()
        assert holder.wait(timeout=60) == 0


# ---------------------------------------------------------------------------------------------------
# filesystems whose locks fail or lie: flock made to fail (or not to lock) in the probe processes
# ---------------------------------------------------------------------------------------------------
_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int flock(int fd, int operation) {
    const char *mode = getenv("VENVLOCK_TEST_FLOCK");
    if (mode && strcmp(mode, "nolock") == 0) return 0;
    if (mode && strcmp(mode, "hang") == 0 && (operation & LOCK_NB)) for (;;) pause();
    if (mode && strncmp(mode, "errno=", 6) == 0) { errno = atoi(mode + 6); return -1; }
    int (*real)(int, int) = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
    return real(fd, operation);
}
"""


@pytest.fixture(scope="module")
def flock_shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not LINUX or compiler is None:
        pytest.skip("needs Linux and a C compiler to preload a flock that fails")
    folder = tmp_path_factory.mktemp("shim")
    (folder / "shim.c").write_text(_SHIM)
    built = subprocess.run(
        [compiler, "-shared", "-fPIC", "-o", str(folder / "shim.so"), str(folder / "shim.c"), "-ldl"],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        pytest.skip(f"cannot build the flock shim: {built.stderr}")
    return folder / "shim.so"


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (errno.ENOSYS, "does not implement flock"),
        (errno.ENOLCK, "no lock manager"),
        (errno.EBADF, "open for writing"),
        (errno.EOPNOTSUPP, "does not support locks"),
    ],
)
def test_locks_that_fail_are_named_by_errno(flock_shim: Path, env_dir: Path, number: int, words: str) -> None:
    shimmed = {**os.environ, "LD_PRELOAD": str(flock_shim), "VENVLOCK_TEST_FLOCK": f"errno={number}"}
    done = doctor(str(env_dir), "--json", env=shimmed)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["locks"] == "fail"
    assert report["probe"]["result"] == "fails" and report["probe"]["errno"] == number
    problem = report["problems"][0]
    assert problem.startswith(f"locks fail: {errno.errorcode[number]}: ") and words in problem
    assert report["advice"] and leftovers(env_dir) == []
    if number != errno.ENOSYS:
        return
    text = doctor(str(env_dir), env=shimmed)
    assert text.returncode == 1
    assert f"locks:            fail: {errno.errorcode[number]}" in text.stdout and "advice:" in text.stdout


def test_locks_that_do_not_exclude_are_caught(flock_shim: Path, env_dir: Path) -> None:
    """Every try succeeds and nothing is locked, as locks kept on another host look from this one."""
    shimmed = {**os.environ, "LD_PRELOAD": str(flock_shim), "VENVLOCK_TEST_FLOCK": "nolock"}
    done = doctor(str(env_dir), "--json", env=shimmed)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["probe"]["result"] == "not-excluded" and report["locks"] == "fail"
    assert "a second process took the lock exclusively while another held it" in report["problems"][0]
    assert leftovers(env_dir) == []


def test_a_lock_try_that_blocks_is_caught_and_its_process_ended(
    flock_shim: Path, env_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A "non-blocking" try that never returns (cargo's reason not to lock on NFS): reported, not waited for."""
    from venvlock.cli import doctor as doctor_module

    monkeypatch.setattr(doctor_module, "PROBE_TIMEOUT", 1.0)
    monkeypatch.setenv("LD_PRELOAD", str(flock_shim))  # for the probe processes this starts
    monkeypatch.setenv("VENVLOCK_TEST_FLOCK", "hang")
    report = doctor_module.diagnose(Adapter.environment(env_dir))
    probe = report["probe"]
    assert isinstance(probe, dict)
    assert probe["result"] == "hangs" and "did not answer within 1s" in str(probe["detail"])
    assert probe["steps"] == [{"process": 1, "try": "ex", "want": "ok", "got": "no answer"}]
    assert report["locks"] == "fail" and "locks do not work" in str(report["problems"])
    # the doctor makes no lock call of its own there, not even to look at the lock files
    assert report["environment_lock"]["state"] == "unknown"  # type: ignore[index]
    assert leftovers(env_dir) == []


# ---------------------------------------------------------------------------------------------------
# filesystem types and lock reach, from a fixed mountinfo
# ---------------------------------------------------------------------------------------------------
MOUNTINFO = r"""22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
30 27 0:40 / /var/lib/docker/overlay2/x/merged rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
31 27 0:41 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw,size=1g
40 27 0:50 / /home rw,relatime - nfs4 srv:/home rw,vers=4.2,rsize=1048576,hard,proto=tcp,local_lock=none,addr=10.0.0.1
41 27 0:51 / /shared rw,relatime - nfs srv:/shared rw,vers=3,nolock,local_lock=all,addr=10.0.0.1
42 27 0:52 / /scratch rw,relatime - lustre 10.0.0.2@o2ib:/scratch rw,lazystatfs
43 27 0:53 / /project rw,relatime - lustre 10.0.0.2@o2ib:/project rw,flock,lazystatfs
44 27 0:54 / /gpfs/fs1 rw,relatime - gpfs fs1 rw
45 27 0:55 / /mnt/win rw,relatime - cifs //srv/share rw,vers=3.1.1,cache=strict,nobrl
46 27 0:56 / /mnt/smb rw,relatime - smb3 //srv/other rw,vers=3.1.1
47 27 0:57 / /mnt/remote rw,nosuid,nodev - fuse.sshfs user@host:/data rw,user_id=0,group_id=0
48 27 0:58 / /mnt/my\040disk rw,relatime - xfs /dev/sdb1 rw
49 40 0:59 / /home/alice/lustre-local rw,relatime - lustre mgs@tcp:/fs rw,localflock
50 27 0:60 / /tmp rw,relatime - btrfs /dev/sdc rw
51 27 0:61 / /scratch2 rw,relatime - lustre mgs@tcp:/fs2 rw,noflock
malformed line without a separator
"""


@pytest.fixture(scope="module")
def mounts() -> list[Filesystem]:
    return parse_mountinfo(MOUNTINFO)


@pytest.mark.parametrize(
    ("path", "kind", "point", "scope", "why"),
    [
        ("/usr/lib/python3", "ext4", "/", LOCAL, ""),
        ("/var/lib/docker/overlay2/x/merged/app/.venv", "overlay", "/var/lib/docker/overlay2/x/merged", LOCAL, ""),
        ("/tmp/build/.venv", "btrfs", "/tmp", LOCAL, ""),  # mounted over the tmpfs: the later mount wins
        ("/home/bob/.venv", "nfs4", "/home", NETWORK, "lock manager"),
        ("/shared/envs/py", "nfs", "/shared", THIS_HOST, "nolock"),
        ("/scratch/u/.venv", "lustre", "/scratch", NONE, "without the flock option"),
        ("/scratch2/u/.venv", "lustre", "/scratch2", NONE, "without the flock option"),
        ("/project/.venv", "lustre", "/project", NETWORK, "coherent"),
        ("/home/alice/lustre-local/.venv", "lustre", "/home/alice/lustre-local", THIS_HOST, "localflock"),
        ("/gpfs/fs1/lab/.venv", "gpfs", "/gpfs/fs1", NETWORK, "filelock issue 389"),
        ("/mnt/win/.venv", "cifs", "/mnt/win", THIS_HOST, "nobrl"),
        ("/mnt/smb/.venv", "smb3", "/mnt/smb", NETWORK, "SMB server"),
        ("/mnt/remote/.venv", "fuse.sshfs", "/mnt/remote", THIS_HOST, "FUSE"),
        ("/mnt/my disk/.venv", "xfs", "/mnt/my disk", LOCAL, ""),
        ("/mnt/my diskette/.venv", "ext4", "/", LOCAL, ""),  # a prefix of the name is not a mount point
        ("/mnt/win", "cifs", "/mnt/win", THIS_HOST, "nobrl"),
    ],
)
def test_filesystem_types_and_lock_reach(
    mounts: list[Filesystem], path: str, kind: str, point: str, scope: str, why: str
) -> None:
    mount = mount_of(path, mounts)
    assert (mount.type, mount.mount_point) == (kind, point)
    found_scope, found_why = mount.lock_scope()
    assert found_scope == scope and why in found_why


def test_mountinfo_fields(mounts: list[Filesystem]) -> None:
    assert len(mounts) == 16  # the malformed line is skipped
    home = mount_of("/home/x", mounts)
    assert home.source == "srv:/home" and home.option("vers") == "4.2" and home.option("hard") == ""
    assert home.option("nolock") is None and home.network
    assert not mount_of("/", mounts).network and mount_of("/mnt/remote", mounts).network
    assert unescape(r"/a\040b\011c\134d") == "/a b\tc\\d" and unescape(r"/x\0") == r"/x\0"
    assert mount_of("/anything", []).type == "unknown"


def test_lock_error_meanings() -> None:
    assert lock_error_meaning(errno.ENOSYS).startswith("ENOSYS: this filesystem does not implement flock")
    assert lock_error_meaning(OSError(errno.ENOLCK, "x")).startswith("ENOLCK: no locks available")
    assert lock_error_meaning(99999).startswith("errno 99999: ")
    lustre = Filesystem("lustre", "/scratch")
    assert lustre.lock_error(errno.ENOSYS).endswith("(lustre on /scratch)")


@pytest.mark.skipif(not LINUX, reason="mountinfo is Linux's")
def test_filesystem_of_a_path_not_made_yet(tmp_path: Path) -> None:
    assert filesystem_of(str(tmp_path / "not" / "yet")) == filesystem_of(str(tmp_path))
