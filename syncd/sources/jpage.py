"""``kind = "jpage"``: column pages of the Hanweb JCMS government-site platform.

Jinhua and most Zhejiang (also Jiangsu, Shandong) government portals serve a column
at ``/col/col<id>/index.html``. Its entries are not in the page's markup but in an
embedded data island that the platform's ``jpage`` script renders::

    <script type="text/xml"><datastore>
      <nextgroup><![CDATA[<a href="/module/jpage/dataproxy.jsp?page=1&webid=…&path=/
        &columnid=…&unitid=…&webname=…&permissiontype=0"></a>]]></nextgroup>
      <recordset>
        <record><![CDATA[<li><a href="/art/2024/3/22/art_…_….html" title="…">…</a>
          <span>2024-03-22</span></li>]]></record> …
      </recordset></datastore></script>

Further entries come from ``dataproxy.jsp`` (POST ``?startrecord=&endrecord=&perpage=``
with the form fields ``col, appid, webid, path, columnid, sourceContentType, unitid,
webname, permissiontype``). Its path differs by province, so it and the ids are read
from the column page itself (the ``nextgroup`` link, else the paging script), never
hard-coded; ``proxy`` in the options is only a last resort.

Articles carry the metadata tags the national standard for government sites asks
for: ``ArticleTitle``, ``PubDate`` (Beijing time, no offset), ``ContentSource``,
``ColumnName``; the body sits between ``<meta name="ContentStart">`` and
``<meta name="ContentEnd">``, else in one of the usual containers (``body``), else
the generic extractor takes it. ``ContentSource`` (the originating outlet) is kept
as a credit line under the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

import lxml.html
from lxml import etree

from ..config import CityConfig, Duration, SourceConfig
from ..errors import FetchError, SourceAlert
from ..net.http import PoliteClient, cache_hint
from ..sanitize import escape, to_text
from . import SourceState
from .article import Article, ArticleSpec, Entry
from .decode import find_date
from .page import Listing, PageMemory, PageSource
from .pages import Disallowed, Page
from .selectors import canonical_url, css, regex_problem, selector_problem

XML_ACCEPT = "text/xml,application/xml;q=0.9,*/*;q=0.1"
_RECORD = re.compile(r"<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.S | re.I)
_NEXTGROUP = re.compile(r"<nextgroup>\s*<!\[CDATA\[(.*?)\]\]>\s*</nextgroup>", re.S | re.I)
_TOTAL = re.compile(
    r"<totalrecord>\s*(\d+)\s*</totalrecord>|totalRecord\s*[:=]\s*['\"]?(\d+)", re.I
)
_PROXY = re.compile(r"""["']?((?:/[\w.-]+)*/jpage/dataproxy\.jsp)""", re.I)
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.I)
#: the form fields dataproxy.jsp takes, with the platform's constant values
FORM = {
    "col": "1",
    "appid": "1",
    "webid": "",
    "path": "/",
    "columnid": "",
    "sourceContentType": "1",
    "unitid": "",
    "webname": "",
    "permissiontype": "0",
}
_IDS = ("appid", "webid", "path", "columnid", "unitid", "webname", "permissiontype")
MAX_RECORDS = 1000


@dataclass(frozen=True)
class Options:
    #: list pages read per poll (the column page shows the first; dataproxy.jsp the rest)
    pages: int = 1
    #: entries per list page, as the column pages it (perpage)
    per_page: int = 15
    #: path of dataproxy.jsp, only when the column page does not show it
    proxy: str = ""
    #: regular expression an article URL must contain (re.search)
    allow: str = r"/art/\d{4}/\d{1,2}/\d{1,2}/art_\d+_\d+\.html"
    #: hosts besides the column page's own that articles and redirects may be on
    allow_hosts: tuple[str, ...] = ()
    #: body containers tried in order after the ContentStart/ContentEnd markers
    body: tuple[str, ...] = (
        "#zoom",
        ".zoom",
        "#Zoom",
        ".art_con",
        "#art_content",
        ".article-content",
    )
    #: parts of the body to drop
    remove: tuple[str, ...] = ()
    #: on the article: its date, when the page has no date metadata (the visible
    #: publication line, "发布日期：…", is read without it)
    article_date: str = ""
    #: strptime formats tried before the built-in date patterns
    date_formats: tuple[str, ...] = ()
    #: at most this many articles read per poll (the newest entries)
    max_articles: int = 20
    #: body text shorter than this (characters) is flagged "tiny-body"
    min_body: int = 50
    #: an article read less than this long ago is not fetched again
    revisit: Duration = field(default_factory=lambda: Duration(hours=6))
    #: byte cap per page; 0 uses http.max_bytes
    max_bytes: int = 0


