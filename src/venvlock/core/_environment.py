"""What an environment is: its folder, its interpreter, where its packages and locks live.

Plain ``os``/``sys`` only: this module is on the fast path.
"""

from __future__ import annotations

import os
import sys

from venvlock.errors import SettingError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

_WINDOWS = sys.platform == "win32"
_BIN = "Scripts" if _WINDOWS else "bin"
_PYTHON = "python.exe" if _WINDOWS else "python"

#: the kinds of environment venvlock knows
VENV, TARGET, PREFIX, INTERPRETER = "venv", "target", "prefix", "interpreter"


def user_cache_dir() -> str:
    """The per-user cache folder of venvlock (``VENVLOCK_CACHE_DIR`` overrides it)."""
    explicit = os.environ.get("VENVLOCK_CACHE_DIR")
    if explicit:
        return explicit
    if _WINDOWS:
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "venvlock")


def short_digest(text: str) -> str:
    """A short, stable, filesystem-safe digest of *text*."""
    try:  # the builtin module: importing hashlib (OpenSSL) costs more than the whole fast path's hashing
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:
            from hashlib import sha256  # type: ignore[assignment,unused-ignore]
    return str(sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:20])


def read_pyvenv_cfg(folder: str) -> dict[str, str] | None:
    """The keys of ``<folder>/pyvenv.cfg``, or None when *folder* is not a virtual environment."""
    try:
        with open(os.path.join(folder, "pyvenv.cfg"), encoding="utf-8") as file:
            text = file.read()
    except OSError:
        return None
    config: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            config[key.strip().lower()] = value.strip()
    return config


