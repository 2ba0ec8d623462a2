"""Sanitizing cost: linear in size, whatever the nesting (syncd.sanitize, syncd.nesting)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import nh3
import pytest

from syncd.nesting import bound
from syncd.sanitize import MAX_DEPTH, TAGS, clean_html, to_text
from syncd.sources import SourceState
from tests.support.feedsource import feed
from tests.support.loopback import LoopbackServer, Reply, serve


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as s:
        yield s


def nested(size: int, unit: str = "<div>", close: str = "</div>") -> str:
    n = size // (len(unit) + len(close))
    return unit * n + "tief" + close * n


def seconds(work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(
    ("unit", "close"),
    [("<div>", "</div>"), ("<div>", ""), ("<div><b>", "</b></div>"), ('<b title="x"><p>', "")],
)
@pytest.mark.parametrize("sanitize", [clean_html, to_text])
def test_cost_grows_linearly_with_nesting(
    unit: str, close: str, sanitize: Callable[[str], str]
) -> None:
    """40,000 nested elements (440 KB) took 73 s: html5ever is quadratic in depth."""
    small = seconds(lambda: sanitize(nested(100_000, unit, close)))
    large = seconds(lambda: sanitize(nested(400_000, unit, close)))
    assert large < 10 * max(small, 0.005), (small, large)  # linear: 4; quadratic: 16
    assert large < 5


def test_a_deeply_nested_document_is_flattened_below_the_cap() -> None:
    out = clean_html(nested(440_000))
    assert out == "<div>" * MAX_DEPTH + "tief" + "</div>" * MAX_DEPTH
    assert to_text(nested(440_000)) == "tief"


def test_reopened_formatting_cannot_multiply_nodes() -> None:
    """Formatting tags with distinct attributes, re-opened by the parser after every
    block, turned 2,000 tags into 19 MB; attributes nobody keeps are dropped first."""
    doc = "<p>" + "".join(f'<b title="{i}">' for i in range(1000)) + "<div>x</div>" * 1000
    out = clean_html(doc)
    assert len(out) < 20 * len(doc)
    assert out.count("x") == 1000


def test_a_feed_with_a_nested_body_is_read_in_bounded_time(server: LoopbackServer) -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<item><guid>a</guid><title>Tief</title><description><![CDATA[{nested(440_000)}"
        "]]></description></item></channel></rss>"
    ).encode()
    server.routes["/feed"] = lambda req: Reply(200, body, {"Content-Type": "application/rss+xml"})
    start = time.perf_counter()
    (item,) = feed(server, "/feed").fetch(SourceState()).items
    assert time.perf_counter() - start < 10
    assert item.body_html.count("<div>") == MAX_DEPTH and "tief" in item.body_html


@pytest.mark.parametrize(
    ("fragment", "canonical"),
    [
        ("<p>a<p>b<ul><li>c<li>d</ul>e", "<p>a</p><p>b</p><ul><li>c</li><li>d</li></ul>e"),
        ("a</div>b</span>c", "abc"),  # stray end tags
        ("<!-- <div> -->x<script>'</div>'</script>y", "xy"),
        ('<a href="/x?a>b" onclick="f()" HREF="/y">z</a>', '<a href="/x?a>b">z</a>'),
        ("<DIV CLASS='syncd-review'>1 < 2</DIV>", '<div class="syncd-review">1 &lt; 2</div>'),
        ("<table><tr><td>1<td>2<tr><td>3</table>", "<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>"),
        ("<textarea><b>t</b></textarea><unknown>u</unknown><br/>", "&lt;b&gt;t&lt;/b&gt;u<br>"),
        ("<svg><text>weg</text></svg>da<div", "da"),
    ],
)  # fmt: skip
def test_the_bounding_pass_writes_what_html_means(fragment: str, canonical: str) -> None:
    """Canonical form; html5ever reads it as it reads the original."""
    attributes = {"a": {"href"}, "div": {"class"}}
    drop = {"script", "svg", "style"}
    result = bound(fragment, tags=TAGS, attributes=attributes, drop_with_content=drop, max_depth=8)
    assert result.html == canonical
    assert nh3.clean(result.html, tags=set(TAGS)) == nh3.clean(
        fragment, tags=set(TAGS), clean_content_tags=drop
    )


def test_misnested_formatting_is_closed_where_its_parent_closes() -> None:
    """The one difference to html5ever, which re-opens <i> for " danach"."""
    result = bound(
        "<b>fett<i>schräg</b> danach</i>",
        tags=TAGS,
        attributes={},
        drop_with_content=(),
        max_depth=8,
    )
    assert result.html == "<b>fett<i>schräg</i></b> danach"
