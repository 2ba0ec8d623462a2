"""Fetching one page politely and refusing walls, for the page kinds (``html``, ``jpage``).

``PageReader`` fetches a page through the shared ``PoliteClient`` (robots.txt, byte
cap, allowed hosts, conditional GET), decodes it, and refuses to treat a challenge or
login page as content (``detect_wall``): syncd never tries to pass one. A page comes
back as a ``Page``: its final URL, headers, text and parsed document.

Parsing is lxml: lxml is already here through trafilatura, is the fastest maintained
HTML parser for Python, and copes with broken markup the way browsers do.

This module does no I/O of its own: the client is injected (``PoliteClient`` is
imported for type checking only), so ``Page`` and ``parse_html`` can be used by the
pure article extraction (``sources/article.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from ..errors import FetchError, SourceAlert
from . import net_errors
from .decode import decode_html, garbled, strip_controls

if TYPE_CHECKING:
    from ..net.http import PoliteClient

ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
VERIFY = "interactive verification required; not bypassed"
LOGIN = "login required; not bypassed"
_LOGIN_PATH = re.compile(
    r"(^|[/_.-])(login|logon|signin|sign-in|anmelden|sso|cas|passport|auth)([/_.?-]|$)", re.I
)
#: found only on challenge pages
_CHALLENGE_MARKERS = (
    ("__jsl_clearance", "JavaScript challenge: __jsl_clearance"),
    ("acw_sc__v2", "JavaScript challenge: acw_sc__v2"),
    ("cf_chl_opt", "JavaScript challenge: Cloudflare"),
)
#: found on challenge pages and, now and then, on real ones (Cloudflare injects its
#: challenge-platform script into ordinary pages; a contact form has a CAPTCHA):
#: they count only on a page with next to no visible text
_WEAK_MARKERS = re.compile(
    r"challenge-platform|just a moment|captcha|geetest|验证码|滑动验证|人机验证|安全验证", re.I
)


@dataclass(frozen=True)
class Page:
    url: str
    headers: dict[str, str]
    text: str
    doc: Any  # lxml.html.HtmlElement, links made absolute
    warnings: tuple[str, ...] = ()

    def meta(self, attr: str, name: str) -> str:
        """The content of the first ``<meta attr=name>`` (name compared case-insensitively)."""
        for el in self.doc.iter("meta"):
            if (el.get(attr) or "").strip().lower() == name:
                return (el.get("content") or "").strip()
        return ""


class Disallowed(Exception):
    """robots.txt forbids the URL (internal to the page kinds)."""


def parse_html(text: str, base_url: str) -> Any:
    """An lxml document of ``text`` with every link made absolute; never raises."""
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
    raw = strip_controls(text).encode("utf-8", "replace")
    try:
        doc = lxml.html.document_fromstring(raw, parser=parser)
    except etree.ParserError:  # empty document
        doc = lxml.html.document_fromstring(b"<html><body></body></html>", parser=parser)
    doc.make_links_absolute(base_url, resolve_base_href=False, handle_failures="discard")
    return doc


def visible_text(doc: Any) -> str:
    """The text of the document's body, whitespace collapsed."""
    body = doc.find("body")
    root = body if body is not None else doc
    parts = [t for t in root.itertext() if t.strip()]
    return " ".join(" ".join(parts).split())


def detect_wall(
    status: int, headers: Mapping[str, str], text: str, url: str, requested: str
) -> str | None:
    """The alert reason when a response is a challenge or login page, else None.

    Never tries to pass one: a challenge answered by running its script or sending
    its cookie would be a bypass.
    """
    cookies = headers.get("set-cookie", "")
    if status == 412:
        return f"{VERIFY} (HTTP 412 challenge)"
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return f"{VERIFY} (Cloudflare challenge)"
    head = text[:200_000]
    for marker, what in _CHALLENGE_MARKERS:
        if marker in cookies or marker in head:
            return f"{VERIFY} ({what})"
    if status == 521:
        return f"{VERIFY} (HTTP 521 challenge)"
    if status == 401:
        return f"{LOGIN} (HTTP 401)"
    final, first = urlsplit(url), urlsplit(requested)
    if final.path != first.path and _LOGIN_PATH.search(final.path + "?" + final.query):
        return f"{LOGIN} (redirected to {url})"
    weak = _WEAK_MARKERS.search(head) if len(text) < 50_000 else None
    if weak and len(visible_text(parse_html(text, url))) < 400:
        cloudflare = weak.group(0).lower() in ("challenge-platform", "just a moment")
        return f"{VERIFY} ({'JavaScript challenge: Cloudflare' if cloudflare else 'CAPTCHA page'})"
    if status == 403:
        return "access denied (HTTP 403); not bypassed"
    return None


def has_password_form(doc: Any) -> bool:
    """Whether the document has a password field (a login page)."""
    return any((el.get("type") or "").lower() == "password" for el in doc.iter("input"))


class PageReader:
    """Fetches and decodes pages for one source, refusing walls. Thread-compatible."""

    def __init__(
        self,
        source_id: str,
        http: PoliteClient,
        *,
        allow_host: Callable[[str], bool],
        hints: Sequence[str],
        max_bytes: int,
    ) -> None:
        self.source_id = source_id
        self.http = http
        self.allow_host = allow_host
        self.hints = tuple(hints)
        self.max_bytes = max_bytes or None

    def _robots_wall(
        self, status: int, headers: Mapping[str, str], body: bytes, robots_url: str
    ) -> None:
        """A robots.txt that cannot be had because the site walls every path (加速乐
        answers robots.txt with its HTTP 521 cookie script too) is the same alert as
        a walled page, not "robots.txt unavailable"."""
        text, _codec, _warnings = decode_html(body, headers, self.hints)
        wall = detect_wall(status, headers, strip_controls(text), robots_url, robots_url)
        if wall:
            raise SourceAlert(self.source_id, wall, robots_url)

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        method: str = "GET",
        data: dict[str, str] | None = None,
        accept: str = ACCEPT,
    ) -> tuple[Page | None, str | None, str | None]:
        """``(page, etag, last_modified)``; ``page`` is None for a 304.

        Raises ``Disallowed`` (robots.txt), ``SourceAlert`` (challenge, login wall,
        garbled text), ``FetchError`` / ``RetryLater``.
        """
        with net_errors(self.source_id):
            if not self.http.robots_allows(self.source_id, url, wall=self._robots_wall):
                raise Disallowed(url)
            resp = self.http.get(
                self.source_id,
                url,
                etag=etag,
                last_modified=last_modified,
                accept=accept,
                max_bytes=self.max_bytes,
                allow_hosts=self.allow_host,
                method=method,
                data=data,
                raise_for_status=False,
            )
        new_etag = resp.headers.get("etag") or etag
        new_lm = resp.headers.get("last-modified") or last_modified
        if resp.not_modified:
            return None, new_etag, new_lm
        text, _codec, warnings = decode_html(resp.content, resp.headers, self.hints)
        text = strip_controls(text)
        wall = detect_wall(resp.status, resp.headers, text, resp.url, url)
        if wall:
            raise SourceAlert(self.source_id, wall, resp.url)
        if not 200 <= resp.status < 300:
            raise FetchError(self.source_id, resp.url, f"HTTP {resp.status}")
        if garbled(text):
            raise SourceAlert(
                self.source_id,
                "garbled text: no charset decodes the page cleanly; " + "; ".join(warnings),
                resp.url,
            )
        page = Page(resp.url, dict(resp.headers), text, parse_html(text, resp.url), tuple(warnings))
        return page, new_etag, new_lm