def check_options(source: SourceConfig, options: Options) -> tuple[str, str] | None:
    if not source.url.startswith(("http://", "https://")):
        return "url", "expected the column page's http(s) URL (…/col/col<id>/index.html)"
    if options.article_date and (problem := selector_problem(options.article_date)):
        return "article_date", problem
    for key, sels in (("body", options.body), ("remove", options.remove)):
        for i, sel in enumerate(sels):
            problem = selector_problem(sel)
            if problem:
                return f"{key}[{i}]", problem
    if options.allow and (problem := regex_problem(options.allow)):
        return "allow", problem
    for key in ("pages", "per_page", "max_articles"):
        if getattr(options, key) < 1:
            return key, "expected at least 1"
    if options.proxy and not options.proxy.startswith("/"):
        return "proxy", "expected an absolute path like /module/jpage/dataproxy.jsp"
    return None


def records(text: str) -> list[str]:
    """The HTML fragments of the ``<record>`` entries in a column page or proxy answer."""
    return _RECORD.findall(text)[:MAX_RECORDS]


def paging(text: str, page_url: str, fallback_proxy: str) -> tuple[str | None, dict[str, str]]:
    """(dataproxy URL, form ids) found in a column page; the URL is None when unknown."""
    ids: dict[str, str] = {}
    proxy: str | None = None
    group = _NEXTGROUP.search(text)
    href = _HREF.search(group.group(1)) if group else None
    if href:
        link = urlsplit(href.group(1).replace("&amp;", "&"))
        if link.path.endswith("dataproxy.jsp"):
            proxy = link.path
        ids.update((k, v) for k, v in parse_qsl(link.query, keep_blank_values=True) if k in _IDS)
    for key in _IDS:
        if key not in ids:
            m = re.search(rf"""\b{key}\s*[:=]\s*['"]?([^'",&\s}}<>]+)""", text)
            if m:
                ids[key] = m.group(1)
    if "columnid" not in ids:
        m = re.search(r"/col/col(\d+)/", page_url)
        if m:
            ids["columnid"] = m.group(1)
    if proxy is None:
        m = _PROXY.search(text)
        proxy = m.group(1) if m else (fallback_proxy or None)
    ids = {k: form_value(v) for k, v in ids.items()}
    if proxy is None or not all(ids.get(k) for k in ("webid", "columnid", "unitid")):
        return None, ids
    return urljoin(page_url, proxy), ids


def form_value(value: str) -> str:
    """A form value as the browser sends it: decoded. Pages carry ``webname`` encoded
    once or twice in the ``nextgroup`` link (and encoded in the paging script); the
    form is encoded once when it is posted, so the value is decoded until it no
    longer changes (at most three rounds; never into bytes that are not UTF-8)."""
    for _ in range(3):
        try:
            decoded = unquote(value, errors="strict")
        except UnicodeDecodeError:
            break
        if decoded == value:
            break
        value = decoded
    return value


def total_records(text: str) -> int | None:
    m = _TOTAL.search(text)
    return int(m.group(1) or m.group(2)) if m else None


