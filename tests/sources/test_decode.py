"""Charset decoding and date reading (syncd.sources.decode), and robots.txt rules."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.net.robots import parse
from syncd.sources.decode import decode_html, garbled, normalize_digits, parse_date, to_utc

SH = ZoneInfo("Asia/Shanghai")
BER = ZoneInfo("Europe/Berlin")
ZH = "金华市召开经济形势分析会，带队教师朱镕说。"  # 镕 is in GBK, not in GB2312


def page(text: str, meta: str = "") -> str:
    head = f'<meta charset="{meta}">' if meta else ""
    return f"<html><head>{head}</head><body><p>{text}</p></body></html>"


def test_header_charset_wins_when_it_fits() -> None:
    text, codec, warnings = decode_html(
        page(ZH).encode("gb18030"), {"Content-Type": "text/html; charset=GBK"}
    )
    assert ZH in text and codec == "gb18030" and warnings == []


@pytest.mark.parametrize("label", ["gb2312", "GBK", "x-gbk", "GB_2312-80", "gb18030"])
def test_gb_family_is_read_as_gb18030(label: str) -> None:
    text, codec, _ = decode_html(page(ZH, label).encode("gb18030"), {})
    assert ZH in text and codec == "gb18030"


def test_bom_beats_everything() -> None:
    body = codecs.BOM_UTF8 + page(ZH, "gbk").encode()
    text, codec, _ = decode_html(body, {"content-type": "text/html; charset=iso-8859-1"})
    assert ZH in text and codec == "utf-8"
    text, codec, _ = decode_html(codecs.BOM_UTF16_LE + page(ZH).encode("utf-16-le"), {})
    assert ZH in text and codec == "utf-16-le"


def test_xml_declaration() -> None:
    doc = f'<?xml version="1.0" encoding="GBK"?><datastore>{ZH}</datastore>'.encode("gb18030")
    text, codec, _ = decode_html(doc, {"content-type": "text/xml"})
    assert ZH in text and codec == "gb18030"


def test_wrong_declarations_are_overridden_with_a_warning() -> None:
    # header says UTF-8, bytes are GBK; the language hint finds it
    text, codec, warnings = decode_html(
        page(ZH).encode("gb18030"), {"content-type": "text/html; charset=utf-8"}, ("gb18030",)
    )
    assert ZH in text and codec == "gb18030"
    assert warnings[0] == "charset: the header declares 'utf-8', which does not fit the bytes"
    # Latin-1 never fails to decode: declared over UTF-8 it would garble silently
    text, codec, warnings = decode_html(
        page("Düren – Straße").encode(), {"content-type": "text/html; charset=iso-8859-1"}
    )
    assert "Düren – Straße" in text and codec == "utf-8" and "but the page is UTF-8" in warnings[0]
    # German windows-1252 page declared as UTF-8
    text, codec, _ = decode_html(
        page("Düren – Straße").encode("cp1252"),
        {"content-type": "text/html; charset=utf-8"},
        ("cp1252",),
    )
    assert "Düren – Straße" in text and codec == "cp1252"


def test_unknown_labels_are_ignored_and_detection_used() -> None:
    text, _codec, warnings = decode_html(page(ZH * 5, "klingon").encode("gb18030"), {})
    assert ZH in text
    assert "unknown charset 'klingon'" in warnings[0]


def test_undecodable_bytes_are_reported_as_garbled() -> None:
    text, _codec, warnings = decode_html(b"<p>" + bytes(range(0x80, 0x100)) * 20, {})
    assert garbled(text)
    assert warnings[-1].startswith("charset: no charset fits the bytes")
    assert not garbled("Düren 金华")


@given(
    st.binary(max_size=3000),
    st.sampled_from(["", "text/html; charset=gbk", "text/html; charset=bogus"]),
)
def test_decoding_never_raises(content: bytes, ctype: str) -> None:
    text, codec, warnings = decode_html(content, {"content-type": ctype}, ("gb18030",))
    assert isinstance(text, str) and codec and isinstance(warnings, list)


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2024年3月22日", SH, datetime(2024, 3, 21, 16, 0, tzinfo=UTC)),
        ("发布日期：2024-03-22 10:00", SH, datetime(2024, 3, 22, 2, 0, tzinfo=UTC)),
        ("发布日期：２０２４－０３－２２　１０：００", SH, datetime(2024, 3, 22, 2, 0, tzinfo=UTC)),
        ("时间：2024年03月22日 10时05分", SH, datetime(2024, 3, 22, 2, 5, tzinfo=UTC)),
        ("２０２４年３月２２日", SH, datetime(2024, 3, 21, 16, 0, tzinfo=UTC)),
        ("2024/3/22 9:05:01", SH, datetime(2024, 3, 22, 1, 5, 1, tzinfo=UTC)),
        ("22.03.2024", BER, datetime(2024, 3, 21, 23, 0, tzinfo=UTC)),
        (
            "Pressemitteilung vom 22.03.2024, 14:30 Uhr",
            BER,
            datetime(2024, 3, 22, 13, 30, tzinfo=UTC),
        ),
        ("22. März 2024", BER, datetime(2024, 3, 21, 23, 0, tzinfo=UTC)),
        ("1. Juli 2024", BER, datetime(2024, 6, 30, 22, 0, tzinfo=UTC)),  # summer time
        ("2024-03-22T10:00:00+08:00", BER, datetime(2024, 3, 22, 2, 0, tzinfo=UTC)),
        ("2024-03-22T02:00:00Z", SH, datetime(2024, 3, 22, 2, 0, tzinfo=UTC)),
        ("Fri, 22 Mar 2024 10:00:00 +0100", SH, datetime(2024, 3, 22, 9, 0, tzinfo=UTC)),
    ],
)
def test_dates(text: str, tz: ZoneInfo, expected: datetime) -> None:
    assert parse_date(text, tz) == expected


@pytest.mark.parametrize(
    "text", ["", "keine Angabe", "31.02.2024", "2024年13月1日", "99.99.9999", "0001-01-01"]
)
def test_not_dates(text: str) -> None:
    assert parse_date(text, BER) is None


def test_explicit_formats_come_first() -> None:
    # 03/04/2024 is ambiguous; the source's own format decides
    assert parse_date("03/04/2024", BER, ("%d/%m/%Y",)) == datetime(2024, 4, 2, 22, 0, tzinfo=UTC)


@given(st.text(max_size=300))
def test_date_parsing_never_raises_and_is_utc(text: str) -> None:
    dt = parse_date(text, SH)
    assert dt is None or dt.tzinfo is UTC


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 12, 30)))
def test_dates_round_trip_in_every_written_form(dt: datetime) -> None:
    dt = dt.replace(second=0, microsecond=0)
    expect = dt.replace(tzinfo=SH).astimezone(UTC)
    for form in (
        f"{dt:%Y-%m-%d %H:%M}",
        f"{dt.year}年{dt.month}月{dt.day}日 {dt:%H:%M}",
        f"{dt:%d.%m.%Y %H:%M}",
    ):
        assert parse_date(form, SH) == expect, form
    assert parse_date(normalize_digits(f"{dt:%Y-%m-%d %H:%M}"), SH) == expect


# ---------------------------------------------------------------------- robots.txt


ROBOTS = """
User-agent: *
Disallow: /

