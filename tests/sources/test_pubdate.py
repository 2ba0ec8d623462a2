"""An article's date from its visible publication line, and whether it is date-only
(issue 12, item 1)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syncd.models import Item
from syncd.sources import SourceState
from syncd.sources.decode import find_date
from syncd.sources.jpage import make
from tests.sources.sites import JINHUA_COL, client, html, jinhua_site, load, read, source
from tests.support.loopback import LoopbackServer

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
FIRST = "/art/2024/3/22/art_1229160587_60291234.html"


@pytest.mark.parametrize(
    ("text", "tz", "expected", "date_only"),
    [
        ("２０２６-１１-２３ １０:２０", SHANGHAI, datetime(2026, 11, 23, 2, 20, tzinfo=UTC), False),
        ("2026年11月23日", SHANGHAI, datetime(2026, 11, 22, 16, 0, tzinfo=UTC), True),
        ("２０２６年１１月２３日 ０８时０５分", SHANGHAI, datetime(2026, 11, 23, 0, 5, tzinfo=UTC), False),
        ("23.11.2026", BERLIN, datetime(2026, 11, 22, 23, 0, tzinfo=UTC), True),
        ("23.11.2026, 10:20 Uhr", BERLIN, datetime(2026, 11, 23, 9, 20, tzinfo=UTC), False),
        ("Mon, 23 Nov 2026 10:20:00 +0100", BERLIN, datetime(2026, 11, 23, 9, 20, tzinfo=UTC), False),
    ],
)  # fmt: skip
def test_dates_say_whether_they_are_date_only(
    text: str, tz: ZoneInfo, expected: datetime, date_only: bool
) -> None:
    assert find_date(text, tz) == (expected, date_only)


def test_a_strptime_format_without_a_time_is_date_only() -> None:
    assert find_date("23/11/2026", BERLIN, ["%d/%m/%Y"]) == (
        datetime(2026, 11, 22, 23, 0, tzinfo=UTC),
        True,
    )
    assert find_date("23/11/2026 10h20", BERLIN, ["%d/%m/%Y %Hh%M"]) == (
        datetime(2026, 11, 23, 9, 20, tzinfo=UTC),
        False,
    )


def _jinhua_item(tmp_path: Path, server: LoopbackServer, article: str) -> Item:
    jinhua_site(server)
    server.routes[FIRST] = html(article)
    table = {"id": "jinhua-news", "kind": "jpage", "url": server.url + JINHUA_COL, "pages": 1}
    src, city = source(load(tmp_path, ("jinhua", table)), "jinhua-news")
    result = make(src, city, client()).fetch(SourceState())
    return result.items[0]


def test_an_empty_pubdate_takes_the_full_width_visible_line(
    tmp_path: Path, server: LoopbackServer
) -> None:
    article = (
        read("jinhua/art_60291234.html")
        .replace('content="2024-03-22 10:00"', 'content=""')
        .replace("发布日期：2024-03-22 10:00", "发布日期：２０２４-０３-２２ １０:２０")
    )
    item = _jinhua_item(tmp_path, server, article)
    # not the list's bare 2024-03-22 (midnight): the article's own line, Beijing time
    assert item.published == datetime(2024, 3, 22, 2, 20, tzinfo=UTC)
    assert (item.date_source, item.date_only) == ("page text", False)


def test_a_bare_pubdate_is_refined_by_the_visible_time_of_the_same_day(
    tmp_path: Path, server: LoopbackServer
) -> None:
    article = (
        read("jinhua/art_60291234.html")
        .replace('content="2024-03-22 10:00"', 'content="2024-03-22"')
        .replace("发布日期：2024-03-22 10:00", "发布时间：2024年3月22日 10:20")
    )
    item = _jinhua_item(tmp_path, server, article)
    assert item.published == datetime(2024, 3, 22, 2, 20, tzinfo=UTC)
    assert item.date_source == "page text"


def test_without_any_article_date_the_list_day_is_date_only(
    tmp_path: Path, server: LoopbackServer
) -> None:
    article = (
        read("jinhua/art_60291234.html")
        .replace('content="2024-03-22 10:00"', 'content=""')
        .replace("发布日期：2024-03-22 10:00", "")
    )
    item = _jinhua_item(tmp_path, server, article)
    assert item.published == datetime(2024, 3, 21, 16, 0, tzinfo=UTC)
    assert (item.date_source, item.date_only) == ("list", True)


def test_a_date_far_from_its_label_is_not_taken(tmp_path: Path, server: LoopbackServer) -> None:
    article = (
        read("jinhua/art_60291234.html")
        .replace('content="2024-03-22 10:00"', 'content=""')
        .replace(
            "发布日期：2024-03-22 10:00",
            "日期：暂无" + "。" * 50 + "2023-01-01 08:00",
        )
    )
    item = _jinhua_item(tmp_path, server, article)
    assert item.date_source == "list"
