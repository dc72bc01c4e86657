"""What venvlock knows of uv: the settings that make ``uv pip install`` do more than pip's reading of a request says.

When uv installs (``VENVLOCK_INSTALLER=uv``, nox's uv backend, hatch's
``installer = "uv"``, tox-uv), uv reads its own settings, not pip's: a
``UV_UPGRADE``, a ``[pip]`` table in a ``uv.toml`` or a top-level setting
there (``upgrade = true``; ``[tool.uv]`` of a ``pyproject.toml``, which
``uv pip`` reads too) changes what the request means.  Then the check cannot
judge, no record answers, and uv runs.  Imports no core module; plain ``os``
only (and ``tomllib`` when a configuration file has uv settings): on the
fast path when uv installs.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# uv settings that change what a request means.
# (UV_PYTHON and UV_PROJECT_ENVIRONMENT are absent on purpose: nox sets them to the session's venv.)
MEANINGFUL = (
    "UV_CONSTRAINT", "UV_OVERRIDE", "UV_EXCLUDE", "UV_BUILD_CONSTRAINT", "UV_NO_DEPS", "UV_REINSTALL",
    "UV_UPGRADE", "UV_UPGRADE_PACKAGE", "UV_REINSTALL_PACKAGE", "UV_RESOLUTION", "UV_PRERELEASE",
    "UV_TORCH_BACKEND", "UV_EXCLUDE_NEWER", "UV_SYSTEM_PYTHON", "UV_BREAK_SYSTEM_PACKAGES", "UV_TARGET",
    "UV_PREFIX", "UV_NO_EDITABLE", "UV_NO_SOURCES", "UV_WORKING_DIR", "UV_PROJECT",
)  # fmt: skip


#: pip's options (as pip spells them, aliases apart) that ``uv pip install`` stops on ("unexpected argument"; uv
#: 0.13): with one of them a request goes to uv, which says so, whatever is installed (never "Checked" for a
#: command stock uv rejects)
PIP_ONLY = frozenset({
    "--abi", "--all-releases", "--check-build-dependencies", "--client-cert", "--debug", "--default-timeout",
    "--exists-action", "--ignore-installed", "--ignore-requires-python", "--implementation", "--local-log", "--log",
    "--log-file", "--no-clean", "--no-dependencies", "--no-input", "--no-proxy-env", "--no-python-version-warning",
    "--no-user", "--no-warn-conflicts", "--no-warn-script-location", "--only-dependencies", "--only-deps",
    "--only-final", "--platform", "--prefer-binary", "--progress-bar", "--proxy", "--pypi-url", "--report",
    "--require-venv", "--require-virtualenv", "--requirements-from-script", "--resume-retries", "--retries", "--root",
    "--root-user-action", "--source", "--source-dir", "--source-directory", "--src", "--timeout",
    "--uploaded-prior-to", "--upgrade-strategy", "--use-deprecated", "--use-feature", "--use-pep517", "-I",
})  # fmt: skip


def pip_only_options(args: Sequence[str]) -> list[str]:
    """The options in *args* that ``uv pip install`` rejects (:data:`PIP_ONLY`), as spelled there."""
    return [arg.partition("=")[0] for arg in args if arg.partition("=")[0] in PIP_ONLY]


def runs_uv(command: Sequence[str]) -> bool:
    """Whether *command* runs uv, which takes ``<env>/.lock`` itself: ``uv``, ``uv.exe``, a path to one, or
    ``<python> -m uv`` (any interpreter's name)."""
    if not command:
        return False
    name = os.path.basename(command[0]).lower()
    return name.removesuffix(".exe") == "uv" or list(command[1:3]) == ["-m", "uv"]


def changes_meaning(environ: Mapping[str, str], cwd: str) -> bool:
    """Whether uv settings may make ``uv pip install`` do more than pip's reading of the request says."""
    if any(key in environ for key in MEANINGFUL) or "UV_CONFIG_FILE" in environ:
        return True
    return any(_has_settings(path) for path in settings_files(environ, cwd))


def settings_files(environ: Mapping[str, str], cwd: str) -> list[str]:
    """The uv configuration files :func:`changes_meaning` reads for *cwd*, present or not, in uv's order.

    The nearest ``uv.toml`` and ``pyproject.toml`` up from *cwd*, the user's
    ``uv.toml`` (``$XDG_CONFIG_HOME/uv``, ``~/.config/uv``; ``%APPDATA%\\uv``),
    the system's (``$XDG_CONFIG_DIRS/uv``, by default ``/etc/xdg/uv``, then ``/etc/uv``;
    ``%PROGRAMDATA%\\uv``); none with ``UV_NO_CONFIG``.  A proof that a request
    means the same as before (:mod:`venvlock._fast`) looks at each.
    """
    if "UV_NO_CONFIG" in environ:
        return []
    files = []
    folder = os.path.abspath(cwd)
    while True:
        files += [os.path.join(folder, "uv.toml"), os.path.join(folder, "pyproject.toml")]
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    folders = [environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")]
    if os.name == "nt":
        folders += [environ[name] for name in ("APPDATA", "PROGRAMDATA") if environ.get(name)]
    else:
        folders += [*filter(None, (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)), "/etc"]
    return [*files, *(os.path.join(folder, "uv", "uv.toml") for folder in folders)]


#: top-level uv settings that change nothing of what ``uv pip install`` makes of a request (where from, how fast,
#: the project commands' own); any other setting of a configuration file, or one that cannot be read, may
#: (``upgrade``, ``reinstall``, ``resolution``, ``constraint-dependencies``, the ``pip`` table, ...)
_HARMLESS = frozenset({
    "allow-insecure-host", "cache-dir", "compile-bytecode", "concurrent-builds", "concurrent-downloads",
    "concurrent-installs", "conflicts", "default-groups", "dev-dependencies", "environments", "extra-index-url",
    "find-links", "index", "index-strategy", "index-url", "keyring-provider", "link-mode", "managed", "native-tls",
    "no-cache", "no-index", "offline", "package", "preview", "python-downloads", "python-preference",
    "required-environments", "required-version", "workspace",
})  # fmt: skip


def _has_settings(path: str) -> bool:
    """Whether the uv configuration file *path* (a ``uv.toml``, or a ``pyproject.toml``'s ``[tool.uv]``) holds a
    setting that may change what ``uv pip install`` does; a file that is not there has none."""
    text = _read(path)
    if os.path.basename(path) == "pyproject.toml" and "uv" not in text:
        return False
    if not text.strip():
        return False
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # Python 3.10: no TOML reader; any uv setting may count
        return os.path.basename(path) == "uv.toml" or "tool.uv" in text.replace(" ", "") or "[tool]" in text
    try:
        settings = tomllib.loads(text)
    except ValueError:  # uv stops on it with its own error: uv's to say
        return True
    if os.path.basename(path) == "pyproject.toml":
        tool = settings.get("tool")
        settings = tool.get("uv") if isinstance(tool, dict) else None
        if settings is None:
            return False
    return not isinstance(settings, dict) or any(key not in _HARMLESS for key in settings)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return ""
