"""The desk's pages in process (Starlette's TestClient over the real front door, store,
pipeline and outbox): sign-in, queue, the draft page sentence by sentence, edit and
approve, and the security promises (CSRF, cities kept apart, inert hostile HTML,
strict headers, expiring sessions, throttling, no passwords in logs)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from syncd.models import DeliveryState, QualityFlag
from tests.support.desk import (
    PASSWORD,
    DeskClient,
    add_editor,
    csrf,
    desk_pipeline,
    hidden,
    login,
)
from tests.support.feeds import Entry
from tests.support.pipeline import DUEREN_FEED, ROUTES, Pipeline
from tests.support.translator import FakeTranslator

DE = Entry(
    "news-1",
    "Hallo Welt.",
    "<p>Hallo Welt. Düren hat 90000 Einwohner.</p><p>Der Bürgermeister besucht Jinhua.</p>",
    "https://www.dueren.example/news/1",
)


@pytest.fixture
def pipe(tmp_path: Path) -> Iterator[Pipeline]:
    p = desk_pipeline(tmp_path, translator=FakeTranslator(ROUTES, segmented=True))
    add_editor(p.store, "li", "jinhua", "zh")
    add_editor(p.store, "anna", "dueren", "de")
    yield p
    p.close()


@pytest.fixture
def clients(pipe: Pipeline) -> Iterator[Callable[..., DeskClient]]:
    """Desk clients a test opens (each its own browser), closed after it."""
    made: list[DeskClient] = []

    def make(root_path: str = "") -> DeskClient:
        made.append(DeskClient(pipe, root_path))
        return made[-1]

    yield make
    for c in made:
        c.close()


def held(pipe: Pipeline, entries: list[Entry] | None = None) -> int:
    """Poll and hold the Düren items for Jinhua; the item id of the first."""
    pipe.feeds.entries[DUEREN_FEED] = entries or [DE]
    assert pipe.sync().held == len(entries or [DE])
    return next(i.id for d, i in pipe.store.deliveries() if d.target_city == "jinhua")


def flag_sentence(pipe: Pipeline, item_id: int, index: int) -> None:
    """Give the stored translation a numbers flag on body sentence ``index``."""
    t = pipe.store.translation(item_id, 1, "zh")
    assert t is not None
    flag = QualityFlag("numbers", index, "90000 ≠ 9000", "body")
    pipe.store.save_translation(item_id, 1, replace(t, flags=(flag,)), pipe.clock())


def test_sign_in_queue_draft_edit_approve_then_the_target_gets_the_edit(
    pipe: Pipeline, clients: Callable[..., DeskClient]
) -> None:
    iid = held(pipe)
    flag_sentence(pipe, iid, 1)
    client = clients()
    r = login(client, "li")
    assert r.status_code == 303 and r.headers["location"] == "/desk/queue"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/desk" in cookie
    queue = client.get("/desk/queue")
    assert queue.status_code == 200 and '<html lang="zh-Hans">' in queue.text
    assert "金华待审列表" in queue.text and "[zh] Hallo Welt." in queue.text
    assert "新稿 (1)" in queue.text and "数字不一致" in queue.text

    page = client.get(f"/desk/draft/{iid}")
    assert page.status_code == 200
    rows = re.findall(r'<tr id="s-body-(\d+)" class="([^"]*)">', page.text)
    # three sentences in two blocks; the flag is on the second sentence only
    assert [(n, "flagged" in c, "block-start" in c) for n, c in rows] == [
        ("0", False, True),
        ("1", True, False),
        ("2", False, True),
    ]
    assert (
        "Düren hat 90000 Einwohner." in page.text and "[en] Düren hat 90000 Einwohner." in page.text
    )
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    edit_form = client.get(f"/desk/draft/{iid}?edit=body:1")
    assert 'name="key" value="body:1"' in edit_form.text
    r = client.post(
        f"/desk/draft/{iid}/edit",
        data={"csrf": token, "version": "1", "key": "body:1", "text": "迪伦有九万居民。"},
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?done=edit#s-body-1")
    assert "迪伦有九万居民。" in client.get(f"/desk/draft/{iid}").text
    pipe.sync()
    assert pipe.outbox("jinhua") == []  # not approved yet
    r = client.post(
        f"/desk/draft/{iid}/decide", data={"csrf": token, "version": "1", "decision": "approve"}
    )
    assert r.headers["location"].endswith("?done=approve")
    assert pipe.sync().created == 1
    (sidecar,) = pipe.outbox("jinhua")
    page_html = sidecar.with_suffix(".html").read_text(encoding="utf-8")
    assert "<p>[zh] Hallo Welt.迪伦有九万居民。</p>" in page_html
    audit = client.get("/desk/audit").text
    assert all(a in audit for a in ("approve", "edit", "login"))


def test_a_post_without_the_csrf_token_is_refused(
    pipe: Pipeline, clients: Callable[..., DeskClient]
) -> None:
    iid = held(pipe)
    client = clients()
    login(client, "li")
    for data in ({"version": "1", "decision": "approve"},
                 {"csrf": "forged", "version": "1", "decision": "approve"}):  # fmt: skip
        r = client.post(f"/desk/draft/{iid}/decide", data=data)
        assert r.status_code == 403
    assert pipe.delivery("news-1", "jinhua").state is DeliveryState.HELD
    # the sign-in form needs its own token too
    r = client.post("/desk/login", data={"name": "li", "password": PASSWORD})
    assert r.status_code == 403


def test_an_editor_sees_and_acts_only_on_their_own_citys_queue(
    pipe: Pipeline, clients: Callable[..., DeskClient]
) -> None:
    iid = held(pipe)
    client = clients()
    login(client, "anna")
    queue = client.get("/desk/queue")
    assert "Warteschlange Düren" in queue.text and "Hallo Welt." not in queue.text
    assert client.get(f"/desk/draft/{iid}").status_code == 404
    token = csrf(client)
    r = client.post(
        f"/desk/draft/{iid}/decide", data={"csrf": token, "version": "1", "decision": "approve"}
    )
    assert r.headers["location"].endswith("?refused=not-found")
    r = client.post(
        f"/desk/draft/{iid}/edit",
        data={"csrf": token, "version": "1", "key": "body:0", "text": "x"},
    )
    assert r.headers["location"].endswith("?refused=not-found")
    assert pipe.delivery("news-1", "jinhua").state is DeliveryState.HELD
    assert "li" not in client.get("/desk/audit").text.split("<tbody>")[1]


def test_hostile_html_from_a_source_renders_inert_under_a_strict_policy(
    pipe: Pipeline, clients: Callable[..., DeskClient]
) -> None:
    hostile = Entry(
        "news-x",
        '<img src=x onerror="alert(1)">Titel',
        '<p>Text <script>alert(2)</script><img src="https://x.example/a.png" onerror="alert(3)">'
        '<a href="javascript:alert(4)">Link</a>.</p>',
        "https://www.dueren.example/news/x",
    )
    iid = held(pipe, [hostile])
    client = clients()
    login(client, "li")
    for path in ("/desk/queue", f"/desk/draft/{iid}", "/desk/login"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src" not in csp and "'unsafe-inline'" not in csp
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "<script" not in r.text.lower()
        assert not re.search(r"<[^>]+\son\w+\s*=", r.text)  # no event handler attribute
        assert "javascript:" not in r.text
    assert client.get("/desk/static/desk.css").headers["x-content-type-options"] == "nosniff"


def test_sessions_expire_and_signed_cookies_cannot_be_forged(
    pipe: Pipeline, clients: Callable[..., DeskClient]
) -> None:
    client = clients()
    login(client, "li")
    assert client.get("/desk/queue").status_code == 200
    pipe.clock.advance(hours=8, seconds=1)
    r = client.get("/desk/queue")
    assert r.status_code == 303 and r.headers["location"] == "/desk/login?expired=1"
    forged = clients()
    forged.cookies.set("syncd_desk", "a-session-id.forgedsignature", path="/desk")
    assert forged.get("/desk/queue").headers["location"].startswith("/desk/login")


def test_logout_and_removal_end_the_session(
    pipe: Pipeline, clients: Callable[..., DeskClient]
) -> None:
    client = clients()
    login(client, "li")
    r = client.post("/desk/logout", data={"csrf": csrf(client)})
    assert r.status_code == 303
    assert client.get("/desk/queue").status_code == 303
    login(client, "li")
    assert pipe.store.remove_editor("li", pipe.clock())
    assert client.get("/desk/queue").status_code == 303


def test_login_is_throttled_per_account_and_per_address(
    pipe: Pipeline, clients: Callable[..., DeskClient]
) -> None:
    client = clients()
    for _ in range(5):
        assert login(client, "li", "wrong password!").status_code == 401
    r = login(client, "li")  # the right password no longer helps
    assert r.status_code == 429 and "15" in r.text
    assert login(client, "anna").status_code == 303  # another account from here: fine
    pipe.clock.advance(minutes=15, seconds=1)
    assert login(client, "li").status_code == 303
    # one address trying many names is stopped too (20 failures in the window)
    for n in range(20):
        login(client, f"nobody{n}", "wrong password!")
    assert login(client, "anna").status_code == 429


def test_passwords_never_reach_the_logs(
    pipe: Pipeline, caplog: pytest.LogCaptureFixture, clients: Callable[..., DeskClient]
) -> None:
    caplog.set_level(logging.DEBUG)
    client = clients()
    login(client, "li", "a wrong secret 123")
    login(client, "li")
    assert caplog.records, "the sign-ins were logged"
    text = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    assert "a wrong secret 123" not in text and PASSWORD not in text


def test_the_language_is_switchable_and_the_login_follows_the_browser(
    pipe: Pipeline, clients: Callable[..., DeskClient]
) -> None:
    client = clients()
    assert (
        '<html lang="de">'
        in client.get("/desk/login", headers={"Accept-Language": "de-DE,de;q=0.9"}).text
    )
    assert "登录" in client.get("/desk/login?lang=zh").text
    login(client, "li")
    r = client.post("/desk/language", data={"csrf": csrf(client), "lang": "de", "back": "/audit"})
    assert r.headers["location"] == "/desk/audit"
    assert "Protokoll Jinhua" in client.get("/desk/audit").text  # the city as named in German
    # never an open redirect
    r = client.post(
        "/desk/language", data={"csrf": csrf(client), "lang": "en", "back": "//evil.example/"}
    )
    assert r.headers["location"] == "/desk/queue"


def test_reject_needs_a_reason_and_the_queue_filters(
    pipe: Pipeline, clients: Callable[..., DeskClient]
) -> None:
    entries = [
        DE,
        Entry("news-2", "Zweite.", "<p>Zweite.</p>", "https://www.dueren.example/news/2"),
    ]
    iid = held(pipe, entries)
    client = clients()
    login(client, "li")
    token = csrf(client)
    data = {"csrf": token, "version": "1", "decision": "reject", "reason": " "}
    assert (
        client.post(f"/desk/draft/{iid}/decide", data=data)
        .headers["location"]
        .endswith("?refused=reason-required")
    )
    data["reason"] = "重复"
    client.post(f"/desk/draft/{iid}/decide", data=data)
    rejected = client.get("/desk/queue?status=rejected").text
    assert "已退回 (1)" in rejected and "[zh] Hallo Welt." in rejected and "Zweite" not in rejected
    assert "Zweite" in client.get("/desk/queue?status=new").text
    assert "queue.empty" not in client.get("/desk/queue?source=nope").text


def test_the_queue_is_paginated_newest_first(
    pipe: Pipeline, clients: Callable[..., DeskClient]
) -> None:
    entries = [
        Entry(f"n{i}", f"Meldung {i}.", f"<p>Meldung {i}.</p>", f"https://www.dueren.example/{i}")
        for i in range(3)
    ]
    for e in entries:  # one poll each: first seen one after the other
        pipe.feeds.entries[DUEREN_FEED] = [e]
        pipe.sync()
        pipe.clock.advance(minutes=20)
    pipe.app.config = replace(pipe.app.config, desk=replace(pipe.app.config.desk, page_size=2))
    client = clients()
    login(client, "li")
    first = client.get("/desk/queue").text
    assert first.index("Meldung 2.") < first.index("Meldung 1.") and "Meldung 0." not in first
    assert "第 1 页，共 2 页（3 篇）" in first
    second = client.get("/desk/queue?page=2").text
    assert "Meldung 0." in second and "Meldung 2." not in second


def test_behind_a_proxy_links_and_cookies_carry_the_root_path(
    pipe: Pipeline, clients: Callable[..., DeskClient]
) -> None:
    client = clients("/syncd")  # the proxy strips /syncd; the browser sees it
    form = client.get("/desk/login")
    assert 'href="/syncd/desk/static/desk.css"' in form.text
    assert 'action="/syncd/desk/login?lang=en"' in form.text
    assert "Path=/syncd/desk" in form.headers["set-cookie"]
    client.cookies.set("syncd_desk_login", form.cookies["syncd_desk_login"])
    r = client.post(
        "/desk/login",
        data={"name": "li", "password": PASSWORD, "token": hidden(form.text, "token")},
    )
    assert r.status_code == 303 and r.headers["location"] == "/syncd/desk/queue"
    assert "Path=/syncd/desk" in r.headers["set-cookie"]
