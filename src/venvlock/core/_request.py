"""What is asked of an environment: pip install arguments, read the way pip reads them.

This module decides, without importing ``packaging``, whether a request is
made only of things the in-process check can judge exactly (requirement
specifiers, ``-r``/``-c`` files, options that do not change what counts as
installed), and which files' contents it depends on.  Everything else goes
to the installer.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# pip install options that take a value and do not change whether installed packages satisfy a request
_HARMLESS_WITH_VALUE = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--only-binary",
    "--no-binary", "--progress-bar", "--root-user-action", "--log", "--log-file", "--local-log", "--timeout",
    "--retries", "--proxy", "--cert", "--client-cert", "--cache-dir", "--exists-action", "--keyring-provider",
    "--use-feature", "--use-deprecated", "-C", "--config-settings", "--global-option", "--build-option",
    "--src", "--resume-retries", "--python",
}  # fmt: skip
# flags of the same kind
_HARMLESS_FLAGS = {
    "-q", "--quiet", "-v", "--verbose", "--no-index", "--pre", "--prefer-binary", "--no-build-isolation",
    "--no-cache-dir", "--disable-pip-version-check", "--no-color", "--no-input", "--isolated",
    "--no-warn-script-location", "--no-warn-conflicts", "--no-compile", "--compile", "--require-virtualenv",
    "--break-system-packages", "--use-pep517", "--no-use-pep517", "--no-clean", "--check-build-dependencies",
    "--no-python-version-warning", "--debug",
}  # fmt: skip
# options whose meaning the check cannot reproduce: the installer decides
_INSTALLER_ONLY_WITH_VALUE = {
    "-e", "--editable", "-t", "--target", "--prefix", "--root", "--upgrade-strategy", "--report", "--group",
    "--platform", "--python-version", "--implementation", "--abi", "--hash",
}  # fmt: skip
_INSTALLER_ONLY_FLAGS = {
    "-U", "--upgrade", "--force-reinstall", "--no-deps", "-I", "--ignore-installed", "--ignore-requires-python",
    "--user", "--dry-run", "--require-hashes", "--only-deps",
}  # fmt: skip
_FILE_OPTIONS = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
}
_WITH_VALUE = _HARMLESS_WITH_VALUE | _INSTALLER_ONLY_WITH_VALUE | set(_FILE_OPTIONS)
_SHORT_WITH_VALUE = {o[1] for o in _WITH_VALUE if len(o) == 2}
_SHORT_FLAGS = {o[1] for o in _HARMLESS_FLAGS | _INSTALLER_ONLY_FLAGS if len(o) == 2}

# pip settings (PIP_<NAME> variables, config file keys) that the check cannot reproduce
_INSTALLER_ONLY_SETTINGS = {
    "upgrade", "force-reinstall", "no-deps", "ignore-installed", "target", "prefix", "user", "root",
    "editable", "requirement", "upgrade-strategy", "dry-run", "report", "require-hashes", "group",
    "ignore-requires-python", "only-deps",
}  # fmt: skip


class SyncRequest:
    """One request to sync an environment.

    :param args: pip ``install`` arguments after the word ``install``
        (requirement specifiers, ``-r``/``-c`` files, options), or the
        arguments of another pip command named by *command*.
    :param command: the pip command (``"install"``, ``"uninstall"``).
    :param cwd: the folder relative paths are read from (default: the working folder).
    :param installer: the adapter's own way to install (hatch's or nox's), a
        callable returning an exit code; None to let the
        ``venvlock_install`` hook choose (pip by default).
    :param quiet: no waiting line and no "Checked" line.
    :param purpose: how a waiting process names this holder (default: this command line).
    :param judge: False when only the installer can say whether anything is to do.
    :param installer_takes_lock: the installer takes the environment lock ``<env>/.lock`` itself (uv):
        the core lends it that lock while it runs and keeps venvlock's sync lock (see ``LockHold.lend``).
    """

    __slots__ = ("args", "command", "cwd", "installer", "installer_takes_lock", "judge", "purpose", "quiet")

    def __init__(
        self,
        args: list[str],
        *,
        command: str = "install",
        cwd: str | None = None,
        installer: Callable[[], int] | None = None,
        quiet: bool = False,
        purpose: str | None = None,
        judge: bool = True,
        installer_takes_lock: bool = False,
    ) -> None:
        self.args = list(args)
        self.command = command
        self.cwd = cwd or os.getcwd()
        self.installer = installer
        self.quiet = quiet
        self.purpose = purpose
        self.judge = judge
        self.installer_takes_lock = installer_takes_lock

    def __repr__(self) -> str:
        return f"SyncRequest({self.args!r}, command={self.command!r})"


class ParsedRequest:
    """A request read the way pip reads it.

    :ivar requirements: requirement strings with where they came from.
    :ivar constraints: constraint strings with where they came from.
    :ivar files: every ``-r``/``-c``/config-named file read, with its content.
    :ivar unjudgeable: why the check cannot judge this request (empty: it can).
    :ivar settings: pip's settings in force (variables and configuration files).
    """

    __slots__ = ("constraints", "files", "requirements", "settings", "unjudgeable")

    def __init__(self, settings: PipSettings) -> None:
        self.requirements: list[tuple[str, str]] = []
        self.constraints: list[tuple[str, str]] = []
        self.files: list[tuple[str, str]] = []
        self.unjudgeable = settings.unjudgeable
        self.settings = settings


def split_options(args: list[str]) -> Iterator[tuple[str, str | None]]:
    """Yield ``(option, value)`` and ``("", positional)`` from pip-style *args*.

    Knows which options take a value; ``--opt=value``, ``-rfile`` and bundled
    short flags (``-qU``) are understood.  Unknown long options are yielded
    with value None.
    """
    items = iter(args)
    for arg in items:
        if arg == "--":
            for rest in items:
                yield "", rest
        elif arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if eq:
                yield name, value
            elif name in _WITH_VALUE:
                yield name, next(items, "")
            else:
                yield name, None
        elif arg.startswith("-") and len(arg) > 1:
            chars = arg[1:]
            for index, char in enumerate(chars):
                if char in _SHORT_WITH_VALUE:
                    rest = chars[index + 1 :]
                    yield f"-{char}", rest if rest else next(items, "")
                    break
                yield f"-{char}", None
        else:
            yield "", arg


def _expand_env(line: str) -> str:
    """Expand ``${NAME}`` as pip does in requirement files."""
    start = line.find("${")
    while start != -1:
        end = line.find("}", start)
        if end == -1:
            break
        name = line[start + 2 : end]
        if name and all(c.isupper() or c.isdigit() or c == "_" for c in name):
            value = os.environ.get(name)
            if value is not None:
                line = line[:start] + value + line[end + 1 :]
                start = line.find("${", start + len(value))
                continue
        start = line.find("${", end)
    return line


def logical_lines(text: str) -> Iterator[str]:
    """The logical lines of a requirements file: comments dropped, continuations joined."""
    pending = ""
    for raw in text.splitlines():
        line = raw
        if line.startswith("#") or " #" in line or "\t#" in line:
            cut = 0 if line.startswith("#") else min(i for i in (line.find(" #"), line.find("\t#")) if i != -1)
            line = line[:cut]
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            yield _expand_env(line)
    if pending.strip():
        yield _expand_env(pending.strip())


def looks_like_path_or_url(text: str) -> bool:
    """Whether a requirement is a local path, an archive or a URL (only the installer judges those)."""
    lowered = text.lower()
    return (
        "://" in text
        or "@" in text.split(";")[0]
        or text.startswith((".", "/", "~"))
        or os.sep in text.split(";")[0]
        or "/" in text.split(";")[0]
        or lowered.endswith((".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2"))
        or text.startswith("file:")
    )


def parse_request(args: list[str], cwd: str) -> ParsedRequest:
    """Read pip install *args* (and the pip settings in force) into a :class:`ParsedRequest`."""
    settings = pip_settings(args)
    parsed = ParsedRequest(settings)
    for path in settings.constraint_files:
        _read_file(parsed, "constraint", path, os.getcwd(), set())
    _read_args(parsed, list(split_options(args)), cwd, "command line", set())
    if not parsed.requirements and not parsed.unjudgeable:
        parsed.unjudgeable = "nothing to install was named"
    return parsed


def _read_args(
    parsed: ParsedRequest, options: list[tuple[str, str | None]], base: str, origin: str, seen: set[str]
) -> None:
    for option, value in options:
        if option == "":
            assert value is not None
            if looks_like_path_or_url(value):
                parsed.unjudgeable = parsed.unjudgeable or f"{value!r} is a path or URL"
            parsed.requirements.append((value, origin))
        elif option in _FILE_OPTIONS:
            _read_file(parsed, _FILE_OPTIONS[option], value or "", base, seen)
        elif option in _HARMLESS_FLAGS or option in _HARMLESS_WITH_VALUE:
            continue
        elif option in _INSTALLER_ONLY_FLAGS or option in _INSTALLER_ONLY_WITH_VALUE:
            parsed.unjudgeable = parsed.unjudgeable or f"{option} is for the installer to judge"
        else:
            parsed.unjudgeable = parsed.unjudgeable or f"unknown option {option}"


def _read_file(parsed: ParsedRequest, kind: str, name: str, base: str, seen: set[str]) -> None:
    if "://" in name:
        parsed.unjudgeable = parsed.unjudgeable or f"{name} is a URL"
        return
    path = os.path.normpath(os.path.join(base, os.path.expanduser(name)))
    if path in seen:
        return
    seen.add(path)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        # pip reports this with its own message and exit code
        parsed.unjudgeable = parsed.unjudgeable or f"cannot read {name}: {error}"
        return
    parsed.files.append((path, text))
    folder = os.path.dirname(path)
    for line in logical_lines(text):
        if line.startswith("-"):
            options = list(split_options(line.split()))
            if kind == "constraint":  # nested -r inside a -c file is still a constraint file
                options = [("-c", v) if o in _FILE_OPTIONS else (o, v) for o, v in options]
            _read_args(parsed, options, folder, path, seen)
            continue
        requirement, _, line_options = line.partition(" -")
        requirement, _, line_options2 = requirement.partition(" --")
        rest = (line_options + line_options2).strip()
        if rest:
            hashed = "hash" in rest
            parsed.unjudgeable = parsed.unjudgeable or ("--hash pins" if hashed else f"options on {requirement!r}")
        if looks_like_path_or_url(requirement.strip()):
            parsed.unjudgeable = parsed.unjudgeable or f"{requirement.strip()!r} is a path or URL"
        target = parsed.constraints if kind == "constraint" else parsed.requirements
        target.append((requirement.strip(), path))


# --------------------------------------------------------------------------------------------------
# pip's own settings: PIP_* variables and configuration files
# --------------------------------------------------------------------------------------------------
class PipSettings:
    """The parts of pip's configuration that change what a request means.

    :ivar fingerprint: text that changes when any of it changes.
    :ivar constraint_files: constraint files named by configuration.
    :ivar unjudgeable: a setting the check cannot reproduce, or "".
    """

    __slots__ = ("constraint_files", "fingerprint", "unjudgeable")

    def __init__(self) -> None:
        self.fingerprint: list[str] = []
        self.constraint_files: list[str] = []
        self.unjudgeable = ""


def pip_config_files() -> list[str]:
    """pip's configuration files, in its order (global, user, site), plus ``PIP_CONFIG_FILE``."""
    home = os.path.expanduser("~")
    files: list[str] = []
    if os.name == "nt":
        files.append(os.path.join(os.environ.get("PROGRAMDATA", "C:\\ProgramData"), "pip", "pip.ini"))
        appdata = os.environ.get("APPDATA", os.path.join(home, "AppData", "Roaming"))
        files += [os.path.join(appdata, "pip", "pip.ini"), os.path.join(home, "pip", "pip.ini")]
    else:
        xdg_dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
        files += [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs.split(os.pathsep) if d]
        files.append("/etc/pip.conf")
        xdg_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        files += [os.path.join(home, ".pip", "pip.conf"), os.path.join(xdg_home, "pip", "pip.conf")]
        if sys.platform == "darwin":
            files.append(os.path.join(home, "Library", "Application Support", "pip", "pip.conf"))
    virtual_env = os.environ.get("VIRTUAL_ENV")
    if virtual_env:
        files.append(os.path.join(virtual_env, "pip.ini" if os.name == "nt" else "pip.conf"))
    return files


