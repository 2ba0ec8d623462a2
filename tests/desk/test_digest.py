"""E-mail digests against a real SMTP server on loopback: one per period, only when
something is new, in the editor's language, with links that work."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from syncd import digest
from tests.support.desk import DeskClient, add_editor, desk_pipeline
from tests.support.feeds import Entry
from tests.support.pipeline import DUEREN_FEED, JINHUA_FEED, Pipeline
from tests.support.smtp import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    s = SmtpServer()
    yield s
    s.stop()


def entry(n: int, lang: str = "de") -> Entry:
    return Entry(f"n{n}", f"Meldung {n}.", f"<p>Meldung {n}.</p>", f"https://x.example/{lang}/{n}")


def test_one_digest_per_period_only_when_something_is_new(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_TEST_SMTP_PASSWORD", smtp.password)
    extra = {
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "starttls": False, "username": smtp.user,
                 "password": {"env": "SYNCD_TEST_SMTP_PASSWORD"}, "sender": "syncd@dueren.example"},
        "desk": {"digest_every": "24h", "url": "http://desk.example/desk"},
    }  # fmt: skip
    p: Pipeline = desk_pipeline(tmp_path, extra=extra, review="desk")
    try:
        add_editor(p.store, "li", "jinhua", "zh", email="li@jinhua.example")
        add_editor(p.store, "anna", "dueren", "de", email="anna@dueren.example")
        add_editor(p.store, "nomail", "jinhua", "en")
        assert digest.send_due(p.app) == 0  # nothing waits yet: no mail
        p.feeds.entries[DUEREN_FEED] = [entry(1), entry(2)]
        p.sync()
        assert digest.send_due(p.app) == 1
        (mail,) = smtp.messages
        assert mail["To"] == "li@jinhua.example" and mail["From"] == "syncd@dueren.example"
        assert mail["Subject"] == "syncd：金华编辑台有 2 篇稿件待审"
        body = mail.get_content()
        assert "新稿：2" in body and "http://desk.example/desk/queue?status=new" in body
        # within the period: no second mail, even with news
        p.clock.advance(minutes=30)
        p.feeds.entries[DUEREN_FEED] = [entry(1), entry(2), entry(3)]
        p.sync()
        p.clock.advance(hours=23)
        assert digest.send_due(p.app) == 0
        p.clock.advance(minutes=30)
        assert digest.send_due(p.app) == 1
        assert "新稿：1" in smtp.messages[-1].get_content()
        # a day later with nothing new: nothing
        p.clock.advance(hours=25)
        assert digest.send_due(p.app) == 0
        assert len(smtp.messages) == 2
    finally:
        p.close()


def test_the_digest_speaks_the_editors_language_and_its_links_work(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    extra = {"smtp": {"host": "127.0.0.1", "port": smtp.port, "starttls": False}}
    p = desk_pipeline(tmp_path, extra=extra, review="target")
    web = DeskClient(p)
    try:
        # Düren reviews in the desk here: a German editor gets German mail
        cfg = p.app.config
        p.app.config = replace(
            cfg,
            desk=replace(cfg.desk, url=f"http://127.0.0.1:{web.server.port}/desk"),
            cities=tuple(replace(c, review="desk") if c.id == "dueren" else c for c in cfg.cities),
        )
        add_editor(p.store, "anna", "dueren", "de", email="anna@dueren.example")
        p.feeds.entries[JINHUA_FEED] = [
            Entry("a1", "你好世界。", "<p>你好世界。</p>", "https://www.jinhua.example/a1",
                  pub="Wed, 25 Nov 2026 10:00:00 +0800")
        ]  # fmt: skip
        p.sync()
        assert digest.send_due(p.app) == 1
        (mail,) = smtp.messages
        assert mail["Subject"] == "syncd: 1 Entwürfe warten im Desk von Düren"
        body = mail.get_content()
        assert "Neue Entwürfe: 1" in body
        links = re.findall(r"http://\S+", body)
        assert links
        for link in links:  # each answers: the desk asks for a sign-in first
            r = web.get(link)
            assert r.status_code == 303 and r.headers["location"].endswith("/desk/login"), link
    finally:
        web.close()
        p.close()


def test_a_failing_mail_server_is_logged_and_tried_again(tmp_path: Path) -> None:
    extra = {"smtp": {"host": "127.0.0.1", "port": 9, "starttls": False, "timeout": "2s"}}
    p = desk_pipeline(tmp_path, extra=extra)
    try:
        add_editor(p.store, "li", "jinhua", "zh", email="li@jinhua.example")
        p.feeds.entries[DUEREN_FEED] = [entry(1)]
        p.sync()
        assert digest.send_due(p.app) == 0
        editor = p.store.editor("li")
        assert editor is not None and editor.last_digest_at is None  # due again next time
    finally:
        p.close()
