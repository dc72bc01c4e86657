"""Credentials out of command lines: what a holder file, a waiting line or a timeout may show.

``redact_url`` does what pip's ``redact_auth_from_url`` does: ``user:password@``
becomes ``user:****@`` and a lone token ``token@`` becomes ``****@``.
``redact_command`` applies it to every URL inside every argument
(``--index-url=https://...``, ``name @ https://...``, ``git+https://...``) and
joins the arguments with shell quoting, so the line can be pasted back.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


def redact_url(url: str) -> str:
    """*url* with its password (or lone token) replaced by ``****``; unchanged when it has none."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1:
            end = min(end, found)
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    shown = f"{user}:****" if colon else "****"
    return f"{scheme}://{shown}@{host}{tail}"


def redact_text(text: str) -> str:
    """*text* with every URL in it redacted (URLs are found by their ``://``)."""
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
        while end < len(text) and not text[end].isspace() and text[end] not in "'\"<>":
            end += 1
        out.append(text[position:start])
        out.append(redact_url(text[start:end]))
        position = end


def redact_command(argv: Iterable[str]) -> str:
    """*argv* as one shell-quoted line with credentials redacted."""
    import shlex

    return shlex.join(redact_text(arg) for arg in argv)