User-agent: Googlebot
User-agent: syncd
Disallow: /col/
Allow: /col/col1229160587/
Disallow: /*.jsp$
Disallow:
Crawl-delay: 3   # seconds
"""


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/col/col1/index.html", False),
        ("/col/col1229160587/index.html", True),  # longer Allow beats shorter Disallow
        ("/module/jpage/dataproxy.jsp", False),
        ("/module/jpage/dataproxy.jsp?startrecord=1", True),  # $ anchors the end
        ("/art/2024/3/22/art_1.html", True),  # our group, not *'s Disallow: /
    ],
)
def test_robots_rules_for_syncd(path: str, allowed: bool) -> None:
    rules = parse(ROBOTS, "syncd")
    assert rules.allowed("https://www.jinhua.gov.cn" + path) is allowed
    assert rules.crawl_delay == 3.0


def test_robots_star_group_and_tie() -> None:
    rules = parse(
        "User-agent: other\nDisallow: /\n\nUser-agent: *\nDisallow: /a\nAllow: /a\n", "syncd"
    )
    assert rules.allowed("http://h/a")  # equal length: Allow wins
    assert parse("", "syncd").allowed("http://h/anything")


@given(st.text(max_size=400), st.text(max_size=200))
def test_robots_never_raise(text: str, path: str) -> None:
    parse(text, "syncd").allowed("http://h/" + path)


def test_hostile_wildcards_stay_fast() -> None:
    rules = parse("User-agent: *\nDisallow: " + "*a" * 200 + "b\n", "syncd")
    assert rules.allowed("http://h/" + "a" * 5000)


def test_impossible_offsets_are_no_date() -> None:
    assert parse_date("2024-03-22 10:00 +2599", SH) is None
    assert parse_date("2024-03-22T10:00-0330", SH) == datetime(2024, 3, 22, 13, 30, tzinfo=UTC)


# ------------------------------------------------------ dates at the edge of the calendar

EDGE_DATES = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00",  # no zone: read in the source's zone, east of UTC
    "Mon, 01 Jan 0001 00:00:00 +0100",
    "Fri, 31 Dec 9999 23:59:59 -0100",
    "Mon, 01 Jan 99999999999999999999 00:00:00 +0100",
]
EDGE_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%a, %d %b %Y %H:%M:%S %z")


@pytest.mark.parametrize("text", EDGE_DATES)
def test_dates_utc_cannot_hold_are_no_date(text: str) -> None:
    """The source's own ``date_formats`` are tried first; year 1 with an offset used to
    raise OverflowError there, and RFC 2822 read year 0001 as 2001."""
    assert parse_date(text, BER, EDGE_FORMATS) is None
    assert parse_date(text, BER) is None


def test_to_utc_is_total() -> None:
    assert to_utc(datetime(1, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")), BER) is None
    assert to_utc(datetime(9999, 12, 31, 23, 0), ZoneInfo("America/New_York")) is None
    assert to_utc(datetime(2024, 3, 22, 10, 0), SH) == datetime(2024, 3, 22, 2, 0, tzinfo=UTC)


def test_bom_less_utf16_and_utf32_are_recognised() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?><rss><title>Düren 金华</title></rss>'
    for codec in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        text, found, _ = decode_html(doc.encode(codec), {}, ("cp1252",))
        assert (text, found) == (doc, codec)
    text, found, _ = decode_html(codecs.BOM_UTF32_LE + doc.encode("utf-32-le"), {})
    assert (text, found) == (doc, "utf-32-le")  # not UTF-16 LE, whose BOM it starts with
