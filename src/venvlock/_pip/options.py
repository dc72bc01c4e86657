"""pip's options, the one table venvlock reads pip arguments with (pip 26.3's ``cmdoptions``).

Every option of ``pip install`` and pip's general options, with their
aliases, whether they take a value, and what they mean for venvlock:

* ``HARMLESS``: does not change whether installed distributions satisfy a request;
* ``INSTALLER``: only the installer can judge the request (upgrades, hashes, ...);
* ``ELSEWHERE``: sends the install to another environment (``--python``, ``--target``, ...);
* ``REQUIREMENT`` / ``CONSTRAINT``: ``-r`` / ``-c`` files.

Options are read as pip's ``optparse`` reads them: ``--opt=value``, ``-rfile``,
bundled short flags (``-qU``), and any unique prefix of a long option
(``--upgr`` is ``--upgrade``); an ambiguous or unknown prefix is reported as
such, so that callers fail closed.

Plain Python only: this module is on the fast path.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

HARMLESS, INSTALLER, ELSEWHERE, REQUIREMENT, CONSTRAINT = "harmless", "installer", "elsewhere", "-r", "-c"
#: what :func:`read_options` yields for an option it cannot place
UNKNOWN, AMBIGUOUS = "?unknown", "?ambiguous"


class Option:
    """One pip option: its names (the first long one is canonical), whether it takes a value, its meaning, and
    :attr:`accepts`, pip's test of a value given to it (pip stops on a value it does not accept)."""

    __slots__ = ("accepts", "kind", "names", "takes_value")

    def __init__(
        self, names: tuple[str, ...], takes_value: bool, kind: str, accepts: Callable[[str], bool] | None = None
    ) -> None:
        self.names = names
        self.takes_value = takes_value
        self.kind = kind
        self.accepts = accepts or (_any if takes_value else _truth)

    @property
    def name(self) -> str:
        """The canonical (first long) name."""
        return next((n for n in self.names if n.startswith("--")), self.names[0])

    def __repr__(self) -> str:
        return f"Option({self.name})"


def _options(kind: str, takes_value: bool, *names: str, accepts: Callable[[str], bool] | None = None) -> Option:
    return Option(names, takes_value, kind, accepts)


# pip's tests of option values: optparse's types and choices, pip's callbacks; a flag's value comes only from a
# setting (``PIP_NO_DEPS=yes``, ``no-deps = yes`` in a configuration file): pip's ``strtobool``
def _any(value: str) -> bool:
    return True


_TRUE, _FALSE = frozenset(("y", "yes", "t", "true", "on", "1")), frozenset(("n", "no", "f", "false", "off", "0"))


def _truth(value: str) -> bool:
    """pip's ``strtobool``."""
    return value.lower() in _TRUE | _FALSE


def count_setting(value: str) -> int | None:
    """A setting of ``-v``/``-q`` as pip counts it (pip's ``_update_defaults``): a boolean (1 or 0), else a whole
    number not below 0; None where pip stops."""
    if value.lower() in _TRUE:
        return 1
    if value.lower() in _FALSE:
        return 0
    try:
        count = int(value)
    except ValueError:
        return None
    return count if count >= 0 else None


def _count(value: str) -> bool:
    return count_setting(value) is not None


def _integer(value: str) -> bool:
    """optparse's ``int`` type (``0x``/``0b``/``0`` prefixes, as its ``_parse_num``)."""
    text, radix = value, 10
    if text[:2].lower() == "0x":
        radix = 16
    elif text[:2].lower() == "0b":
        text, radix = text[2:] or "0", 2
    elif text[:1] == "0":
        radix = 8
    try:
        int(text, radix)
    except ValueError:
        return False
    return True


def _number(value: str) -> bool:
    """optparse's ``float`` type."""
    try:
        float(value)
    except ValueError:
        return False
    return True


def _choice(*choices: str) -> Callable[[str], bool]:
    return frozenset(choices).__contains__


