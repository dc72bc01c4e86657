"""pip install arguments and requirement files, read the way pip reads them.

This module decides, without importing ``packaging``, whether a request is
made only of things the in-process check can judge exactly (requirement
specifiers, ``-r``/``-c`` files, options that do not change what counts as
installed), and which inputs it depends on (files, variables, settings).
Everything else goes to the installer.  Requirement files are read as pip
26.3's ``req_file.py`` reads them: continuations joined, comments dropped,
``${VAR}`` expanded, ``-r`` inside any file read as requirements and ``-c``
as constraints, a file read again each time it is named.  Options come from
:mod:`venvlock._pip.options`, settings from :mod:`venvlock._pip.config`.
"""

from __future__ import annotations

import os
import stat

from venvlock._fast import RACY_NS
from venvlock._fast import signature as _signature
from venvlock._pip.config import PipSettings, config_files, read_settings
from venvlock._pip.options import (
    CONSTRAINT,
    FILE_TABLE,
    HARMLESS,
    INSTALL_TABLE,
    REQUIREMENT,
    Option,
    read_options,
    version_bound,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Protocol

    class Target(Protocol):
        """The environment pip installs into, as the reading needs it (``venvlock.core.Environment`` is one)."""

        @property
        def path(self) -> str: ...

        @property
        def python(self) -> str: ...

        def config_prefix(self) -> str: ...


class ParsedRequest:
    """A request read the way pip reads it.

    :ivar requirements: requirement strings with where they came from.
    :ivar constraints: constraint strings with where they came from.
    :ivar files: every ``-r``/``-c``/config-named file read, with its content.
    :ivar variables: every ``${NAME}`` a requirement file expands, with its value (None: unset).
    :ivar cannot_judge: why the check cannot judge this request (empty: it can).
    :ivar settings: pip's settings in force (variables and configuration files).
    :ivar environment_path: the environment it was read for (its ``pip.conf`` is among the inputs).
    :ivar inputs: every file the reading depends on, with its stat when looked at (None: absent).
    :ivar started_ns: the wall clock when the reading started.
    :ivar pip_variables: the ``PIP_*`` variables when it was read.
    :ivar version_bound: options only pip :data:`~venvlock._pip.options.TABLE_PIP` or newer surely reads as
        venvlock does (the check judges them only for such a pip).
    """

    __slots__ = (
        "cannot_judge",
        "constraints",
        "environment_path",
        "files",
        "inputs",
        "pip_variables",
        "requirements",
        "settings",
        "started_ns",
        "variables",
        "version_bound",
    )

    def __init__(self, settings: PipSettings, *, environment_path: str = "", started_ns: int = 0) -> None:
        self.requirements: list[tuple[str, str]] = []
        self.constraints: list[tuple[str, str]] = []
        self.files: list[tuple[str, str]] = []
        self.variables: dict[str, str | None] = {}
        self.cannot_judge = settings.cannot_judge
        self.settings = settings
        self.environment_path = environment_path
        self.inputs: list[tuple[str, tuple[int, ...] | None]] = []
        self.started_ns = started_ns
        self.pip_variables = _pip_variables()
        self.version_bound: list[str] = list(settings.version_bound)

    def refuse(self, reason: str) -> None:
        """Mark the request as one only the installer can judge (the first reason stays)."""
        self.cannot_judge = self.cannot_judge or reason

    def current(self) -> bool:
        """Whether every input is still what was read: same stat, and not changed in the clock tick of the reading.

        A few stats, no reading.  A file whose modification time is within
        :data:`RACY_NS` of the reading's start might have changed again in the
        same tick of a coarse file-system clock unseen (as Git's "racily
        clean" entries): it counts as changed, and is read again.
        """
        if _pip_variables() != self.pip_variables:
            return False
        if any(os.environ.get(name) != value for name, value in self.variables.items()):
            return False
        for path, seen in self.inputs:
            now = _signature(path)
            if now != seen or (now is not None and now[0] >= self.started_ns - RACY_NS):
                return False
        return True


def _pip_variables() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("PIP_")))


