"""What an environment is: its folder, its interpreter, where its packages and locks live.

Plain ``os``/``sys`` only: this module is on the fast path.
"""

from __future__ import annotations

import os
import sys

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
        """
        if os.path.isdir(python):
            if read_pyvenv_cfg(python) is not None:
                return cls.for_venv(python)
            python = os.path.join(python, _BIN, _PYTHON)
        absolute = os.path.abspath(python)
        folder = os.path.dirname(os.path.dirname(absolute))
        if read_pyvenv_cfg(folder) is not None:
            return cls(folder, kind=VENV, python=absolute)
        if os.path.realpath(absolute) == os.path.realpath(sys.executable):
            return cls(sys.prefix, kind=INTERPRETER, python=absolute)
        return cls(folder, kind=INTERPRETER, python=absolute)

    @classmethod
    def current(cls) -> Environment:
        """The environment pip would change: ``$VIRTUAL_ENV``, else the running interpreter's."""
        virtual_env = os.environ.get("VIRTUAL_ENV")
        if virtual_env and read_pyvenv_cfg(virtual_env) is not None:
            return cls.for_venv(virtual_env)
        return cls.for_python(sys.executable)

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
        """The folders whose distributions count as installed, or None when that is not known exactly.

        Known for a venv without system site-packages, and for the running
        interpreter.  ``PYTHONPATH`` folders are included, as pip sees them.
        """
        found: list[str] = []
        if self.kind == VENV:
            config = read_pyvenv_cfg(self.path)
            if config is None or config.get("include-system-site-packages", "false").lower() == "true":
                return None
            found.extend(_venv_site_dirs(self.path))
        elif self.kind == INTERPRETER and os.path.realpath(self.python) == os.path.realpath(sys.executable):
            found.extend(p for p in sys.path if p and os.path.isdir(p) and not p.endswith(".zip"))
        else:
            return None
        found.extend(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
        unique: list[str] = []
        seen: set[str] = set()
        for folder in found:
            real = os.path.realpath(folder)
            if real not in seen and os.path.isdir(real):
                seen.add(real)
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