def _key_value(value: str) -> bool:
    """pip's ``_handle_config_settings``: ``KEY=VAL``."""
    return "=" in value


def _format_names(value: str) -> bool:
    """pip's ``FormatControl.handle_mutual_excludes`` (``--no-binary``/``--only-binary``): not an option."""
    return not value.startswith("-")


# pip's general options (cmdoptions.general_group), accepted before and after the command
GENERAL = (
    _options(HARMLESS, False, "-h", "--help"),
    _options(HARMLESS, False, "--debug"),
    _options(HARMLESS, False, "--isolated"),
    _options(HARMLESS, False, "--require-virtualenv", "--require-venv"),
    _options(ELSEWHERE, True, "--python"),
    _options(HARMLESS, False, "-v", "--verbose", accepts=_count),
    _options(HARMLESS, False, "-q", "--quiet", accepts=_count),
    _options(INSTALLER, True, "--log", "--log-file", "--local-log"),  # pip writes the log even when satisfied
    _options(HARMLESS, False, "--no-input"),
    _options(HARMLESS, True, "--keyring-provider", accepts=_choice("auto", "disabled", "import", "subprocess")),
    _options(HARMLESS, True, "--proxy"),
    _options(HARMLESS, False, "--no-proxy-env"),
    _options(HARMLESS, True, "--retries", accepts=_integer),
    _options(HARMLESS, True, "--timeout", "--default-timeout", accepts=_number),
    _options(HARMLESS, True, "--exists-action", accepts=_choice("s", "i", "w", "b", "a")),
    _options(HARMLESS, True, "--trusted-host"),
    _options(HARMLESS, True, "--cert"),
    _options(HARMLESS, True, "--client-cert"),
    _options(HARMLESS, True, "--cache-dir"),
    _options(HARMLESS, False, "--no-cache-dir"),
    _options(HARMLESS, False, "--disable-pip-version-check"),
    _options(HARMLESS, False, "--no-color"),
    _options(HARMLESS, False, "--no-python-version-warning"),
    _options(INSTALLER, True, "--use-feature"),
    _options(INSTALLER, True, "--use-deprecated"),
    _options(HARMLESS, True, "--resume-retries", accepts=_integer),
)
#: the main parser's own option, before the command
VERSION = _options(HARMLESS, False, "-V", "--version")