def parse_request(args: list[str], cwd: str, environment: Target | None = None) -> ParsedRequest:
    """Read pip install *args* (and the pip settings in force) into a :class:`ParsedRequest`.

    *environment* is the one pip installs into: its interpreter's prefix
    holds the site ``pip.conf`` pip reads (default: the running interpreter's).
    """
    import sys
    import time

    started_ns = time.time_ns()
    prefix = environment.config_prefix() if environment is not None else sys.prefix
    # pip's configuration files, looked at before they are read: a change after this look shows in current()
    watched = [(path, _signature(path)) for path in config_files(prefix, isolated=False)]
    settings = read_settings(args, prefix, cwd)
    parsed = ParsedRequest(settings, environment_path=environment.path if environment is not None else "")
    parsed.started_ns = started_ns
    parsed.inputs.extend(watched)
    if settings.python is not None and (environment is None or not _names(settings.python, environment)):
        parsed.refuse(f"{settings.python_source} sends pip to {settings.python}")
    if "_PIP_IN_BUILD_IGNORE_CONSTRAINTS" in os.environ:
        parsed.refuse("pip is told to ignore its constraints")
    for path in settings.constraint_files:
        _read_file(parsed, path, cwd, constraint=True, chain=())
    parsed.version_bound += version_bound(args, INSTALL_TABLE)
    named = _read_args(parsed, read_options(args, INSTALL_TABLE), cwd)
    if not named:  # pip: "You must give at least one requirement to install"
        parsed.refuse("nothing to install was named")
    return parsed


def _names(python: str, environment: Target) -> bool:
    """Whether a ``--python`` value names *environment* (its folder or its interpreter)."""
    path = os.path.abspath(os.path.expanduser(python))
    if os.path.isdir(path):
        return os.path.realpath(path) == os.path.realpath(environment.path)
    return os.path.realpath(path) == os.path.realpath(environment.python) or os.path.realpath(
        os.path.dirname(os.path.dirname(path))
    ) == os.path.realpath(environment.path)


def _read_args(parsed: ParsedRequest, options: Iterator[tuple[Option | str, str | None]], cwd: str) -> bool:
    """Read command-line options; whether a requirement or a requirements file was named (pip insists on one)."""
    named = False
    for option, value in options:
        if option == "":
            assert value is not None
            named = True
            _add_requirement(parsed, value, "command line", constraint=False)
        elif isinstance(option, str):
            parsed.refuse(f"{value}: not an option venvlock can read exactly")
        elif value is None and option.takes_value:
            parsed.refuse(f"{option.name} without a value")
        elif value is not None and not option.accepts(value):
            parsed.refuse(f"{option.name} {value!r}: a value pip refuses")
        elif option.kind in (REQUIREMENT, CONSTRAINT):
            assert value is not None
            named = named or option.kind == REQUIREMENT
            _read_file(parsed, value, cwd, constraint=option.kind == CONSTRAINT, chain=())
        elif option.kind != HARMLESS:
            parsed.refuse(f"{option.name} is for the installer to judge")
    return named


def _add_requirement(parsed: ParsedRequest, text: str, origin: str, *, constraint: bool) -> None:
    if looks_like_path_or_url(text):
        parsed.refuse(f"{text!r} is a path or URL")
    if constraint and "[" in text.split(";")[0]:
        parsed.refuse(f"constraint {text!r} has extras (pip stops with an error)")
    (parsed.constraints if constraint else parsed.requirements).append((text, origin))


