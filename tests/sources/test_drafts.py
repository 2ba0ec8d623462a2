"""What an editor gets from a page source's article (issue 12, item 5): the article's
own full teaser (the list crops it), its categories, the teaser as the draft's first
paragraph and the images in the draft's body, alt text translated."""

from __future__ import annotations

import json
from pathlib import Path

from syncd.app import make_app
from syncd.store import Store
from syncd.sync import deliver, poll
from tests.sources.sites import (
    DUEREN_DETAIL,
    DUEREN_LIST,
    DUEREN_OPTIONS,
    NOW,
    Clock,
    dueren_site,
    html,
    load,
    read,
)
from tests.support.loopback import LoopbackServer
from tests.support.translator import FakeTranslator

FULL = "Düren. Die Stadt Düren baut in diesem Jahr drei neue Radwege in der Innenstadt."
CROPPED = "Düren. Die Stadt Düren baut in diesem Jahr …"


def test_a_draft_carries_the_full_lead_categories_and_images(
    tmp_path: Path, server: LoopbackServer
) -> None:
    dueren_site(server)
    server.routes[DUEREN_LIST] = html(read("dueren/list.html").replace(FULL, CROPPED))
    article = read("dueren/radwege.html").replace(
        '<div class="news-text-wrap"',
        '<div class="news-img-wrap"><img src="/fileadmin/bahnhof.jpg" alt="Der neue Radweg am Bahnhof"></div>'
        '<div class="news-categories"><span class="cat">Verkehr</span><span class="cat">Stadtentwicklung</span></div>'
        '<div class="news-text-wrap"',
    )  # fmt: skip
    server.routes[DUEREN_DETAIL + "neue-radwege-in-der-innenstadt"] = html(article)
    table = {
        "id": "dueren-presse", "kind": "html", "url": server.url + DUEREN_LIST,
        **DUEREN_OPTIONS, "max_articles": 1,
        "article_teaser": ".news-single .teaser-text", "categories": ".news-categories .cat",
        "images": ".news-img-wrap img",
    }  # fmt: skip
    store = Store(f"sqlite:///{tmp_path}/state.db")
    app = make_app(
        load(tmp_path, ("dueren", table)), store=store,
        translator=FakeTranslator([("de", "zh")]), clock=Clock(NOW), rand=lambda: 0.0,
    )  # fmt: skip
    try:
        assert poll(app, "dueren-presse").new == 1
        assert deliver(app).created == 1
    finally:
        app.close()
        store.close()
    (sidecar,) = (tmp_path / "drafts" / "jinhua").glob("*.json")
    doc = json.loads(sidecar.read_text(encoding="utf-8"))
    page = sidecar.with_suffix(".html").read_text(encoding="utf-8")
    assert doc["summary"] == f"[zh] {FULL}"  # the article's whole teaser, not the cropped one
    assert doc["categories"] == ["Verkehr", "Stadtentwicklung"]
    body = page.split("</h1>", 1)[1]
    # the lead is the first paragraph of the draft
    assert body.lstrip().startswith(f"<p><strong>[zh] {FULL}</strong></p>")
    # the image outside the article's body is in the draft, its alt text translated;
    # the one inside the body stays where it was
    assert (
        f'<img src="{server.url}/fileadmin/bahnhof.jpg" alt="[zh] Der neue Radweg am Bahnhof">'
        in page
    )
    assert f'src="{server.url}/fileadmin/_processed_/radweg-plan.jpg"' in page
    assert body.index("radweg-plan.jpg") < body.index("bahnhof.jpg")