# ``pip install``'s own options (install, package selection and package index groups)
INSTALL = (
    _options(REQUIREMENT, True, "-r", "--requirement"),
    _options(CONSTRAINT, True, "-c", "--constraint"),
    _options(INSTALLER, True, "--build-constraint"),
    _options(INSTALLER, True, "--requirements-from-script"),
    _options(INSTALLER, False, "--no-deps", "--no-dependencies"),
    _options(INSTALLER, False, "--only-deps", "--only-dependencies"),
    _options(INSTALLER, True, "-e", "--editable"),
    _options(INSTALLER, False, "--dry-run"),
    _options(ELSEWHERE, True, "-t", "--target"),
    _options(INSTALLER, True, "--platform"),
    _options(INSTALLER, True, "--python-version"),
    _options(INSTALLER, True, "--implementation"),
    _options(INSTALLER, True, "--abi"),
    _options(ELSEWHERE, False, "--user"),
    _options(HARMLESS, False, "--no-user"),
    _options(ELSEWHERE, True, "--root"),
    _options(ELSEWHERE, True, "--prefix"),
    _options(HARMLESS, True, "--src", "--source", "--source-dir", "--source-directory"),
    _options(INSTALLER, False, "-U", "--upgrade"),
    _options(INSTALLER, True, "--upgrade-strategy"),
    _options(INSTALLER, False, "--force-reinstall"),
    _options(INSTALLER, False, "-I", "--ignore-installed"),
    _options(INSTALLER, False, "--ignore-requires-python"),
    _options(HARMLESS, False, "--no-build-isolation"),
    _options(HARMLESS, False, "--use-pep517"),
    _options(HARMLESS, False, "--check-build-dependencies"),
    _options(HARMLESS, False, "--break-system-packages"),
    _options(HARMLESS, True, "-C", "--config-settings", accepts=_key_value),
    _options(HARMLESS, False, "--compile"),
    _options(HARMLESS, False, "--no-compile"),
    _options(HARMLESS, False, "--no-warn-script-location"),
    _options(HARMLESS, False, "--no-warn-conflicts"),
    _options(INSTALLER, False, "--require-hashes"),
    _options(INSTALLER, False, "--no-require-hashes"),
    _options(HARMLESS, True, "--progress-bar", accepts=_choice("auto", "on", "off", "raw")),
    _options(HARMLESS, True, "--root-user-action", accepts=_choice("warn", "ignore")),
    _options(INSTALLER, True, "--report"),
    _options(INSTALLER, True, "--group"),
    _options(HARMLESS, False, "--no-clean"),
    _options(HARMLESS, False, "--pre"),
    _options(INSTALLER, True, "--all-releases"),
    _options(INSTALLER, True, "--only-final"),
    _options(HARMLESS, True, "--no-binary", accepts=_format_names),
    _options(HARMLESS, True, "--only-binary", accepts=_format_names),
    _options(HARMLESS, False, "--prefer-binary"),
    _options(HARMLESS, True, "-i", "--index-url", "--pypi-url"),
    _options(HARMLESS, True, "--extra-index-url"),
    _options(HARMLESS, False, "--no-index"),
    _options(INSTALLER, True, "--refresh-package"),
    _options(HARMLESS, True, "-f", "--find-links"),
    _options(INSTALLER, True, "--uploaded-prior-to"),
)
# the options a requirements file may hold (req_file.SUPPORTED_OPTIONS + SUPPORTED_OPTIONS_REQ)
_IN_FILES = {
    "--index-url", "--extra-index-url", "--no-index", "--constraint", "--requirement", "--editable",
    "--find-links", "--no-binary", "--only-binary", "--prefer-binary", "--require-hashes", "--no-require-hashes",
    "--pre", "--all-releases", "--only-final", "--trusted-host", "--use-feature", "--config-settings",
}  # fmt: skip
_HASH = _options(INSTALLER, True, "--hash")
#: the pip whose options this table is: an older pip may lack an option, accept other values, read an
#: abbreviation otherwise (:data:`VERSION_BOUND`)
TABLE_PIP = "26.3"
#: options venvlock judges that older pips lack (added since pip 20) or read with other values, with the values
#: every pip since accepts (None: none): judged only when the pip that runs is :data:`TABLE_PIP` or newer, as
#: abbreviations of long options are
VERSION_BOUND: dict[str, frozenset[str] | None] = {
    "--root-user-action": None, "--config-settings": None, "--check-build-dependencies": None,
    "--break-system-packages": None, "--keyring-provider": None, "--resume-retries": None, "--no-proxy-env": None,
    "--debug": None, "--progress-bar": frozenset(("on", "off")),
}  # fmt: skip


def version_bound(words: Iterable[str], table: Table) -> list[str]:
    """The words of *words* (pip arguments, read with *table*) that only pip :data:`TABLE_PIP` or newer surely
    reads as venvlock does: :data:`VERSION_BOUND` options (but for values every pip accepts), long options
    given by an abbreviation."""
    found = [word for word in words if word.startswith("--") and word.partition("=")[0] not in table.longs]
    for option, value in read_options(words, table):
        if isinstance(option, Option) and bound_value(option, value):
            found.append(option.name)
    return found


def bound_value(option: Option, value: str | None) -> bool:
    """Whether *option* given *value* is read as venvlock does only by pip :data:`TABLE_PIP` or newer."""
    if option.name not in VERSION_BOUND:
        return False
    everywhere = VERSION_BOUND[option.name]
    return everywhere is None or value not in everywhere


