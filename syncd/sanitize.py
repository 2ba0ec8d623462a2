"""HTML sanitizing and plain-text helpers. Contains no business logic.

Everything that came from outside (feeds, pages, pushes) and everything syncd writes
to a target goes through ``clean_html``: no scripts, styles or event handlers, no
``javascript:`` or ``data:`` URLs, links get ``rel="noopener noreferrer"``. nh3 (the
Rust ammonia sanitizer) is used because bleach is deprecated and nh3 is maintained,
fast and allow-list based.

nh3's parser (html5ever) is quadratic in nesting depth, so every fragment first goes
through ``nesting.bound`` (linear): tags outside the allow-list and comments are
dropped there, every element is closed explicitly, and nothing is nested deeper than
``MAX_DEPTH`` (deeper tags are dropped, their text kept, with a log line). The cost
of sanitizing grows linearly with the size of the fragment.
"""

from __future__ import annotations

import html as htmlmod
import re
from urllib.parse import urljoin, urlsplit

import nh3

from . import logs
from .nesting import bound

log = logs.get(__name__)

BLOCK_TAGS = frozenset(
    {
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "blockquote",
        "td",
        "th",
        "figcaption",
        "caption",
        "pre",
        "dd",
        "dt",
    }
)
TAGS = frozenset(
    BLOCK_TAGS
    | {
        "a", "abbr", "b", "br", "code", "dl", "div", "em", "figure", "hr", "i", "img", "ol",
        "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "tfoot", "thead",
        "time", "tr", "u", "ul", "aside", "section", "article",
    }
)  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "abbr": {"title"},
    "ol": {"start"},
}
#: The only classes kept: syncd's own blocks, so targets and echo detection find them.
CLASSES = {
    "aside": {"syncd-attribution", "syncd-review"},
    "p": {"syncd-attribution", "syncd-review"},
    "div": {"syncd-attribution", "syncd-review"},
}
URL_SCHEMES = {"http", "https", "mailto"}
#: Tags removed together with their content (not just unwrapped).
DROP_WITH_CONTENT = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "template",
    "noscript",
    "svg",
    "math",
    "form",
}


#: elements nested deeper than this lose their tags (real articles stay below 30)
MAX_DEPTH = 128
_BOUND_ATTRIBUTES = {
    tag: frozenset(ATTRIBUTES.get(tag, set()) | ({"class"} if tag in CLASSES else set()))
    for tag in TAGS
}


def _bounded(fragment: str, tags: frozenset[str]) -> str:
    result = bound(
        fragment,
        tags=tags,
        attributes=_BOUND_ATTRIBUTES,
        drop_with_content=DROP_WITH_CONTENT,
        max_depth=MAX_DEPTH,
    )
    if result.flattened:
        log.warning("html-flattened", tags=result.flattened, max_depth=MAX_DEPTH)
    return result.html


def clean_html(fragment: str, base_url: str | None = None) -> str:
    """Sanitize an untrusted HTML fragment to syncd's allow-list; with ``base_url``,
    relative ``href``/``src`` become absolute (a draft lives on another site).
    Linear in the size of the fragment; nesting beyond ``MAX_DEPTH`` is flattened."""
    if not fragment:
        return ""
    fragment = _bounded(fragment, TAGS)
    resolve = None
    if base_url:

        def resolve(tag: str, attr: str, value: str) -> str | None:
            if attr in ("href", "src"):
                return urljoin(base_url, value.strip())
            return value

    return nh3.clean(
        fragment,
        tags=set(TAGS),
        clean_content_tags=DROP_WITH_CONTENT,
        attributes={k: set(v) for k, v in ATTRIBUTES.items()},
        allowed_classes={k: set(v) for k, v in CLASSES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=resolve,
    ).strip()


_TAG = re.compile(r"<[^>]*>")
_WS = re.compile(r"\s+")


def to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (for titles and summaries), whitespace collapsed."""
    if not fragment:
        return ""
    cleaned = nh3.clean(
        _bounded(fragment, frozenset()), tags=set(), clean_content_tags=DROP_WITH_CONTENT
    )
    return _WS.sub(" ", htmlmod.unescape(_TAG.sub(" ", cleaned))).strip()


_URL_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def http_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL with a host, else None.

    The one test for URLs that leave syncd outside HTML (an item's link, image URLs,
    ``source_url`` in sidecars and payloads): ``javascript:``, ``data:``,
    ``vbscript:``, ``file:`` and the like never pass. Surrounding whitespace is
    dropped; a URL with control characters inside is refused (browsers remove tabs
    and newlines, so ``java\tscript:`` means ``javascript:`` to them)."""
    if not url:
        return None
    url = url.strip()
    if _URL_CONTROLS.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed IPv6 host
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def escape(text: str) -> str:
    return htmlmod.escape(text, quote=True)
