"""What an environment is: its folder, its interpreter, where its packages and locks live.

Plain ``os``/``sys``: on the fast path.
"""

from __future__ import annotations

import enum
import os
import sys

from venvlock.core._settings import cache_dir
from venvlock.errors import SettingError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from venvlock.core._scheme import Scheme

_WINDOWS = sys.platform == "win32"
_BIN = "Scripts" if _WINDOWS else "bin"
_PYTHON = "python.exe" if _WINDOWS else "python"
#: venvlock's sync lock is its environment lock's name and this (:meth:`Environment.sync_lock_path`)
SYNC_SUFFIX = ".sync"


class EnvironmentKind(enum.Enum):
    """What an environment is: a venv, a ``--target`` or ``--prefix`` folder, or an interpreter outside any venv."""

    VENV = "venv"
    TARGET = "target"
    PREFIX = "prefix"
    INTERPRETER = "interpreter"

    def __str__(self) -> str:
        return self.value


#: the longest hidden sibling name (:func:`hidden_sibling`) before it is shortened: room is left under the 255
#: bytes a file name may have for what is added to it (``.holder.<pid>``, a temporary file's ``.<pid>.<n>.tmp``)
SIBLING_NAME_MAX = 160


def hidden_sibling(folder: str, suffix: str) -> str:
    """``<parent>/.<name><suffix>`` beside *folder* (``.venv.create.lock``, ``.py.incomplete``): the one spelling of
    the files venvlock keeps beside an environment folder.

    A name whose hidden form would pass :data:`SIBLING_NAME_MAX` bytes (nox hashes a long session name only under a
    short ``--envdir``; a tool may allow 255 bytes) keeps its first bytes and a digest of the whole, so the file
    can be made wherever the folder can.
    """
    parent, name = os.path.split(folder)
    hidden = name if name.startswith(".") else f".{name}"
    encoded = os.fsencode(hidden)
    if len(encoded) + len(os.fsencode(suffix)) > SIBLING_NAME_MAX:
        keep = SIBLING_NAME_MAX - len(os.fsencode(suffix)) - 21  # "-" and 20 characters of digest
        head = encoded[:keep].decode("utf-8", "ignore")  # whole characters only
        hidden = f"{head}-{short_digest(hidden)}"
    return os.path.join(parent, hidden + suffix)


