"""Hostile page input: dates at the edge of the calendar, deeply nested markup."""

from __future__ import annotations

from pathlib import Path

from syncd.sources import SourceState
from syncd.sources.html import make
from tests.sources.sites import (
    DUEREN_DETAIL,
    DUEREN_LIST,
    DUEREN_OPTIONS,
    client,
    dueren_site,
    html,
    load,
    read,
    source,
)
from tests.support.loopback import LoopbackServer


def test_list_dates_beyond_the_calendar_in_date_formats_are_no_date(
    tmp_path: Path, server: LoopbackServer
) -> None:
    """The source's ``date_formats`` path used to raise OverflowError for year 1 or
    9999 with an offset, and the whole source failed."""
    dueren_site(server)
    listing = read("dueren/list.html")
    listing = listing.replace(">22.03.2024<", ">0001-01-01T00:00:00+0100<")
    listing = listing.replace(">21.03.2024<", ">9999-12-31T23:59:59-0100<")
    server.routes[DUEREN_LIST] = html(listing)
    table = {
        "id": "dueren-presse",
        "kind": "html",
        "url": server.url + DUEREN_LIST,
        **DUEREN_OPTIONS,
        "date_formats": ["%Y-%m-%dT%H:%M:%S%z", "%d.%m.%Y"],
    }
    src, city = source(load(tmp_path, ("dueren", table)), "dueren-presse")
    result = make(src, city, client()).fetch(SourceState())
    items = {i.key.removeprefix(server.url + DUEREN_DETAIL): i for i in result.items}
    assert "stadtbibliothek-oeffnungszeiten" in items
    assert len(items) == 4
