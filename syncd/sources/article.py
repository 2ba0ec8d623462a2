"""Reading an article page: title, date, summary, body and images (pure: no I/O).

``read_article(page, spec, entry)`` takes a fetched ``Page``, the source's
``ArticleSpec`` and the list ``Entry`` that led to it. Where things come from, first
found wins:

- title: ``<meta name="ArticleTitle">``, ``og:title``, the list entry, ``<title>``;
- summary: the ``teaser`` selector on the article, the list teaser unless cropped
  (``…``), ``<meta name="description">``, ``og:description``;
- categories: the ``categories`` selector, else ``<meta name="ColumnName">``;
- date: metadata, the ``article_date`` selector, ``<time datetime>``, the visible
  publication line, the list entry (``sources/pubdate.py``: which one was used and
  whether the date is date-only travel with the article);
- body: the Hanweb ``ContentStart``/``ContentEnd`` markers when the spec asks for
  them, then the ``body`` selectors (minus ``remove``); when they find nothing,
  trafilatura (the item is flagged ``generic-extractor``); under ``min_body``
  characters of text the item is flagged ``tiny-body``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urljoin

import lxml.html
import trafilatura

from ..models import Image
from ..sanitize import clean_html, escape, to_text
from .decode import strip_controls
from .pages import Page
from .pubdate import Dated, choose, dated, meta_dates, time_element, visible_line

MAX_TITLE = 1000
MAX_IMAGES = 20


@dataclass(frozen=True)
class Entry:
    """One list entry: where the article is and what the list said about it."""

    url: str  # absolute, canonical: the item key
    title: str = ""
    published: datetime | None = None
    teaser: str = ""
    date_only: bool = False  # the list gave a day without a time


@dataclass(frozen=True)
class ArticleSpec:
    """How to read an article page of one source."""

    tz: tzinfo
    body: Sequence[Any] = ()  # compiled CSSSelectors, tried in order
    remove: Sequence[Any] = ()
    date: Any = None
    date_formats: tuple[str, ...] = ()
    min_body: int = 200
    markers: bool = False  # Hanweb <meta name="ContentStart"> … ContentEnd
    teaser: Any = None  # the article's own teaser (lead)
    images: Any = None  # the article's images outside the body
    categories: Any = None  # the article's categories, one per element


class NoBody(Exception):
    """Neither the selectors nor the generic extractor found a body (internal)."""


_CONTENT_MARKERS = re.compile(
    r"""<meta\s+name=["']?ContentStart["']?\s*/?>(.*?)<meta\s+name=["']?ContentEnd["']?""",
    re.I | re.S,
)


def element_text(el: Any) -> str:
    """The text of an element, whitespace collapsed."""
    return " ".join((el.text_content() or "").split())


def select_body(doc: Any, selectors: Sequence[Any]) -> list[Any]:
    """The outermost elements the first selector that matches anything finds."""
    for sel in selectors:
        found = sel(doc)
        outer = [el for el in found if not any(o in el.iterancestors() for o in found)]
        if outer:
            return outer
    return []


def _body_from_markers(page: Page) -> list[Any]:
    m = _CONTENT_MARKERS.search(page.text)
    if not m:
        return []
    frag = lxml.html.fragment_fromstring(m.group(1) or " ", create_parent="div")
    frag.make_links_absolute(page.url, resolve_base_href=False, handle_failures="discard")
    return [frag]


def _serialize(elements: Iterable[Any], remove: Sequence[Any]) -> str:
    """The inner HTML of the body containers (the containers' own tags are layout)."""
    parts = []
    for el in elements:
        for sel in remove:
            for bad in sel(el):
                if bad is not el and bad.getparent() is not None:
                    bad.drop_tree()
        parts.append(escape(el.text or ""))
        parts.extend(lxml.html.tostring(child, encoding="unicode", method="html") for child in el)
    return "".join(parts)


