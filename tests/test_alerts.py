"""Operator alerts: one message when something needs a person, one when it recovers,
none repeated within the limits; by e-mail (a real SMTP server on loopback, aiosmtpd)
and by a signed webhook (checked with the shipped receiver's verifier).

The pipeline runs in process (tests/support/pipeline.py) on a settable clock; what
needs a person is Jinhua's webhook target being down (connection refused), then back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from syncd import alerts, health
from syncd.config import AlertsConfig, Duration, Secret
from syncd.models import OperatorAlertRow
from tests.support.feeds import Entry
from tests.support.loopback import LoopbackServer, Reply
from tests.support.pipeline import DUEREN_FEED, NOW, Pipeline, two_cities
from tests.support.smtp import SmtpServer, smtp_server
from tests.support.webhook import WEBHOOK_SECRET, AlertReceiver

DE = Entry("news-1", "Hallo Welt.", "<p>Hallo Welt.</p>", "https://www.dueren.example/news/1")
TARGET_SECRET = "whsec_dGFyZ2V0LXNlY3JldC1uZXZlci1pbi1hbi1hbGVydCEh"
TARGET_ENV, ALERT_ENV = "SYNCD_TEST_ALERTS_TARGET", "SYNCD_TEST_ALERTS_HOOK"


class Partner:
    """Jinhua's webhook receiver: ``down()`` (connection refused) or ``up()``."""

    def __init__(self) -> None:
        probe = LoopbackServer().start()
        self.port = probe.port
        probe.stop()
        self.server: LoopbackServer | None = None

    def up(self) -> None:
        self.server = LoopbackServer(self.port).start()
        # no keep-alive: once down, a kept connection must not still answer
        self.server.routes["/hook"] = lambda req: Reply(204, b"", {"Connection": "close"})

    def down(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def partner() -> Iterator[Partner]:
    p = Partner()
    yield p
    p.down()


def pipeline(tmp_path: Path, partner: Partner, alerts_config: AlertsConfig) -> Pipeline:
    hook = {"kind": "webhook", "url": f"http://127.0.0.1:{partner.port}/hook",
            "secret": {"env": TARGET_ENV}, "timeout": "2s"}  # fmt: skip
    config = dataclasses.replace(two_cities(tmp_path, jinhua_target=hook), alerts=alerts_config)
    p = Pipeline(tmp_path, config)
    p.feeds.entries[DUEREN_FEED] = [DE]
    return p


def fail_and_recover(p: Pipeline, partner: Partner, *, up: bool) -> None:
    """One delivery pass with the partner up or down (backoff skipped)."""
    (partner.up if up else partner.down)()
    p.store.retry_waiting(p.clock())
    p.deliver()


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TARGET_ENV, TARGET_SECRET)
    monkeypatch.setenv(ALERT_ENV, WEBHOOK_SECRET)


def mail_config(smtp: SmtpServer) -> AlertsConfig:
    return AlertsConfig(
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
        mail_from="syncd@dueren.example", mail_to=("ops@dueren.example",),
        timeout=Duration(seconds=5),
    )  # fmt: skip


def test_mail_one_alert_one_recovery_and_no_repeat_within_the_limits(
    tmp_path: Path, partner: Partner
) -> None:
    with smtp_server() as smtp:
        p = pipeline(tmp_path, partner, mail_config(smtp))
        try:
            assert alerts.check(p.app) is None  # all well: nothing to say
            p.sync()  # the partner is down: the create fails
            sent = alerts.check(p.app)
            assert sent is not None and len(smtp.messages) == 1
            (mail,) = smtp.messages
            assert smtp.handler.envelopes == [("syncd@dueren.example", ["ops@dueren.example"])]
            assert mail["Subject"].startswith("syncd: 1 need a person: target jinhua: unreachable")
            body = mail.get_content().replace("\r\n", "\n")
            assert "Needs a person:\n  - target jinhua: unreachable:" in body
            assert "Connection refused" in body and TARGET_SECRET not in mail.as_string()

            for _ in range(3):  # still down: told once, not again
                p.clock.advance(minutes=10)
                fail_and_recover(p, partner, up=False)
                assert alerts.check(p.app) is None
            assert len(smtp.messages) == 1

            p.clock.advance(minutes=10)
            fail_and_recover(p, partner, up=True)
            assert alerts.check(p.app) is not None
            assert len(smtp.messages) == 2
            recovery = smtp.messages[1]
            assert recovery["Subject"].startswith("syncd: 1 recovered")
            assert "Recovered:\r\n  - target jinhua: unreachable" in recovery.get_content()

            # down again within repeat_after (6h): recorded, not announced again ...
            p.feeds.entries[DUEREN_FEED] = [DE, Entry("news-2", "Zwei.", "<p>Zwei.</p>")]
            p.poll()
            p.clock.advance(minutes=10)
            fail_and_recover(p, partner, up=False)
            assert alerts.check(p.app) is None and len(smtp.messages) == 2
            # ... and announced once it has lasted past it
            p.clock.advance(hours=6)
            assert alerts.check(p.app) is not None and len(smtp.messages) == 3
            p.clock.advance(hours=1)
            assert alerts.check(p.app) is None and len(smtp.messages) == 3
        finally:
            p.close()


