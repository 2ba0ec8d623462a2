"""CSS selectors, patterns and URLs as the page kinds (``html``, ``jpage``) use them.

Pure: no I/O. Selectors are compiled by lxml's cssselect (the Scrapy project's),
which turns a CSS selector into XPath once.

The item key of a page is the article URL in canonical form (``canonical_url``):
lower-case scheme and host, no default port, no fragment, no tracking parameters
such as ``utm_*``. It is taken from the list link, not from the page's
``rel=canonical``: a key must stay the same whatever the page claims later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector

from ..identity import canonical_url

__all__ = ["canonical_url", "css", "host_filter", "regex_problem", "selector_problem"]

# --------------------------------------------------------------------------- selectors


def selector_problem(sel: str) -> str | None:
    """Why a CSS selector cannot be used, or None."""
    try:
        CSSSelector(sel, translator="html")
    except (SelectorError, etree.XPathError) as exc:
        return f"not a usable CSS selector {sel!r}: {exc}"
    return None


def regex_problem(pattern: str) -> str | None:
    """Why a regular expression cannot be used, or None."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a regular expression {pattern!r}: {exc}"
    return None


def css(sel: str) -> Any:
    """A compiled selector (a callable on an element), None for an empty string."""
    return CSSSelector(sel, translator="html") if sel else None


# ------------------------------------------------------------------------------- URLs


def host_filter(base_url: str, extra: Iterable[str]) -> Callable[[str], bool]:
    """A predicate on host names: the base URL's own host or one of ``extra``."""
    hosts = {(urlsplit(base_url).hostname or "").lower(), *(h.lower() for h in extra)}
    return lambda host: host.lower() in hosts