#: the options pip appends to (``action="append"``): a setting's value is split at whitespace, each word one value
APPENDED = frozenset((
    "--abi", "--build-constraint", "--constraint", "--editable", "--exists-action", "--extra-index-url",
    "--find-links", "--platform", "--requirement", "--requirements-from-script", "--trusted-host",
    "--use-deprecated", "--use-feature",
))  # fmt: skip
REQUIREMENTS_FILE = (*(o for o in (*INSTALL, *GENERAL) if o.name in _IN_FILES), _HASH)
#: installer options that send the install elsewhere in uv (``uv pip install``), besides pip's own
UV_ELSEWHERE = (_options(ELSEWHERE, True, "-p", "--python"), _options(ELSEWHERE, False, "--system"))


class Table:
    """Options by name, with optparse's reading of abbreviated long options."""

    __slots__ = ("longs", "shorts")

    def __init__(self, options: Iterable[Option]) -> None:
        self.longs: dict[str, Option] = {}
        self.shorts: dict[str, Option] = {}
        for option in options:
            for name in option.names:
                (self.longs if name.startswith("--") else self.shorts)[name] = option

    def long(self, name: str) -> Option | str:
        """The option a long *name* means: exact, else the one option it is a prefix of; else UNKNOWN/AMBIGUOUS."""
        exact = self.longs.get(name)
        if exact is not None:
            return exact
        names = [n for n in self.longs if n.startswith(name)]  # optparse counts aliases apart, as here
        if len(names) == 1:
            return self.longs[names[0]]
        return AMBIGUOUS if names else UNKNOWN


INSTALL_TABLE = Table((*INSTALL, *GENERAL))
GENERAL_TABLE = Table((*GENERAL, VERSION))
FILE_TABLE = Table(REQUIREMENTS_FILE)


def read_options(args: Iterable[str], table: Table = INSTALL_TABLE) -> Iterator[tuple[Option | str, str | None]]:
    """Yield ``(option, value)`` for each option in *args* and ``("", word)`` for each positional word.

    *option* is an :class:`Option`, or :data:`UNKNOWN`/:data:`AMBIGUOUS` with
    the word as written for its value (an unknown option's value, if any, is
    then read as a positional word: callers must fail closed on those).
    """
    items = iter(args)
    for arg in items:
        if arg == "--":
            for rest in items:
                yield "", rest
        elif arg.startswith("--"):
            name, eq, value = arg.partition("=")
            option = table.long(name)
            if isinstance(option, str):
                yield option, arg
            elif option.takes_value:
                yield option, value if eq else next(items, None)
            elif eq:
                yield AMBIGUOUS, arg  # optparse: "--flag option does not take a value"
            else:
                yield option, None
        elif arg.startswith("-") and len(arg) > 1:
            chars = arg[1:]
            for index, char in enumerate(chars):
                found = table.shorts.get(f"-{char}")
                if found is None:
                    yield UNKNOWN, arg
                    break
                if found.takes_value:
                    rest = chars[index + 1 :]
                    yield found, rest if rest else next(items, None)
                    break
                yield found, None
        else:
            yield "", arg


def goes_elsewhere(args: Iterable[str], *, uv: bool = False) -> bool:
    """Whether install *args* may send the install to another environment (unclear options count as yes)."""
    table = Table((*INSTALL, *GENERAL, *UV_ELSEWHERE)) if uv else INSTALL_TABLE
    for option, _value in read_options(args, table):
        if isinstance(option, str):
            if option:
                return True
        elif option.kind == ELSEWHERE:
            return True
    return False


def setting_accepted(option: Option, value: str) -> bool:
    """Whether pip accepts *value* for *option* in a setting (a ``PIP_*`` variable, a configuration file)."""
    if option.name in APPENDED:
        return all(option.accepts(word) for word in value.split())
    return option.accepts(value)


def setting_option(key: str) -> Option | None:
    """The option a pip setting names (a ``PIP_<NAME>`` variable or a config key, already normalised), if any.

    pip looks settings up by their exact long name (aliases included), never by prefix.
    """
    return INSTALL_TABLE.longs.get("--" + key)