def test_a_signed_webhook_gets_the_alert_and_the_recovery(tmp_path: Path, partner: Partner) -> None:
    hook = AlertReceiver(WEBHOOK_SECRET, now=lambda: p.clock.now.timestamp())
    config = AlertsConfig(
        webhook_url=hook.url, webhook_secret=Secret(env=ALERT_ENV), timeout=Duration(seconds=5)
    )
    p = pipeline(tmp_path, partner, config)
    try:
        p.sync()
        assert alerts.check(p.app) is not None
        p.clock.advance(minutes=1)
        assert alerts.check(p.app) is None
        (doc,) = hook.alerts
        assert hook.refused == 0 and doc["type"] == "syncd.alert"
        (raised,) = doc["data"]["raised"]
        assert raised["kind"] == "target-unreachable" and raised["subject"] == "jinhua"
        assert doc["data"]["recovered"] == []
        p.clock.advance(minutes=10)
        fail_and_recover(p, partner, up=True)
        assert alerts.check(p.app) is not None
        assert [len(d["data"]["recovered"]) for d in hook.alerts] == [0, 1]
        assert len(set(hook.ids)) == 2
    finally:
        p.close()
        hook.close()


def test_a_channel_that_fails_records_nothing_and_the_next_check_sends(
    tmp_path: Path, partner: Partner
) -> None:
    hook = AlertReceiver("whsec_" + "d3Jvbmc=", now=lambda: p.clock.now.timestamp())
    config = AlertsConfig(webhook_url=hook.url, webhook_secret=Secret(env=ALERT_ENV))
    p = pipeline(tmp_path, partner, config)
    try:
        p.sync()
        assert alerts.check(p.app) is None and hook.refused == 1  # wrong secret: 401
        assert p.store.operator_alerts() == {}
        hook.close()
        hook = AlertReceiver(WEBHOOK_SECRET, now=lambda: p.clock.now.timestamp())
        fixed = dataclasses.replace(config, webhook_url=hook.url)
        p.app.config = dataclasses.replace(p.app.config, alerts=fixed)
        assert alerts.check(p.app) is not None and len(hook.alerts) == 1
    finally:
        p.close()
        hook.close()


# ------------------------------------------------------------------------ the policy


def row(key: str, *, active: bool, sent: timedelta | None, raise_sent: bool) -> OperatorAlertRow:
    kind, _, subject = key.partition(":")
    return OperatorAlertRow(key, kind, subject, f"{key} message", active,
                            sent_at=None if sent is None else NOW - sent, raise_sent=raise_sent)  # fmt: skip


def problem(key: str) -> tuple[str, str, str, str]:
    kind, _, subject = key.partition(":")
    return (key, kind, subject, f"{key} message")


def test_alert_policy_rate_limits_and_gathers_changes() -> None:
    policy = health.AlertPolicy(min_interval=timedelta(minutes=5), repeat_after=timedelta(hours=6))
    told = {"parked:jinhua": row("parked:jinhua", active=True, sent=timedelta(minutes=2),
                                 raise_sent=True)}  # fmt: skip
    # a second problem two minutes after the last message: wait, record nothing
    now_problems = [problem("parked:jinhua"), problem("source-alert:jinhua-news")]
    assert health.operator_alerts(told, now_problems, NOW, policy) is None
    # after the interval, both changes go into one message
    told["parked:jinhua"] = row("parked:jinhua", active=True, sent=timedelta(minutes=6),
                                raise_sent=True)  # fmt: skip
    intent = health.operator_alerts(told, now_problems[1:], NOW, policy)
    assert intent is not None
    assert [u.key for u in intent.raised] == ["source-alert:jinhua-news"]
    assert [u.key for u in intent.recovered] == ["parked:jinhua"]
    # a problem raised quietly (a comeback) recovers quietly
    quiet = {"parked:x": row("parked:x", active=True, sent=timedelta(hours=1), raise_sent=False)}
    intent = health.operator_alerts(quiet, [], NOW, policy)
    assert intent is not None and intent.recovered == () and intent.raised == ()
    assert [(u.key, u.active) for u in intent.updates] == [("parked:x", False)]
