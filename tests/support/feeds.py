"""Build small RSS 2.0 documents for tests. Contains no business logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape


@dataclass
class Entry:
    guid: str
    title: str
    body: str = ""
    link: str | None = None
    pub: str | None = "Wed, 25 Nov 2026 10:00:00 +0100"
    categories: list[str] = field(default_factory=list)


def rss(entries: list[Entry], title: str = "News") -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>',
        f"<title>{escape(title)}</title><link>https://example.org/</link><description>d</description>",
    ]
    for e in entries:
        parts.append("<item>")
        parts.append(f"<title>{escape(e.title)}</title>")
        parts.append(f'<guid isPermaLink="false">{escape(e.guid)}</guid>')
        if e.link:
            parts.append(f"<link>{escape(e.link)}</link>")
        if e.pub:
            parts.append(f"<pubDate>{e.pub}</pubDate>")
        for c in e.categories:
            parts.append(f"<category>{escape(c)}</category>")
        if e.body:
            parts.append(f"<content:encoded><![CDATA[{e.body}]]></content:encoded>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")