def short_digest(text: str) -> str:
    """A short, stable, filesystem-safe digest of *text*."""
    from venvlock._fast import digest

    return digest(text)[:20]


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
    """A Python environment that venvlock locks and syncs: *path* is its folder (for an interpreter outside any
    venv, its ``sys.prefix``), *python* the interpreter that runs the installer (for a venv, its own)."""

    __slots__ = ("_scheme", "kind", "path", "python")

    def __init__(
        self, path: str, *, kind: EnvironmentKind | str = EnvironmentKind.VENV, python: str | None = None
    ) -> None:
        self.path = os.path.abspath(path)
        self.kind = EnvironmentKind(kind)
        self.python = python or (
            os.path.join(self.path, _BIN, _PYTHON) if self.kind is EnvironmentKind.VENV else sys.executable
        )
        self._scheme: Scheme | None = None

    def __repr__(self) -> str:
        return f"Environment({self.path!r}, kind={self.kind.value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Environment) and (self.path, self.kind) == (other.path, other.kind)

    def __hash__(self) -> int:
        return hash((self.path, self.kind))

    @property
    def name(self) -> str:
        """How messages name this environment (``.venv``, ``.nox/tests``, an absolute path)."""
        return display_path(self.path)

    @property
    def root(self) -> str:
        """The environment's folder with every symbolic link resolved, as its package folders are."""
        return os.path.realpath(self.path)

    @staticmethod
    def is_venv(folder: str) -> bool:
        """Whether *folder* is a virtual environment (it has a ``pyvenv.cfg``)."""
        return read_pyvenv_cfg(folder) is not None

    @classmethod
    def for_venv(cls, path: str) -> Environment:
        """The virtual environment at *path* (it need not exist yet)."""
        return cls(path, kind=EnvironmentKind.VENV)

    @classmethod
    def for_folder(cls, path: str, kind: EnvironmentKind | str, python: str | None = None) -> Environment:
        """A ``--target`` (kind ``"target"``) or ``--prefix`` (kind ``"prefix"``) folder."""
        return cls(path, kind=kind, python=python)

    @classmethod
    def for_python(cls, python: str) -> Environment:
        """The environment of interpreter (or venv folder, as pip's ``--python``) *python*: its venv, or itself.

        An interpreter outside any venv is asked once for its ``sys.prefix`` and scheme, as pip asks the
        interpreter it installs for: its real path says nothing (a venv's python links to its base interpreter).
        SettingError when *python* is not a Python interpreter.
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
            return cls(folder, kind=EnvironmentKind.VENV, python=absolute)
        from venvlock.core._scheme import Scheme

        scheme = Scheme.of_interpreter(absolute)
        if scheme.prefix != scheme.base_prefix and read_pyvenv_cfg(scheme.prefix) is not None:
            return cls(scheme.prefix, kind=EnvironmentKind.VENV, python=absolute)  # a venv's python installed elsewhere
        environment = cls(scheme.prefix, kind=EnvironmentKind.INTERPRETER, python=absolute)
        environment._scheme = scheme
        return environment

    @classmethod
    def current(cls) -> Environment:
        """The environment pip would change: ``$VIRTUAL_ENV`` (one that names no venv is an error, not a fallback),
        else the running interpreter's."""
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
        if self.kind in (EnvironmentKind.VENV, EnvironmentKind.INTERPRETER):
            return self.path
        folder = os.path.dirname(os.path.dirname(os.path.abspath(self.python)))
        if read_pyvenv_cfg(folder) is not None:
            return folder
        from venvlock.core._scheme import Scheme

        return Scheme.of_interpreter(self.python).prefix

    def has_pip(self) -> bool:
        """Whether the environment's interpreter can run ``-m pip`` itself (a venv may have no pip)."""
        if self.kind == EnvironmentKind.VENV or read_pyvenv_cfg(self.config_prefix()) is not None:
            return any(os.path.isdir(os.path.join(d, "pip")) for d in _venv_site_dirs(self.config_prefix()))
        return True  # an interpreter outside a venv: its pip may be anywhere on its path; let it say

    def pip_command(self) -> list[str]:
        """How to run pip for this environment: its own ``python -m pip``, else (a venv made by ``uv venv`` or
        ``--without-pip``) venvlock's interpreter's pip with ``--python``, pip's own pip-less route."""
        if self.has_pip():
            return [self.python, "-m", "pip"]
        return [sys.executable, "-m", "pip", "--python", self.python]

    def exists(self) -> bool:
        """Whether the folder is there (not whether it is complete)."""
        return os.path.isdir(self.path)

    def _in_cache(self, folder: str, suffix: str = "") -> str:
        """A bare interpreter's file in venvlock's user cache: named by the digest of its real prefix."""
        return os.path.join(cache_dir(), folder, short_digest(os.path.realpath(self.path)) + suffix)

    def default_lock_path(self) -> str:
        """uv's lock file: ``<env>/.lock``; for a bare interpreter, one in the user cache."""
        return (
            self._in_cache("locks", ".lock")
            if self.kind == EnvironmentKind.INTERPRETER
            else os.path.join(self.path, ".lock")
        )

    def sync_lock_path(self, lock_path: str) -> str:
        """venvlock's sync lock for the environment lock *lock_path* (venvlock's processes take it first):
        ``<lock>.sync`` beside it; for uv's ``.lock`` of a ``--target``/``--prefix`` folder, in the user cache:
        such a folder is copied whole (``COPY --from=build /install /usr/local``, a zip of a ``--target``), and
        venvlock leaves nothing in it but the file uv leaves there too."""
        if self.kind in (EnvironmentKind.TARGET, EnvironmentKind.PREFIX) and lock_path == self.default_lock_path():
            return self._in_cache("locks", ".lock" + SYNC_SUFFIX)
        return lock_path + SYNC_SUFFIX

    def default_creation_lock_path(self) -> str:
        """The creation lock, beside the folder: ``<parent>/.<name>.create.lock`` (``.venv.create.lock``); an
        interpreter's (never created by venvlock's users) in the user cache, never at ``/.usr.create.lock``.

        A folder that is a symbolic link has its target's lock, beside the target: one environment, one creation
        lock, whichever path names it (a run through the link and one through the real path take turns).
        """
        if self.kind == EnvironmentKind.INTERPRETER:
            return self._in_cache("locks", ".create.lock")
        folder = self.path.rstrip(os.sep) or os.sep
        if os.path.islink(folder):
            folder = os.path.realpath(folder)
        return hidden_sibling(folder, ".create.lock")

    def record_dir(self) -> str:
        """Where venvlock records what it synced, keeps its journal and caches: inside a venv, so it goes with the
        venv; for an interpreter, a ``--target`` or a ``--prefix`` folder (copied whole into images and
        archives), in the user cache."""
        return os.path.join(self.path, ".venvlock") if self.kind == EnvironmentKind.VENV else self._in_cache("records")

    def scheme(self) -> Scheme:
        """Where this environment's installer puts things (see :class:`Scheme`): on disk for a venv, else asked."""
        if self._scheme is None:
            from venvlock.core._scheme import Scheme

            if self.kind is EnvironmentKind.TARGET:
                self._scheme = Scheme(self.path, self.path, [self.path], [], [])
            elif self.kind is EnvironmentKind.INTERPRETER:
                self._scheme = Scheme.of_interpreter(self.python)
            else:  # a venv, or a --prefix folder: the same layout
                root = self.root
                scripts = os.path.join(root, _BIN)
                self._scheme = Scheme(root, root, list(_venv_site_dirs(root)), [scripts, root], [])
        return self._scheme

    def site_folders(self) -> list[str]:
        """The environment's package folders (purelib/platlib, an interpreter's site folders), real and existing:
        the one answer check, record, verify and repair use.  Never ``PYTHONPATH`` or the user site."""
        return self.scheme().site_folders()

    def package_folders(self) -> list[str]:
        """The package folders of the environment's own install scheme (purelib/platlib), real and existing: what
        its installer writes to, without the interpreter's other site folders (Debian's ``dist-packages``, which
        apt manages): the only folders venvlock ever removes a distribution from."""
        return self.scheme().package_folders()

    def site_folders_to_judge(self) -> list[str] | None:
        """The package folders the in-process check may judge, or None (the installer decides).

        Only a venv without system site-packages, and only while nothing outside its scheme can change what pip
        sees as installed: not with ``PYTHONPATH`` set, not a bare interpreter (user site, distribution folders),
        not ``--target``/``--prefix`` folders.
        """
        if self.kind is not EnvironmentKind.VENV or any(os.environ.get("PYTHONPATH", "").split(os.pathsep)):
            return None
        config = read_pyvenv_cfg(self.path)
        if config is None or config.get("include-system-site-packages", "false").strip().lower() != "false":
            return None
        return self.site_folders()


def _venv_site_dirs(root: str) -> Iterator[str]:
    if _WINDOWS:
        yield os.path.join(root, "Lib", "site-packages")
        return
    for lib in ("lib", "lib64"):
        base = os.path.join(root, lib)
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            if name.startswith(("python", "pypy")):
                yield os.path.join(base, name, "site-packages")
