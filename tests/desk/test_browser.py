"""The desk in a real headless Chromium (Debian's, driven by Playwright for Python):
a Jinhua editor signs in, finds the Chinese draft of a German item, sees original,
pivot and translation aligned with the flag on the right sentence, edits a sentence
and approves by keyboard alone; only then does Jinhua's target get the draft, with
the edit. A rejection; the German UI of a Düren editor; axe-core finds no serious or
critical violation on the sign-in, queue and draft pages. Screenshots of the queue and
the draft page in both languages are taken (``SYNCD_DESK_SCREENSHOTS=<folder>`` keeps
them, as docs/desk.md shows them)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from syncd.models import DeliveryState, QualityFlag
from tests.support.browser import ARGS, BrowserKit, axe_violations, ensure_browser
from tests.support.desk import PASSWORD, DeskClient, add_editor
from tests.support.feeds import Entry
from tests.support.pipeline import DUEREN_FEED, JINHUA_FEED, ROUTES, Pipeline, two_cities
from tests.support.translator import FakeTranslator

pytestmark = pytest.mark.browser

DE = Entry(
    "news-1",
    "Der Bürgermeister besucht Jinhua.",
    "<p>Heute besucht der Bürgermeister die Partnerstadt Jinhua. Düren hat 90000 Einwohner.</p>"
    "<h2>Programm</h2><p>Ein Konzert im Rathaus.</p>",
    "https://www.dueren.example/news/1",
)
DE2 = Entry("news-2", "Stadtfest.", "<p>Das Stadtfest beginnt.</p>", "https://www.dueren.example/2")
ZH = Entry(
    "art-1",
    "金华市召开经济形势分析会。",
    "<p>金华市召开经济形势分析会。迪伦有九万居民。</p>",
    "https://www.jinhua.example/art/1.html",
    pub="Wed, 25 Nov 2026 10:00:00 +0800",
)


@pytest.fixture(scope="module")
def kit() -> BrowserKit:
    return ensure_browser()


@pytest.fixture(scope="module")
def chromium(kit: BrowserKit) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(kit.chromium), args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[Pipeline, DeskClient]]:
    config = two_cities(tmp_path, review={"jinhua": "desk", "dueren": "desk"})
    pipe = Pipeline(tmp_path, config, translator=FakeTranslator(ROUTES, segmented=True))
    add_editor(pipe.store, "li", "jinhua", "zh")
    add_editor(pipe.store, "anna", "dueren", "de")
    pipe.feeds.entries[DUEREN_FEED] = [DE, DE2]
    pipe.feeds.entries[JINHUA_FEED] = [ZH]
    assert pipe.sync().held == 3
    for _d, item in pipe.store.deliveries():
        if item.key == "news-1":  # the numbers flag on the second body sentence
            t = pipe.store.translation(item.id, 1, "zh")
            assert t is not None
            flag = QualityFlag("numbers", 1, "90000 ≠ 9000", "body")
            pipe.store.save_translation(item.id, 1, replace(t, flags=(flag,)), pipe.clock())
    web = DeskClient(pipe)
    yield pipe, web
    web.close()
    pipe.close()


def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def keep(folder: Path) -> None:
    target = os.environ.get("SYNCD_DESK_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for png in folder.glob("*.png"):
            shutil.copy(png, Path(target) / png.name)


def sign_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/desk/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/desk/queue")


def test_a_jinhua_editor_reviews_edits_by_keyboard_and_approves(
    desk: tuple[Pipeline, DeskClient], chromium: Any, kit: BrowserKit, tmp_path: Path
) -> None:
    pipe, web = desk
    base = f"http://127.0.0.1:{web.server.port}"
    axe = kit.axe.read_text(encoding="utf-8")
    folder = shots(tmp_path)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{base}/desk/login?lang=zh")
        assert page.locator("html").get_attribute("lang") == "zh-Hans"
        assert axe_violations(page, axe) == []
        # keyboard only: Tab to the name field (autofocused), type, Tab, type, Enter
        page.keyboard.type("li")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/desk/queue")
        assert page.get_by_role("heading", level=1).inner_text() == "金华待审列表"
        row = page.locator(
            "table.queue tbody tr", has_text="[zh] Der Bürgermeister besucht Jinhua."
        )
        assert row.count() == 1 and "数字不一致" in row.inner_text()
        assert axe_violations(page, axe) == []
        page.screenshot(path=str(folder / "queue-zh.png"), full_page=True)

        row.get_by_role("link").click()
        page.wait_for_url(f"{base}/desk/draft/*")
        rows = page.locator("table.segments").nth(2).locator("tbody tr")
        assert rows.count() == 4  # two sentences, a heading, one sentence
        second = rows.nth(1)
        cells = second.locator("td")
        assert cells.nth(0).inner_text() == "Düren hat 90000 Einwohner."
        assert cells.nth(1).inner_text() == "[en] Düren hat 90000 Einwohner."
        assert "[zh] Düren hat 90000 Einwohner." in cells.nth(2).inner_text()
        assert "数字不一致" in cells.nth(2).inner_text()  # the flag, on this sentence only
        others = [rows.nth(i).inner_text() for i in (0, 2, 3)]
        assert not any("数字不一致" in text for text in others)
        assert axe_violations(page, axe) == []
        page.screenshot(path=str(folder / "draft-zh.png"), full_page=True)

        # keyboard only: focus the sentence's edit link, Enter, type, Tab to Save, Enter
        second.get_by_role("link").focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("textarea")
        assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"  # autofocus
        page.keyboard.press("Control+A")
        page.keyboard.type("迪伦有九万居民。")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.wait_for_url("**/desk/draft/*?done=edit*")
        assert "迪伦有九万居民。" in page.locator("table.segments").nth(2).inner_text()
        pipe.sync()
        assert pipe.outbox("jinhua") == []  # edited, not approved: nothing delivered
        approve = page.get_by_role("button", name="通过并发送")
        approve.focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**?done=approve")
        assert pipe.sync().created == 1
        (sidecar,) = pipe.outbox("jinhua")
        html = sidecar.with_suffix(".html").read_text(encoding="utf-8")
        assert "迪伦有九万居民。" in html and "Düren hat 90000" not in html
    finally:
        context.close()
        keep(folder)


def test_a_rejection_and_the_german_desk_of_a_dueren_editor(
    desk: tuple[Pipeline, DeskClient], chromium: Any, kit: BrowserKit, tmp_path: Path
) -> None:
    pipe, web = desk
    base = f"http://127.0.0.1:{web.server.port}"
    axe = kit.axe.read_text(encoding="utf-8")
    folder = shots(tmp_path)
    zh = chromium.new_context(viewport={"width": 1280, "height": 900})
    de = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    try:
        page = zh.new_page()
        sign_in(page, base, "li")
        page.get_by_role("link", name="[zh] Stadtfest.").click()
        page.fill("#reason", "与本市无关")
        page.get_by_role("button", name="退回").click()
        page.wait_for_url("**?done=reject")
        assert pipe.delivery("news-2", "jinhua").state is DeliveryState.REJECTED
        pipe.sync()
        assert pipe.outbox("jinhua") == []

        page = de.new_page()
        page.goto(f"{base}/desk/login")
        assert page.locator("html").get_attribute("lang") == "de"  # from the browser's language
        sign_in(page, base, "anna")
        assert page.get_by_role("heading", level=1).inner_text() == "Warteschlange Düren"
        assert page.get_by_role("link", name="[de] 金华市召开经济形势分析会。").count() == 1
        assert "Kein solcher" not in page.content()
        page.screenshot(path=str(folder / "queue-de.png"), full_page=True)
        page.get_by_role("link", name="[de] 金华市召开经济形势分析会。").click()
        page.wait_for_url(f"{base}/desk/draft/*")
        assert page.get_by_role("button", name="Freigeben und senden").count() == 1
        assert axe_violations(page, axe) == []
        page.screenshot(path=str(folder / "draft-de.png"), full_page=True)
        # the language is switchable: English for this editor now
        page.select_option("#lang-select", "en")
        page.get_by_role("button", name="Wechseln").click()
        # the switch is a form post and a redirect: wait for the page it leads to
        page.get_by_role("button", name="Approve and send").wait_for(timeout=15_000)
        assert page.get_by_role("button", name="Approve and send").count() == 1
        # a Düren editor cannot open Jinhua's drafts
        jinhua_item = next(i.id for d, i in pipe.store.deliveries() if i.key == "news-1")
        r = page.goto(f"{base}/desk/draft/{jinhua_item}")
        assert r is not None and r.status == 404
    finally:
        zh.close()
        de.close()
        keep(folder)
    assert all((folder / f).stat().st_size > 10_000 for f in ("queue-de.png", "draft-de.png"))
