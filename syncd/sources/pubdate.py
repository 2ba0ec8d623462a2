"""An article's publication date, and where it came from (pure: no I/O).

Candidates, in the order they are trusted:

1. date metadata: ``<meta name="PubDate">``, ``article:published_time`` and the other
   date metas (``meta:<name>``);
2. the kind's ``article_date`` selector (``article_date``);
3. the first ``<time datetime>`` in the body, else on the page (``<time>``);
4. the visible publication line: a label such as ``发布日期：`` / ``发布时间：`` /
   ``Veröffentlicht am`` and the date after it, in full- or half-width digits, as
   ``2026-11-23``, ``2026年11月23日`` or ``23.11.2026``, with or without a time
   (``page text``);
5. the list entry (``list``).

The first found wins. When it is date-only (no time of day) and a later candidate
gives a time on the same local day, that one is taken instead: a portal whose
``PubDate`` is empty or a bare date still shows the time in its text. A date-only
date is midnight in the city's zone and says so (``Dated.date_only``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from .decode import find_date, normalize_digits
from .pages import Page, visible_text

#: (attribute, lower-case name) of the date metas, most trusted first
DATE_METAS = (
    ("name", "pubdate"),
    ("property", "article:published_time"),
    ("name", "publishdate"),
    ("name", "dc.date.issued"),
    ("name", "dc.date"),
    ("name", "dcterms.date"),
    ("name", "date"),
    ("itemprop", "datepublished"),
)
#: labels of a visible publication line (matched on NFKC-normalized text)
_LABEL = re.compile(
    r"(?:(?:发布日期|发布时间|发表时间|发文日期|成文日期|日期|时间|"
    r"datum|veröffentlicht|published)\s*[:：]"
    r"|veröffentlicht am|erschienen am|erstellt am|pressemitteilung vom|published on)\s*",
    re.I,
)
#: how far after a label a date may start (a label and its date sit together)
_REACH = 40
#: how much visible text is searched (the line sits near the top of the article)
_SCAN = 20_000


@dataclass(frozen=True)
class Dated:
    """A publication date (UTC), where it was found, and whether it is date-only."""

    value: datetime
    source: str
    date_only: bool = False


def dated(text: str | None, tz: tzinfo, formats: Sequence[str], source: str) -> Dated | None:
    """The date in ``text`` as a ``Dated`` from ``source``, or None."""
    found = find_date(text, tz, formats)
    return None if found is None else Dated(found[0], source, found[1])


def meta_dates(page: Page, tz: tzinfo, formats: Sequence[str]) -> Iterator[Dated]:
    for attr, name in DATE_METAS:
        d = dated(page.meta(attr, name), tz, formats, f"meta:{name}")
        if d is not None:
            yield d


def time_element(roots: Iterable[Any], tz: tzinfo, formats: Sequence[str]) -> Dated | None:
    """The first ``<time datetime>`` in the first root that has one."""
    for root in roots:
        times = [t for t in root.iter("time") if t.get("datetime")]
        if times:
            return dated(times[0].get("datetime"), tz, formats, "<time>")
    return None


def visible_line(doc: Any, tz: tzinfo, formats: Sequence[str]) -> Dated | None:
    """The date of the page's visible publication line (see the module docstring)."""
    text = normalize_digits(visible_text(doc)[:_SCAN])
    for m in _LABEL.finditer(text):
        after = text[m.end() : m.end() + _REACH + 30]
        d = dated(after, tz, formats, "page text")
        # the date must follow the label closely, not be any date further on
        if d is not None and _starts_near(after):
            return d
    return None


def _starts_near(after: str) -> bool:
    m = re.search(r"\d", after)
    return m is not None and m.start() <= _REACH


def choose(candidates: Iterable[Dated | None], tz: tzinfo) -> Dated | None:
    """The first candidate, refined by a later one with a time on the same local day
    when the first is date-only."""
    first: Dated | None = None
    for c in candidates:
        if c is None:
            continue
        if first is None:
            if not c.date_only:
                return c
            first = c
        elif not c.date_only and c.value.astimezone(tz).date() == first.value.astimezone(tz).date():
            return c
    return first
