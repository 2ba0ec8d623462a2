"""The webhook target against the shipped example receiver on 127.0.0.1 (real sockets)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from syncd.config import Duration, Secret
from syncd.errors import TargetAuthError, TargetRetryable
from syncd.models import Remote, RemoteStatus
from syncd.signing import sign, signing_key
from syncd.targets.webhook import Options, WebhookTarget, make, webhook_id
from tests.support.webhook import WEBHOOK_SECRET, Receiver

from .factory import city, draft


def now() -> datetime:
    return datetime.now(UTC)


def target(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    secret: str = WEBHOOK_SECRET,
    clock: Callable[[], datetime] = now,
    http: httpx.Client | None = None,
) -> WebhookTarget:
    monkeypatch.setenv("SYNCD_TEST_WEBHOOK_SECRET", secret)
    opts = Options(
        url=url, secret=Secret(env="SYNCD_TEST_WEBHOOK_SECRET"), timeout=Duration(seconds=5)
    )
    t = make(city("webhook", opts), http, clock)
    assert isinstance(t, WebhookTarget)
    return t


def test_delivers_one_signed_document_with_everything_a_receiver_needs(
    webhook_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = target(webhook_receiver.url, monkeypatch)
    d = draft()
    remote = t.create(d)
    t.close()
    assert remote == Remote(remote_id=d.marker, fingerprint=webhook_id(d), url=None)
    item = webhook_receiver.inbox.item(d.marker)
    assert (item["state"], item["version"], item["title"]) == ("draft", 1, d.title)
    doc = json.loads(item["doc"])
    assert doc["type"] == "syncd.draft.created"
    data = doc["data"]
    assert data["id"] == webhook_id(d)
    assert data["item"]["key"] == d.source_key and data["item"]["url"] == d.source_url
    assert data["languages"] == {"source": "de", "target": "zh"}
    assert data["original"] == {
        "title": d.original_title,
        "summary": d.original_summary,
        "body_html": d.original_body_html,
    }
    assert data["translation"]["title"] == d.title
    assert f"syncd:{d.marker}" in data["translation"]["body_html"]
    assert data["pivot"]["title"] == "Title v1"
    assert data["quality_flags"] == [
        {"kind": "numbers", "sentence": 0, "detail": "2026 vs 2025", "field": "body"}
    ]
    assert (data["content_hash"], data["version"]) == (d.content_hash, 1)


def test_retries_reuse_the_id_and_the_receiver_counts_the_message_once(
    webhook_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = draft()
    webhook_receiver.server.fail = 2  # stored, but the answer is "lost" twice
    for _ in range(2):
        t = target(webhook_receiver.url, monkeypatch)  # a new process after each failure
        with pytest.raises(TargetRetryable) as err:
            t.create(d)
        assert err.value.delay == timedelta(seconds=7)  # Retry-After honoured
        assert t.find(d) is None  # nothing to adopt: re-sending is the reconciliation
        t.close()
    remote = target(webhook_receiver.url, monkeypatch).create(d)
    assert remote.fingerprint == webhook_id(d)
    assert webhook_receiver.inbox.count_messages(d.marker) == 1
    assert webhook_receiver.inbox.count_items() == 1


def test_a_new_version_has_a_new_id_and_replaces_an_untouched_draft(
    webhook_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = target(webhook_receiver.url, monkeypatch)
    v1, v2 = draft(version=1), draft(version=2)
    assert webhook_id(v1) != webhook_id(v2)
    assert webhook_id(v1) == webhook_id(replace(v1, title="other title, same version and hash"))
    r1 = t.create(v1)
    assert t.inspect(r1) is RemoteStatus.OURS
    r2 = t.update(r1, v2)
    assert r2.fingerprint == webhook_id(v2)
    item = webhook_receiver.inbox.item(v1.marker)
    assert (item["state"], item["version"], item["title"]) == ("draft", 2, v2.title)
    assert json.loads(item["doc"])["type"] == "syncd.draft.updated"


def test_wrong_secret_is_an_auth_error_and_changes_the_credential_id(
    webhook_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = target(webhook_receiver.url, monkeypatch, secret="whsec_d3Jvbmc=")
    wrong_id = wrong.credential_id
    with pytest.raises(TargetAuthError, match="HTTP 401"):
        wrong.create(draft())
    right = target(webhook_receiver.url, monkeypatch)
    assert right.credential_id != wrong_id
    assert "d3Jvbmc" not in wrong_id and len(wrong_id) == 16
    assert webhook_receiver.inbox.count_messages() == 0


def test_receiver_refuses_a_stale_timestamp(
    webhook_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = target(webhook_receiver.url, monkeypatch, clock=lambda: now() - timedelta(minutes=6))
    with pytest.raises(TargetAuthError, match="HTTP 401"):
        t.create(draft())
    assert webhook_receiver.inbox.count_messages() == 0


def test_receiver_refuses_a_tampered_body(webhook_receiver: Receiver) -> None:
    body = json.dumps({"type": "syncd.draft.created", "data": {"marker": "x"}}).encode()
    ts = int(now().timestamp())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(signing_key(WEBHOOK_SECRET), "msg_1", ts, body),
    }
    tampered = body.replace(b'"x"', b'"y"')
    with httpx.Client(trust_env=False) as c:
        assert c.post(webhook_receiver.url, content=tampered, headers=headers).status_code == 401
        bad_id = {**headers, "webhook-id": "msg_2"}
        assert c.post(webhook_receiver.url, content=body, headers=bad_id).status_code == 401
        assert c.post(webhook_receiver.url, content=body).status_code == 401
    assert webhook_receiver.inbox.count_messages() == 0


def test_signature_matches_the_standard_webhooks_reference_vector() -> None:
    # the example in the Standard Webhooks specification
    key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


@pytest.mark.parametrize(
    ("reply", "error", "delay"),
    [
        (httpx.Response(500), TargetRetryable, None),
        (
            httpx.Response(429, headers={"Retry-After": "30"}),
            TargetRetryable,
            timedelta(seconds=30),
        ),
        (httpx.Response(404), TargetRetryable, None),
        (httpx.Response(302, headers={"Location": "https://x.example/"}), TargetRetryable, None),
        (httpx.Response(403), TargetAuthError, None),
    ],
)
def test_non_2xx_answers_are_retried_except_auth(
    reply: httpx.Response,
    error: type[Exception],
    delay: timedelta | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda request: reply))
    t = target("https://receiver.example/hook", monkeypatch, http=http)
    with pytest.raises(error) as err:
        t.create(draft())
    if isinstance(err.value, TargetRetryable):
        assert err.value.delay == delay


def test_a_timeout_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(TargetRetryable, match="timed out"):
        target("https://receiver.example/hook", monkeypatch, http=http).create(draft())


def test_an_unset_secret_is_an_auth_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    t = target("https://receiver.example/hook", monkeypatch)
    monkeypatch.delenv("SYNCD_TEST_WEBHOOK_SECRET")
    assert len(t.credential_id) == 16
    with pytest.raises(TargetAuthError, match="SYNCD_TEST_WEBHOOK_SECRET"):
        t.create(draft())