def display_path(path: str) -> str:
    """*path* as a user would type it: relative to the working folder when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative


class Environment:
    """A Python environment that venvlock locks and syncs.

    :param path: the environment's folder (a venv, a ``--target``/``--prefix``
        folder) or, for an interpreter outside any venv, its ``sys.prefix``.
    :param kind: one of ``"venv"``, ``"target"``, ``"prefix"``, ``"interpreter"``.
    :param python: the interpreter that runs the installer (for a venv, its own).
    """

    __slots__ = ("kind", "path", "python")

    def __init__(self, path: str, *, kind: str = VENV, python: str | None = None) -> None:
        self.path = os.path.abspath(path)
        self.kind = kind
        self.python = python or (os.path.join(self.path, _BIN, _PYTHON) if kind == VENV else sys.executable)

    def __repr__(self) -> str:
        return f"Environment({self.path!r}, kind={self.kind!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Environment) and (self.path, self.kind) == (other.path, other.kind)

    def __hash__(self) -> int:
        return hash((self.path, self.kind))

    @property
    def name(self) -> str:
        """How messages name this environment (``.venv``, ``.nox/tests``, an absolute path)."""
        return display_path(self.path)

    @staticmethod
    def is_venv(folder: str) -> bool:
        """Whether *folder* is a virtual environment (it has a ``pyvenv.cfg``)."""
        return read_pyvenv_cfg(folder) is not None

    @classmethod
    def for_venv(cls, path: str) -> Environment:
        """The virtual environment at *path* (it need not exist yet)."""
        return cls(path, kind=VENV)

    @classmethod
    def for_folder(cls, path: str, kind: str, python: str | None = None) -> Environment:
        """A ``--target`` (kind ``"target"``) or ``--prefix`` (kind ``"prefix"``) folder."""
        return cls(path, kind=kind, python=python)

    @classmethod
    def for_python(cls, python: str) -> Environment:
        """The environment of interpreter *python*: its venv, or the interpreter itself.

        *python* may also be a venv folder (pip's ``--python`` accepts both).
        Raises :class:`~venvlock.errors.SettingError` when *python* is not a
        Python interpreter (an interpreter outside any venv, not the running
        one, is asked for its ``sys.prefix``: that proves it is one).
        """
        if os.path.isdir(python):
            if read_pyvenv_cfg(python) is not None:
                return cls.for_venv(python)
            inside = os.path.join(python, _BIN, _PYTHON)
            if not os.path.isfile(inside):
                raise SettingError(f"{python} is neither a Python interpreter nor an environment with one")
            python = inside
        absolute = os.path.abspath(python)
        if not os.path.isfile(absolute) or not os.access(absolute, os.X_OK):
            raise SettingError(f"{python}: no such Python interpreter (not an executable file)")
        folder = os.path.dirname(os.path.dirname(absolute))
        if read_pyvenv_cfg(folder) is not None:
            return cls(folder, kind=VENV, python=absolute)
        if os.path.realpath(absolute) == os.path.realpath(sys.executable):
            return cls(sys.prefix, kind=INTERPRETER, python=absolute)
        return cls(_probe_prefix(absolute), kind=INTERPRETER, python=absolute)

    @classmethod
    def current(cls) -> Environment:
        """The environment pip would change: ``$VIRTUAL_ENV``, else the running interpreter's.

        A ``VIRTUAL_ENV`` that names no virtual environment is an error, not a fallback.
        """
        virtual_env = os.environ.get("VIRTUAL_ENV")
        if virtual_env:
            if not os.path.isdir(virtual_env):
                raise SettingError(f"VIRTUAL_ENV={virtual_env} names no folder (activate an existing environment)")
            if read_pyvenv_cfg(virtual_env) is None:
                raise SettingError(f"VIRTUAL_ENV={virtual_env} is not a virtual environment (it has no pyvenv.cfg)")
            return cls.for_venv(virtual_env)
        return cls.for_python(sys.executable)

    def config_prefix(self) -> str:
        """The ``sys.prefix`` of the interpreter that runs pip here: where pip reads its site ``pip.conf``."""
        if self.kind in (VENV, INTERPRETER):
            return self.path
        folder = os.path.dirname(os.path.dirname(os.path.abspath(self.python)))
        if read_pyvenv_cfg(folder) is not None:
            return folder
        return sys.prefix if os.path.realpath(self.python) == os.path.realpath(sys.executable) else folder

    def has_pip(self) -> bool:
        """Whether the environment's interpreter can run ``-m pip`` itself (a venv may have no pip)."""
        if self.kind == VENV or read_pyvenv_cfg(self.config_prefix()) is not None:
            return any(os.path.isdir(os.path.join(d, "pip")) for d in _venv_site_dirs(self.config_prefix()))
        return True  # an interpreter outside a venv: its pip may be anywhere on its path; let it say

    # ---------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether the folder is there (not whether it is complete)."""
        return os.path.isdir(self.path)

    def default_lock_path(self) -> str:
        """uv's lock file: ``<env>/.lock``; for a bare interpreter, one in the user cache."""
        if self.kind == INTERPRETER:
            return os.path.join(user_cache_dir(), "locks", short_digest(os.path.realpath(self.path)) + ".lock")
        return os.path.join(self.path, ".lock")

    def default_creation_lock_path(self) -> str:
        """The creation lock, beside the folder: ``<parent>/.<name>.create.lock`` (``.venv.create.lock``)."""
        parent, name = os.path.split(self.path.rstrip(os.sep))
        return os.path.join(parent, f"{name if name.startswith('.') else '.' + name}.create.lock")

    def record_dir(self) -> str:
        """Where venvlock records what it synced (inside the env, so it goes with the env)."""
        if self.kind == INTERPRETER:
            return os.path.join(user_cache_dir(), "records", short_digest(os.path.realpath(self.path)))
        return os.path.join(self.path, ".venvlock")

    def site_dirs(self) -> list[str] | None:
        """The environment's own install scheme (purelib/platlib), or None when it cannot be judged from them.

        Only a virtual environment without system site-packages is judged,
        and only while nothing outside its scheme can change what pip sees as
        installed: with ``PYTHONPATH`` set, a bare interpreter (user site,
        distribution folders), ``--target``/``--prefix`` folders, the answer
        is None and the installer decides.  Nothing outside these folders is
        ever read as installed, recorded or repaired.
        """
        if self.kind != VENV or any(os.environ.get("PYTHONPATH", "").split(os.pathsep)):
            return None
        config = read_pyvenv_cfg(self.path)
        if config is None or config.get("include-system-site-packages", "false").strip().lower() != "false":
            return None
        unique: list[str] = []
        for folder in _venv_site_dirs(self.path):
            real = os.path.realpath(folder)
            if real not in unique and os.path.isdir(real):
                unique.append(real)
        return unique


def _venv_site_dirs(root: str) -> Iterator[str]:
    if _WINDOWS:
        yield os.path.join(root, "Lib", "site-packages")
        return
    for lib in ("lib", "lib64"):
        base = os.path.join(root, lib)
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            if name.startswith(("python", "pypy")):
                yield os.path.join(base, name, "site-packages")


def _probe_prefix(python: str) -> str:
    """``sys.prefix`` of the interpreter *python*; SettingError when it is not a Python interpreter."""
    import subprocess

    try:
        answer = subprocess.run(
            [python, "-I", "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise SettingError(f"{python} is not a Python interpreter ({error})") from None
    prefix = answer.stdout.strip()
    if answer.returncode != 0 or not prefix or not os.path.isabs(prefix):
        raise SettingError(f"{python} is not a Python interpreter")
    return prefix
