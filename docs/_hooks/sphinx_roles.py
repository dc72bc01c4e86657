"""MkDocs hook: show the Sphinx roles of venvlock's docstrings (``:func:`x```) as code, linked where known.

The docstrings are written for Sphinx-style readers (``:func:``, ``:class:``, ``:data:``...);
mkdocstrings renders them as Markdown, which leaves ``:func:<code>x</code>``.  This turns
them into ``<code>x</code>``, and into a link when *x* names an object documented on the same
page (the hook reference's own hooks).
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:func|class|data|mod|meth|attr|exc|obj):<code>~?([^<]+)</code>")


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    anchors = set(re.findall(r'id="([\w.]+)"', html))

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        short = name.rpartition(".")[2]
        for anchor in (name, f"venvlock.hookspec.{short}"):
            if anchor in anchors:
                return f'<a href="#{anchor}"><code>{short}</code></a>'
        return f"<code>{name}</code>"

    return _ROLE.sub(replace, html)