def _read_file(parsed: ParsedRequest, name: str, base: str, *, constraint: bool, chain: tuple[str, ...]) -> None:
    """Read a requirements (or constraints) file as pip's ``RequirementsFileParser`` does.

    A file named on the command line (or by a setting: *chain* empty) is opened by the name given, as pip opens
    it (``link/../req.txt`` is the ``req.txt`` beside the link's target); a nested one by pip's ``abspath`` of
    its name joined to the folder of the file naming it, and so is each file known in *chain*.
    """
    if "://" in name or name.lower().startswith("file:"):
        parsed.refuse(f"{name} is a URL")
        return
    path = os.path.join(base, name)
    if chain:
        path = os.path.abspath(path)
    if os.path.abspath(path) in chain:  # pip stops with "recursively references itself"
        parsed.refuse(f"{name} includes itself")
        return
    try:
        if not _reads_the_same_again(os.stat(path)):  # a pipe (-r /dev/stdin, -r <(...)), a FIFO, a terminal
            parsed.refuse(f"{name} is not a regular file: pip reads it, once")  # never opened: nothing consumed
            return
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # replaced by a FIFO since: no wait
        with open(fd, encoding="utf-8-sig") as file:
            status = os.fstat(fd)
            if not _reads_the_same_again(status):
                parsed.refuse(f"{name} is not a regular file: pip reads it, once")
                return
            parsed.inputs.append((path, _signature(path, status)))  # the file read, before reading
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        # pip reports this with its own message and exit code
        parsed.refuse(f"cannot read {name}: {error}")
        return
    declared = _declared_encoding(text)
    if declared:
        parsed.refuse(f"{name} declares its encoding {declared!r}: pip reads it in that encoding")
        return
    parsed.files.append((path, text))
    folder = os.path.dirname(path)
    for line in logical_lines(text, parsed.variables):
        requirement, options = break_args_options(line)
        if requirement:
            if options:
                parsed.refuse(f"options on {requirement!r} in {name}")
            _add_requirement(parsed, requirement, path, constraint=constraint)
            continue
        words = _split_options(options)
        if words is None:
            parsed.refuse(f"cannot read the options {options!r} in {name}")
            continue
        read = list(read_options(words, FILE_TABLE))
        parsed.version_bound += version_bound(words, FILE_TABLE)
        nested = [(o, v) for o, v in read if isinstance(o, Option) and o.kind == REQUIREMENT]
        nested = nested or [(o, v) for o, v in read if isinstance(o, Option) and o.kind == CONSTRAINT]
        if nested:  # pip reads the first -r (else the first -c) of the line, and nothing else of it
            file_option, file_name = nested[0]
            if file_name is None:
                parsed.refuse(f"{file_option.name} without a value in {name}")
            else:
                nested_constraint = file_option.kind == CONSTRAINT
                chained = (*chain, os.path.abspath(path))
                _read_file(parsed, file_name, folder, constraint=nested_constraint, chain=chained)
            continue
        for option, value in read:
            if option == "":
                continue  # pip ignores words after the options of an option line
            if isinstance(option, str):
                parsed.refuse(f"{value}: not an option venvlock can read exactly (in {name})")
            elif value is None and option.takes_value:
                parsed.refuse(f"{option.name} without a value in {name}")
            elif value is not None and not option.accepts(value):
                parsed.refuse(f"{option.name} {value!r} in {name}: a value pip refuses")
            elif option.kind != HARMLESS:
                parsed.refuse(f"{option.name} in {name} is for the installer to judge")


_ENCODING_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def _declared_encoding(text: str) -> str:
    """The encoding a PEP 263 comment in the first two lines declares, as pip finds it (``coding[:=]\\s*([-\\w.]+)``
    in a line starting with ``#``), when pip would read the file otherwise than as UTF-8 ("" when it would not)."""
    for line in text.split("\n")[:2]:
        if not line.startswith("#"):
            continue
        start = line.find("coding")
        while start != -1:
            rest = line[start + 6 :]
            if rest[:1] in (":", "="):
                rest = rest[1:].lstrip(" \t\r\f\v")
                end = 0
                while end < len(rest) and rest[end] in _ENCODING_CHARS:
                    end += 1
                if end:
                    import codecs

                    declared = rest[:end]
                    try:
                        known = codecs.lookup(declared).name
                    except LookupError:
                        return declared
                    same = known in ("utf-8", "utf-8-sig") or (known == "ascii" and text.isascii())
                    return "" if same else declared
            start = line.find("coding", start + 1)
    return ""


def _reads_the_same_again(status: os.stat_result) -> bool:
    """Whether a file with *status* gives pip what venvlock read from it: a regular file, or the null device
    (``-c /dev/null``); not a pipe, a FIFO or a terminal, which give their contents to the first reader only."""
    if stat.S_ISREG(status.st_mode):
        return True
    try:
        null = os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(status.st_mode) and (status.st_rdev, status.st_ino) == (null.st_rdev, null.st_ino)