def _images(body_html: str, page: Page, spec: ArticleSpec) -> tuple[Image, ...]:
    """The body's images, then those the ``images`` selector finds outside it (a
    TYPO3 news image block), with their alt text; else ``og:image``."""
    out: list[Image] = []
    seen: set[str] = set()
    imgs: list[Any] = []
    if body_html:
        imgs += lxml.html.fragment_fromstring(body_html, create_parent="div").iter("img")
    if spec.images is not None:
        for el in spec.images(page.doc):
            imgs += [el] if el.tag == "img" else list(el.iter("img"))
    for img in imgs:
        src = img.get("src") or ""
        if src.startswith(("http://", "https://")) and src not in seen:
            seen.add(src)
            out.append(Image(url=src, title=to_text(img.get("alt") or "").strip() or None))
    og = urljoin(page.url, page.meta("property", "og:image"))
    if not out and og != page.url and og.startswith(("http://", "https://")):
        out.append(Image(url=og))
    return tuple(out[:MAX_IMAGES])


@dataclass(frozen=True)
class Article:
    title: str
    published: datetime | None
    summary: str
    raw_body: str
    body_html: str
    images: tuple[Image, ...]
    flags: tuple[str, ...]
    warnings: tuple[str, ...]
    meta: dict[str, str]
    date_source: str = ""  # where ``published`` came from (``sources/pubdate.py``)
    date_only: bool = False
    categories: tuple[str, ...] = ()


def read_article(page: Page, spec: ArticleSpec, entry: Entry) -> Article:
    """Title, date, summary and sanitized body of an article page (raises ``NoBody``)."""
    title = page.meta("name", "articletitle") or page.meta("property", "og:title") or entry.title
    if not title:
        t = page.doc.find(".//title")
        title = element_text(t) if t is not None else ""
    flags: list[str] = []
    warnings: list[str] = []
    elements = _body_from_markers(page) if spec.markers else []
    if not elements:
        elements = select_body(page.doc, spec.body)
    date = _published(page, spec, entry, elements)
    raw = _serialize(elements, spec.remove) if elements else ""
    body = clean_html(raw)
    if not to_text(body) and "<img" not in body:
        if spec.body:
            warnings.append(f"body selector matched nothing on {page.url}; generic extractor used")
        extracted = trafilatura.extract(
            page.text, url=page.url, output_format="html", include_images=True, include_links=True
        )
        raw = strip_controls(extracted or "")
        body = clean_html(raw)
        flags.append("generic-extractor")
        if not to_text(body):
            raise NoBody(
                f"{page.url}: no article body (body selector and generic extractor found nothing)"
            )
    if len(to_text(body)) < spec.min_body:
        flags.append("tiny-body")
        warnings.append(f"tiny body ({len(to_text(body))} characters) on {page.url}")
    # a list crops long teasers ("…"): the article's own teaser is the whole one
    cropped = entry.teaser.rstrip().endswith(("…", "...", "[…]"))
    own = [element_text(el) for el in spec.teaser(page.doc)] if spec.teaser is not None else []
    summary = (
        next((t for t in own if t), "")
        or ("" if cropped else entry.teaser)
        or page.meta("name", "description")
        or page.meta("property", "og:description")
        or entry.teaser
    )
    categories = (
        [element_text(el) for el in spec.categories(page.doc)]
        if spec.categories is not None
        else []
    )
    categories = list(dict.fromkeys(c for c in categories if c))
    column = page.meta("name", "columnname")
    if not categories and column:
        categories = [column]
    meta = {
        k: page.meta("name", k.lower())
        for k in ("ContentSource", "ColumnName", "SiteName")
        if page.meta("name", k.lower())
    }
    return Article(
        title=to_text(title)[:MAX_TITLE],
        published=date.value if date else None,
        summary=to_text(summary),
        raw_body=raw,
        body_html=body,
        images=_images(body, page, spec),
        flags=tuple(flags),
        warnings=tuple(warnings),
        meta=meta,
        categories=tuple(to_text(c) for c in categories),
        date_source=date.source if date else "",
        date_only=date.date_only if date else False,
    )


def _published(page: Page, spec: ArticleSpec, entry: Entry, elements: list[Any]) -> Dated | None:
    tz, formats = spec.tz, spec.date_formats

    def candidates() -> Iterator[Dated | None]:
        yield from meta_dates(page, tz, formats)
        if spec.date is not None:
            for el in spec.date(page.doc):
                text = el.get("datetime") or el.get("content") or element_text(el)
                yield dated(text, tz, formats, "article_date")
        yield time_element([*elements, page.doc], tz, formats)
        yield visible_line(page.doc, tz, formats)
        if entry.published is not None:
            yield Dated(entry.published, "list", entry.date_only)

    return choose(candidates(), tz)
