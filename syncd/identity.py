"""An item's identity within its city, and what a second source adds to it (pure).

Two sources of one city (Düren's press page and its feed) often bring the same
article. They are the same item when their **city keys** agree (``city_key``):

- with a source's ``identity`` pattern (a regular expression, searched in the item's
  key, then its URL): ``id:`` and its first group, or the whole match when it has no
  group. Düren's feed guid ``news-4711`` and its detail URL ``…/detail/4711-…`` agree
  with ``identity = "news-(\\d+)"`` on the feed and ``identity = "/detail/(\\d+)"``
  on the page source;
- else the item's URL in canonical form (``canonical_url``): ``url:…``.

``decide`` keeps one item per city key: the first source to bring it holds it, a
later source's item becomes an alias that **enriches** the holder (``enrich``): a
fuller body, a date, a summary, categories or images the holder lacks. A partner gets
one draft. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .models import Item
from .sanitize import to_text

_TRACKING = re.compile(
    r"^(utm_\w+|mtm_\w+|pk_\w+|piwik_\w+|fbclid|gclid|gclsrc|dclid|msclkid|mc_cid|mc_eid|"
    r"_ga|_gl|yclid|igshid|spm|wt_mc|wt\.mc_id)$",
    re.I,
)
#: a body counts as fuller when it has this much more text (a teaser vs. the article)
FULLER = 1.2


def canonical_url(url: str) -> str:
    """``url`` in canonical form (the item key of a page): lower-case scheme and host,
    no default port, no fragment, no tracking parameters. Raises ``ValueError`` for
    a URL with an impossible port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = (
        host
        if port is None or (scheme, port) in (("http", 80), ("https", 443))
        else f"{host}:{port}"
    )
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING.match(k)
        ]
    )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def city_key(item: Item, identity: str = "") -> str | None:
    """The item's identity within its city (see the module docstring); None when it
    has neither a matching pattern nor an http(s) URL. An echo of syncd's own draft
    has none: it is never merged with anything."""
    if item.echo_marker:
        return None
    if identity:
        pattern = re.compile(identity)
        for text in (item.key, item.url or ""):
            m = pattern.search(text)
            if m:
                return "id:" + (m.group(1) if pattern.groups else m.group(0))
    if item.url and item.url.startswith(("http://", "https://")):
        try:
            return "url:" + canonical_url(item.url)
        except ValueError:
            return None
    return None


def _text_len(html: str) -> int:
    return len(to_text(html))


def enrich(base: Item, extra: Item) -> Item:
    """``base`` with what ``extra`` has and it lacks: a fuller body (with its images
    when ``base`` has none), a date, a summary, categories. ``base`` keeps its
    identity (source, key, URL) and title."""
    changes: dict[str, object] = {}
    if _text_len(extra.body_html) > _text_len(base.body_html) * FULLER:
        changes["body_html"] = extra.body_html
    if base.published is None and extra.published is not None:
        changes["published"] = extra.published
    elif base.date_only and extra.published is not None and not extra.date_only:
        changes["published"] = extra.published
        changes["date_only"] = False
    if len(extra.summary) > len(base.summary):
        changes["summary"] = extra.summary
    if not base.categories and extra.categories:
        changes["categories"] = extra.categories
    if not base.images and extra.images:
        changes["images"] = extra.images
    return replace(base, **changes) if changes else base  # type: ignore[arg-type]
