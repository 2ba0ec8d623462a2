"""``kind = "jpage"`` against a Hanweb JCMS fixture column on loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from syncd.errors import SourceAlert
from syncd.sources import SourceState
from syncd.sources.jpage import JpageSource, make, paging
from tests.sources.sites import (
    JINHUA_COL,
    JINHUA_OPTIONS,
    JINHUA_PROXY,
    client,
    html,
    jinhua_site,
    load,
    read,
    source,
)
from tests.support.loopback import LoopbackServer, Reply

ART = "/art/2024/3/{}/art_1229160587_{}.html"


def jinhua(tmp_path: Path, server: LoopbackServer, **options: Any) -> JpageSource:
    table = {
        "id": "jinhua-news",
        "kind": "jpage",
        "url": server.url + JINHUA_COL,
        **JINHUA_OPTIONS,
        **options,
    }
    src, city = source(load(tmp_path, ("jinhua", table)), "jinhua-news")
    return make(src, city, client())


def test_column_page_and_dataproxy_give_items(tmp_path: Path, server: LoopbackServer) -> None:
    posts = jinhua_site(server)
    result = jinhua(tmp_path, server).fetch(SourceState())
    u = server.url
    assert [i.key for i in result.items] == [
        u + ART.format(22, 60291234),
        u + ART.format(21, 60291200),  # ?spm=… tracking dropped
        u + ART.format(20, 60291150),
        u + ART.format(19, 60291100),
    ]
    # the second page came from dataproxy.jsp with the ids read off the column page
    (form,) = posts
    assert form == {
        "col": "1",
        "appid": "1",
        "webid": "2779",
        "path": "/",
        "columnid": "1229160587",
        "sourceContentType": "1",
        "unitid": "4709530",
        "webname": "金华市人民政府",
        "permissiontype": "0",
        "?": "startrecord=3&endrecord=4&perpage=2",
    }
    first, second, gbk, generic = result.items
    assert first.title == "金华市召开2024年一季度经济形势分析会"
    assert first.published == datetime(2024, 3, 22, 2, 0, tzinfo=UTC)  # PubDate, Beijing time
    assert "3月22日，金华市召开" in first.body_html
    assert (
        "分享到" not in first.body_html and "浏览次数" not in first.body_html
    )  # outside ContentStart/End
    assert first.body_html.endswith("<p>来源：金华日报</p>")  # ContentSource kept as credit
    assert [i.url for i in first.images] == [u + "/picture/0/2403221000.jpg"]
    assert first.categories == ("金华要闻",)
    assert first.summary == "3月22日，金华市召开2024年一季度经济形势分析会。"
    assert first.flags == ()
    # full-width digits in PubDate; credit already in the body is not repeated
    assert second.published == datetime(2024, 3, 21, 7, 30, tzinfo=UTC)
    assert second.body_html.count("市外办") == 2
    # declared gb2312, holds 镕 (GBK only): decoded as GB18030, nothing garbled
    assert gbk.title == "我市多所学校开展春季研学活动"
    assert "带队教师朱镕说" in gbk.body_html and "\ufffd" not in gbk.body_html
    assert gbk.published == datetime(2024, 3, 20, 1, 15, tzinfo=UTC)
    assert generic.flags == ("generic-extractor",)
    assert "市长主持召开市政府常务会议" in generic.body_html
    assert result.entry_errors == ()


def test_one_page_reads_no_dataproxy(tmp_path: Path, server: LoopbackServer) -> None:
    posts = jinhua_site(server)
    result = jinhua(tmp_path, server, pages=1).fetch(SourceState())
    assert len(result.items) == 2 and posts == []


def test_paging_ids_come_from_the_page_itself() -> None:
    text = read("jinhua/col.html")
    url, ids = paging(text, "https://www.jinhua.gov.cn/col/col1229160587/index.html", "")
    assert url == "https://www.jinhua.gov.cn/module/jpage/dataproxy.jsp"
    assert ids["unitid"] == "4709530" and ids["webid"] == "2779"
    # Jiangsu/Shandong sites: another path, ids only in the script; taken from there
    other = (
        '<script>var x = {webid: "12", columnid: 34, unitid: "56", webname: "某市"};'
        "$.jpage({proxyUrl: '/module/web/jpage/dataproxy.jsp'})</script>"
    )
    url, ids = paging(other, "https://www.example.gov.cn/col/col34/index.html", "")
    assert url == "https://www.example.gov.cn/module/web/jpage/dataproxy.jsp"
    assert (ids["webid"], ids["columnid"], ids["unitid"]) == ("12", "34", "56")
    assert paging("<p>nothing</p>", "https://x/col/col1/index.html", "")[0] is None


def test_dataproxy_failure_is_a_warning_not_a_lost_first_page(
    tmp_path: Path, server: LoopbackServer
) -> None:
    jinhua_site(server)
    server.routes[JINHUA_PROXY] = lambda req: Reply(500, b"error")
    result = jinhua(tmp_path, server).fetch(SourceState())
    assert len(result.items) == 2
    assert any(w.startswith("further pages not read") and "HTTP 500" in w for w in result.warnings)


def test_missing_ids_are_a_warning(tmp_path: Path, server: LoopbackServer) -> None:
    jinhua_site(server)
    col = read("jinhua/col.html")
    start, end = col.index("<nextgroup>"), col.index("</nextgroup>") + len("</nextgroup>")
    server.routes[JINHUA_COL] = html((col[:start] + col[end:]).replace("proxyUrl", "x"))
    result = jinhua(tmp_path, server).fetch(SourceState())
    assert len(result.items) == 2
    assert "further pages not read: no dataproxy.jsp ids on the column page" in result.warnings


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ("<html><body><ul><li>改版后的页面</li></ul></body></html>",
         "layout changed: the column page has no <datastore> record list"),
        ("<script type='text/xml'><datastore><recordset></recordset></datastore></script>",
         "layout changed: the column page's <datastore> has no <record> entries"),
        ("<datastore><recordset><record><![CDATA[<li><a href='/col/col2/index.html'>x</a></li>]]></record>"
         "</recordset></datastore>", "layout changed: 1 records but none had an allowed article link"),
    ],
)  # fmt: skip
def test_relaunched_column_is_a_layout_alert(
    tmp_path: Path, server: LoopbackServer, page: str, reason: str
) -> None:
    jinhua_site(server)
    server.routes[JINHUA_COL] = html(page)
    with pytest.raises(SourceAlert) as info:
        jinhua(tmp_path, server).fetch(SourceState())
    assert info.value.reason == reason


def test_jsl_challenge_on_the_column(tmp_path: Path, server: LoopbackServer) -> None:
    jinhua_site(server)
    server.routes[JINHUA_COL] = lambda req: Reply(
        521,
        b"<script>document.cookie=('_')+('_')+('jsl_clearance_s=1711');location.href=location.pathname</script>"
        b"<!-- __jsl_clearance -->",
        {"Set-Cookie": "__jsluid_s=abc; path=/; HttpOnly"},
    )
    with pytest.raises(SourceAlert) as info:
        jinhua(tmp_path, server).fetch(SourceState())
    assert (
        info.value.reason
        == "interactive verification required; not bypassed (JavaScript challenge: __jsl_clearance)"
    )


def test_wrong_declared_charset_is_overridden_with_a_warning(
    tmp_path: Path, server: LoopbackServer
) -> None:
    jinhua_site(server)
    path = ART.format(22, 60291234)
    gbk = read("jinhua/art_60291234.html").replace("charset=utf-8", "charset=gbk").encode("gb18030")
    # the server says UTF-8, the page says GBK and is GBK: the header is wrong
    server.routes[path] = lambda req: Reply(200, gbk, {"Content-Type": "text/html; charset=utf-8"})
    result = jinhua(tmp_path, server, pages=1).fetch(SourceState())
    first = result.items[0]
    assert first.title == "金华市召开2024年一季度经济形势分析会"
    assert "3月22日，金华市召开" in first.body_html
    assert "charset: the header declares 'utf-8', which does not fit the bytes" in result.warnings
    # and a UTF-8 page declaring gb2312 is read as UTF-8, not as GB18030 mojibake
    utf8 = read("jinhua/art_60291234.html").replace("charset=utf-8", "charset=gb2312").encode()
    server.routes[path] = lambda req: Reply(200, utf8, {"Content-Type": "text/html"})
    result = jinhua(tmp_path, server, pages=1).fetch(SourceState())
    assert result.items[0].title == "金华市召开2024年一季度经济形势分析会"
    assert any(w.startswith("charset: the page declares 'gb2312'") for w in result.warnings)


def test_undecodable_pages_are_an_alert(tmp_path: Path, server: LoopbackServer) -> None:
    jinhua_site(server)
    mangled = bytes(range(0x80, 0x100)) * 40  # no charset reads this cleanly
    server.routes[JINHUA_COL] = lambda req: Reply(
        200, b"<html><body>" + mangled, {"Content-Type": "text/html"}
    )
    with pytest.raises(SourceAlert) as info:
        jinhua(tmp_path, server).fetch(SourceState())
    assert info.value.reason.startswith("garbled text: no charset decodes the page cleanly")


@pytest.mark.parametrize(
    "encoded",
    [
        # twice, as some columns' nextgroup links carry it
        "%25E9%2587%2591%25E5%258D%258E%25E5%25B8%2582%25E4%25BA%25BA%25E6%25B0%2591"
        "%25E6%2594%25BF%25E5%25BA%259C",
        "%E9%87%91%E5%8D%8E%E5%B8%82%E4%BA%BA%E6%B0%91%E6%94%BF%E5%BA%9C",  # once
    ],
)
def test_the_paging_form_sends_webname_decoded_like_a_browser(
    tmp_path: Path, server: LoopbackServer, encoded: str
) -> None:
    posts = jinhua_site(server)
    col = read("jinhua/col.html")
    once = "%E9%87%91%E5%8D%8E%E5%B8%82%E4%BA%BA%E6%B0%91%E6%94%BF%E5%BA%9C"
    server.routes[JINHUA_COL] = html(col.replace(once, encoded))
    jinhua(tmp_path, server).fetch(SourceState())
    (form,) = posts
    assert form["webname"] == "金华市人民政府"
    # on the wire: encoded exactly once (httpx encodes the form)
    (post,) = [r for r in server.requests if r.method == "POST"]
    assert b"webname=" + once.encode() in post.body


def test_paging_ids_in_the_script_are_decoded() -> None:
    script = (
        '<script>var x = {webid: "12", columnid: 34, unitid: "56", '
        'webname: "%E6%9F%90%E5%B8%82"};'
        "$.jpage({proxyUrl: '/module/jpage/dataproxy.jsp'})</script>"
    )
    _url, ids = paging(script, "https://www.example.gov.cn/col/col34/index.html", "")
    assert ids["webname"] == "某市"