class JpageSource(PageSource):
    def __init__(
        self,
        source: SourceConfig,
        city: CityConfig,
        http: PoliteClient,
        memory: PageMemory | None = None,
    ) -> None:
        opts: Options = source.options
        super().__init__(source, city, http, memory)
        self.options = opts
        self._allow = re.compile(opts.allow) if opts.allow else None
        self.spec = ArticleSpec(
            tz=city.tz,
            body=[css(s) for s in opts.body],
            remove=[css(s) for s in opts.remove],
            date=css(opts.article_date),
            date_formats=opts.date_formats,
            min_body=opts.min_body,
            markers=True,
        )

    def listing(self, state: SourceState) -> Listing:
        try:
            page, etag, lm = self.reader.fetch(
                self.url, etag=state.etag, last_modified=state.last_modified
            )
        except Disallowed:
            raise SourceAlert(
                self.id, "robots.txt disallows the column page for syncd; not fetched", self.url
            ) from None
        if page is None:
            return Listing(not_modified=True, etag=etag, last_modified=lm)
        warnings = list(page.warnings)
        found = records(page.text)
        if not found:
            if "<datastore" in page.text.lower():
                reason = "layout changed: the column page's <datastore> has no <record> entries"
            else:
                reason = "layout changed: the column page has no <datastore> record list"
            raise SourceAlert(self.id, reason, page.url)
        entries = self._entries(page.url, found)
        if not entries:
            raise SourceAlert(
                self.id,
                f"layout changed: {len(found)} records but none had an allowed article link",
                page.url,
            )
        wanted = self.options.pages * self.options.per_page
        total = total_records(page.text)
        if len(found) < wanted and (total is None or total > len(found)):
            entries += self._more(
                page, len(found), wanted, total, {e.url for e in entries}, warnings
            )
        return Listing(
            tuple(entries[:wanted]),
            etag=etag,
            last_modified=lm,
            warnings=tuple(warnings),
            min_delay=cache_hint(page.headers, self.http.now()),
        )

    def _more(
        self,
        page: Page,
        have: int,
        wanted: int,
        total: int | None,
        known: set[str],
        warnings: list[str],
    ) -> list[Entry]:
        """Entries after the first ``have`` records, from dataproxy.jsp (failures are warnings)."""
        proxy, ids = paging(page.text, page.url, self.options.proxy)
        if proxy is None:
            warnings.append("further pages not read: no dataproxy.jsp ids on the column page")
            return []
        form = {**FORM, **ids}
        out: list[Entry] = []
        start = have + 1
        per = self.options.per_page
        while start <= wanted and (total is None or start <= total):
            end = min(wanted, start + 3 * per - 1)  # the platform serves groups of 3 pages
            url = f"{proxy}?startrecord={start}&endrecord={end}&perpage={per}"
            try:
                answer, _e, _l = self.reader.fetch(url, method="POST", data=form, accept=XML_ACCEPT)
            except (FetchError, Disallowed) as exc:
                warnings.append(f"further pages not read: {exc}")
                break
            if answer is None:
                break
            batch = records(answer.text)
            if not batch:
                break
            for e in self._entries(page.url, batch):
                if e.url not in known:
                    known.add(e.url)
                    out.append(e)
            start += len(batch)
        return out

    def _entries(self, base: str, fragments: list[str]) -> list[Entry]:
        out: list[Entry] = []
        for frag_html in fragments:
            try:
                frag = lxml.html.fragment_fromstring(frag_html or " ", create_parent="div")
            except etree.ParserError:
                continue
            link = next((a for a in frag.iter("a") if a.get("href")), None)
            if link is None:
                continue
            url = canonical_url(urljoin(base, link.get("href", "").strip()))
            if not url.startswith(("http://", "https://")):
                continue
            if not self.reader.allow_host(urlsplit(url).hostname or ""):
                continue
            if self._allow is not None and not self._allow.search(url):
                continue
            link_text = " ".join(link.text_content().split())
            rest = " ".join(frag.text_content().split()).replace(link_text, " ")
            title = (link.get("title") or "").strip() or link_text
            date = find_date(rest, self.tz, self.options.date_formats)
            out.append(
                Entry(
                    url,
                    to_text(title),
                    date[0] if date else None,
                    date_only=date[1] if date else False,
                )
            )
        return out

    def decorate(self, article: Article) -> Article:
        credit = article.meta.get("ContentSource", "").strip()
        if not credit or credit in to_text(article.body_html):
            return article
        body = f"{article.body_html}<p>来源：{escape(credit)}</p>"
        return Article(**{**article.__dict__, "body_html": body})


def make(
    source: SourceConfig, city: CityConfig, http: PoliteClient, memory: PageMemory | None = None
) -> JpageSource:
    """The source; ``memory`` (the store) remembers its article pages across polls."""
    return JpageSource(source, city, http, memory)