def _config_items(text: str) -> Iterator[tuple[str, str, str]]:
    """``(section, key, value)`` of an ini file, continuation lines joined."""
    section, key, value = "", "", ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if raw[:1] in (" ", "\t") and key:
            value += " " + stripped
            continue
        if key:
            yield section, key, value
            key = ""
        if stripped.startswith("["):
            section = stripped.strip("[]").strip().lower()
            continue
        cut = min((i for i in (stripped.find("="), stripped.find(":")) if i != -1), default=-1)
        if cut != -1:
            key, value = stripped[:cut].strip().lower().replace("_", "-"), stripped[cut + 1 :].strip()
    if key:
        yield section, key, value


def pip_settings(args: list[str]) -> PipSettings:
    """Collect pip's settings that matter for judging a request (cheap: no imports)."""
    settings = PipSettings()
    isolated = "--isolated" in args
    environ = {} if isolated else os.environ
    for name in sorted(environ):
        if name.startswith("PIP_"):
            value = environ[name]
            settings.fingerprint.append(f"env {name}={value}")
            key = name[4:].lower().replace("_", "-")
            if key in _INSTALLER_ONLY_SETTINGS:
                settings.unjudgeable = settings.unjudgeable or f"{name} is set"
            elif key == "constraint":
                settings.constraint_files.extend(value.split())
    config_file = environ.get("PIP_CONFIG_FILE")
    files = [] if isolated or config_file == os.devnull else pip_config_files() + ([config_file] if config_file else [])
    for path in files:
        text = _read_text(path)
        if text is None:
            continue
        settings.fingerprint.append(f"config {path}\n{text}")
        for section, key, value in _config_items(text):
            if section not in ("global", "install"):
                continue
            if key in _INSTALLER_ONLY_SETTINGS:
                settings.unjudgeable = settings.unjudgeable or f"{key} is set in {path}"
            elif key == "constraint":
                settings.constraint_files.extend(value.split())
    return settings


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return None
