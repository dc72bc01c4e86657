"""Credentials out of command lines: what a holder file, a waiting line or a timeout may show.

``redact_url`` is pip's ``redact_auth_from_url``: the URL split by
``urllib.parse.urlsplit``, its netloc split at the *last* ``@`` and the
user part at its first ``:``; ``user:password@`` becomes ``user:****@``
(the user re-quoted, as pip shows it) and a lone token ``token@`` becomes
``****@``.  A proxy may be given without a scheme (pip's ``--proxy
user:pass@host:3128``, ``https_proxy=...``): its authority is redacted all
the same.  ``redact_command`` applies this to every argument: the values of
pip's URL options (``--index-url``/``-i``, ``--extra-index-url``,
``--find-links``/``-f``, ``--proxy``; ``--opt=value``, ``--opt value``,
abbreviations), ``NAME=value`` variable assignments, and every URL inside
any other argument (``name @ https://...``, ``git+https://...``), which
runs to the next white space, quotes included.  It joins the arguments with
shell quoting, so the line can be pasted back.  ``redact_text`` takes such
a line back apart (a shell-quoted holder line) and redacts it the same way.

Nothing here is imported, and ``urllib.parse`` is not loaded, unless a text holds an ``@``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

#: pip options whose value is a URL (canonical names; the table in ``_pip_options`` knows their aliases)
_URL_OPTIONS = ("--index-url", "--extra-index-url", "--find-links", "--proxy")
_SHORT_URL_OPTIONS = ("-i", "-f")


def redact_netloc(netloc: str) -> str:
    """pip's ``redact_netloc``: ``user:pass@host`` -> ``user:****@host``, ``token@host`` -> ``****@host``."""
    if "@" not in netloc:
        return netloc
    from urllib.parse import quote, unquote

    auth, host = netloc.rsplit("@", 1)
    if ":" in auth:
        return f"{quote(unquote(auth.split(':', 1)[0]))}:****@{host}"
    return f"****@{host}"


def redact_url(url: str) -> str:
    """*url* with its password (or lone token) replaced by ``****``, as pip shows it; unchanged without an ``@``."""
    if "@" not in url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:  # pip would stop here (a bad IPv6 host): hide everything up to the last @ of the authority
        scheme, sep, rest = url.partition("://")
        end = min((i for i in (rest.find(c) for c in "/?#") if i != -1), default=len(rest))
        return f"{scheme}{sep}{redact_netloc(rest[:end])}{rest[end:]}" if sep else url
    return urlunsplit((parts.scheme, redact_netloc(parts.netloc), parts.path, parts.query, parts.fragment))


def redact_proxy(value: str) -> str:
    """A proxy setting redacted: a URL, or pip's scheme-less ``user:pass@host:port``."""
    if "@" not in value:
        return value
    if "://" in value:
        return redact_url(value)
    redacted = redact_url("//" + value)
    return redacted[2:] if redacted.startswith("//") else redacted


def redact_urls_in(text: str) -> str:
    """*text* with every URL in it redacted; a URL is found by its ``://`` and runs to the next white space."""
    if "://" not in text or "@" not in text:
        return text
    out: list[str] = []
    position = 0
    while True:
        found = text.find("://", position)
        if found == -1:
            out.append(text[position:])
            return "".join(out)
        start = found
        while start > position and (text[start - 1].isalnum() or text[start - 1] in "+.-"):
            start -= 1
        end = found + 3
        while end < len(text) and not text[end].isspace():
            end += 1
        out.append(text[position:start])
        out.append(redact_url(text[start:end]))
        position = end


def _url_option(word: str) -> str | None:
    """The canonical name of the pip URL option *word* names (``--index``, ``--prox``, ``-i``), if any."""
    if word in _SHORT_URL_OPTIONS:
        return "--index-url" if word == "-i" else "--find-links"
    if not word.startswith("--") or len(word) < 3:
        return None
    from venvlock._pip.options import INSTALL_TABLE

    option = INSTALL_TABLE.long(word)
    name = None if isinstance(option, str) else option.name
    return name if name in _URL_OPTIONS else None


def _redact_value(option: str, value: str) -> str:
    """An option's value as pip reads it: one URL (a proxy may have no scheme)."""
    return redact_proxy(value) if option == "--proxy" else redact_url(value) if "://" in value else value


def redact_variable(name: str, value: str) -> str:
    """A variable's value redacted: space-separated URLs (as pip splits ``PIP_*`` lists), scheme-less proxies."""
    if "@" not in value:
        return value
    proxy = name.lower().endswith("proxy")
    words = value.split(" ")
    return " ".join(redact_proxy(w) if proxy else redact_url(w) if "://" in w else w for w in words)


def _redact_word(word: str) -> tuple[str, str | None]:
    """*word* redacted, and the URL option whose value the next word is (``--index-url URL``), if any."""
    if word.startswith("-") and not word.startswith("--") and word[:2] in _SHORT_URL_OPTIONS:
        option = _url_option(word[:2])
        if len(word) == 2:
            return word, option
        return word[:2] + _redact_value(option or "", word[2:]), None
    name, eq, value = word.partition("=")
    option = _url_option(name)
    if option is not None:
        return (f"{name}={_redact_value(option, value)}", None) if eq else (word, option)
    if eq and name.replace("_", "").isalnum() and not name[:1].isdigit():  # NAME=value: a variable
        return f"{name}={redact_variable(name, redact_urls_in(value))}", None
    return redact_urls_in(word), None


def redact_words(argv: Iterable[str]) -> list[str]:
    """Every argument of *argv* redacted (option values, variable assignments, URLs)."""
    words = list(argv)
    if not any("@" in word for word in words):  # every credential stands before an @: pip's option table stays unread
        return words
    out: list[str] = []
    pending: str | None = None
    for word in words:
        if "@" not in word and pending is None and not word.startswith("-"):
            out.append(word)
            continue
        if pending is not None:
            out.append(_redact_value(pending, word))
            pending = None
            continue
        redacted, pending = _redact_word(word)
        out.append(redacted)
    return out


def redact_command(argv: Iterable[str]) -> str:
    """*argv* as one shell-quoted line with credentials redacted."""
    import shlex

    return shlex.join(redact_words(argv))


def redact_text(text: str) -> str:
    """A command line (shell-quoted, as holder files hold them) or any text, with credentials redacted."""
    if "@" not in text:
        return text
    import shlex

    try:
        words = shlex.split(text)
    except ValueError:  # not a shell line: URLs run to the next white space
        return redact_urls_in(text)
    redacted = redact_words(words)
    return text if redacted == words else shlex.join(redacted)