def _split_options(text: str) -> list[str] | None:
    """``shlex.split`` of an options string (plain ``split`` when nothing needs quoting rules)."""
    if not any(c in text for c in "'\"\\"):
        return text.split()
    import shlex

    try:
        return shlex.split(text)
    except ValueError:
        return None


def break_args_options(line: str) -> tuple[str, str]:
    """pip's ``break_args_options``: the words before the first ``-`` word, and the rest."""
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), " ".join(tokens[index:])
    return line, ""


def _is_comment(line: str) -> bool:
    """pip's ``COMMENT_RE.match``: ``#`` at the start, or after leading whitespace."""
    return line.lstrip().startswith("#")


def _strip_comment(line: str) -> str:
    """pip's ``COMMENT_RE.sub("", line)``: drop from the first ``#`` that starts the line or follows whitespace."""
    for index, char in enumerate(line):
        if char == "#" and (index == 0 or line[index - 1].isspace()):
            start = index
            while start > 0 and line[start - 1].isspace():
                start -= 1
            return line[:start]
    return line


def _expand(line: str, variables: dict[str, str | None]) -> str:
    """pip's ``expand_env_variables``: each ``${NAME}`` (``[A-Z0-9_]+``) with a non-empty value is replaced."""
    found: list[tuple[str, str]] = []
    start = line.find("${")
    while start != -1:
        end = start + 2
        while end < len(line) and line[end] in _VAR_CHARS:
            end += 1
        if end > start + 2 and end < len(line) and line[end] == "}":
            found.append((line[start : end + 1], line[start + 2 : end]))
            start = line.find("${", end + 1)
        else:
            start = line.find("${", start + 1)
    for var, name in found:
        value = os.environ.get(name)
        variables[name] = value
        if value:
            line = line.replace(var, value)
    return line


_VAR_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def logical_lines(text: str, variables: dict[str, str | None] | None = None) -> Iterator[str]:
    """The logical lines of a requirements file, as pip's ``preprocess`` makes them.

    Continuations joined, comments dropped, ``${NAME}`` expanded; the
    variables looked up are added to *variables*.
    """
    variables = {} if variables is None else variables
    pending: list[str] = []

    def finish(line: str) -> Iterator[str]:
        line = _strip_comment(line).strip()
        if line:
            yield _expand(line, variables)

    for line in text.splitlines():
        if not line.endswith("\\") or _is_comment(line):
            if _is_comment(line):
                line = " " + line
            if pending:
                pending.append(line)
                yield from finish("".join(pending))
                pending = []
            else:
                yield from finish(line)
        else:
            pending.append(line.strip("\\"))
    if pending:
        yield from finish("".join(pending))


def looks_like_path_or_url(text: str) -> bool:
    """Whether a requirement is a local path, an archive or a URL (only the installer judges those)."""
    head = text.split(";")[0]
    lowered = head.lower().strip()
    return (
        "://" in text
        or "@" in head
        or text.startswith((".", "/", "~"))
        or os.sep in head
        or "/" in head
        or (os.altsep is not None and os.altsep in head)
        or _is_archive(head)
        or lowered.startswith("file:")
    )


#: pip's ``ARCHIVE_EXTENSIONS`` (``utils/filetypes.py``): a requirement naming such a file is a file to pip
ARCHIVE_EXTENSIONS = (".zip", ".whl", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma",
                      ".tar.gz", ".tgz", ".tar")  # fmt: skip


def _is_archive(name: str) -> bool:
    """pip's test of a requirement's words (markers split off): ``is_archive_file`` of its normalised absolute
    path with trailing ``[extras]`` stripped (``strip_extras``), the extension taken with ``.tar`` (``splitext``)."""
    path = os.path.normpath(os.path.abspath(name.strip()))
    if path.endswith("]"):
        start = path.rfind("[")
        if start > 0 and len(path) - start > 2 and "]" not in path[start:-1]:
            path = path[:start].rstrip()
    base, extension = os.path.splitext(path)
    if base.lower().endswith(".tar"):
        extension = base[-4:] + extension
    return extension.lower() in ARCHIVE_EXTENSIONS
