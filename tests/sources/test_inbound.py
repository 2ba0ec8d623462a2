"""``kind = "inbound"``: signed pushes over a real loopback socket into a real store,
through the daemon's web front door (uvicorn + Starlette).

Signatures here are computed independently of syncd (hmac + base64 by hand), so a
mistake in syncd's own signing helpers cannot make these tests agree with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syncd.config import parse
from syncd.errors import ConfigError
from syncd.kinds import TABLE
from syncd.sources import SourceState
from syncd.sources.inbound import InboundSource, make
from syncd.sources.inbound_server import servers_for
from syncd.store import Store
from tests.sources.sites import NOW, Clock, load, source
from tests.support.frontdoor import FrontDoor
from tests.support.translator import FakeTranslator

RAW_KEY = b"partner-shared-secret-0123456789"
WHSEC = "whsec_" + base64.b64encode(RAW_KEY).decode()
ITEM = {
    "key": "jinhua-2024-0322-1",
    "title": "金华市召开2024年一季度经济形势分析会",
    "url": "https://www.jinhua.gov.cn/art/2024/3/22/art_1229160587_60291234.html",
    "summary": "3月22日，金华市召开分析会。",
    "body_html": "<p>3月22日，金华市召开2024年一季度经济形势分析会。</p><script>alert(1)</script>",
    "published": "2024-03-22T10:00:00",
    "images": [{"url": "https://www.jinhua.gov.cn/picture/1.jpg", "title": "会议现场"}],
    "categories": ["金华要闻"],
}


def signature(key: bytes, msg_id: str, ts: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class Endpoint:
    def __init__(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str = WHSEC, **opts: Any
    ) -> None:
        monkeypatch.setenv("JINHUA_PUSH_SECRET", secret)
        table = {"id": "jinhua-push", "kind": "inbound", "secret": {"env": "JINHUA_PUSH_SECRET"},
                 **opts}  # fmt: skip
        self.config = load(tmp_path, ("jinhua", table))
        self.source_cfg, self.city = source(self.config, "jinhua-push")
        self.store = Store(f"sqlite:///{tmp_path}/state.db")
        self.clock = Clock()
        self.server = FrontDoor(self.config, self.store, self.clock)
        self.server.start()
        self.path = "/inbound/jinhua-push"
        self.key = RAW_KEY

    def post(
        self,
        doc: Any = ITEM,
        *,
        msg_id: str = "msg_1",
        ts: datetime | None = None,
        body: bytes | None = None,
        sign_body: bytes | None = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        method: str = "POST",
        stamp_text: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        raw = body if body is not None else json.dumps(doc, ensure_ascii=False).encode()
        stamp = int((ts or self.clock.now).timestamp())
        hdrs = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": stamp_text or str(stamp),
            "webhook-signature": signature(
                self.key, msg_id, stamp, raw if sign_body is None else sign_body
            ),
            **(headers or {}),
        }
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=5)
        try:
            conn.request(
                method, path or self.path, body=raw if method == "POST" else None, headers=hdrs
            )
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"{}")
        finally:
            conn.close()

    def source(self) -> InboundSource:
        return make(self.source_cfg, self.city, None, store=self.store)  # type: ignore[arg-type]

    def counters(self) -> dict[str, int]:
        return self.store.counters().get("jinhua-push", {})

    def close(self) -> None:
        self.server.stop()
        self.store.close()


@pytest.fixture
def ep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    e = Endpoint(tmp_path, monkeypatch)
    yield e
    e.close()


def test_a_signed_push_becomes_an_item_once_recorded(ep: Endpoint) -> None:
    status, answer = ep.post()
    assert status == 202 and answer == {"accepted": True, "id": "msg_1", "key": ITEM["key"]}
    src = ep.source()
    result = src.fetch(SourceState())
    (item,) = result.items
    assert item.source_id == "jinhua-push" and item.key == ITEM["key"] and item.url == ITEM["url"]
    assert item.title == ITEM["title"]
    assert item.published == datetime(2024, 3, 22, 2, 0, tzinfo=UTC)  # no offset: Beijing time
    assert "<script" not in item.body_html and "分析会" in item.body_html
    assert [i.url for i in item.images] == ["https://www.jinhua.gov.cn/picture/1.jpg"]
    assert item.categories == ("金华要闻",)
    # not acknowledged (a crash before recording): still there on the next poll
    assert [i.key for i in src.fetch(SourceState()).items] == [ITEM["key"]]
    again = src.fetch(SourceState())
    src.acknowledge(again)
    assert src.fetch(SourceState()).items == ()
    assert ep.counters() == {"inbound-accepted": 1}


def test_tampered_stale_and_replayed_pushes_are_refused_and_counted(ep: Endpoint) -> None:
    assert ep.post()[0] == 202
    tampered = json.dumps({**ITEM, "title": "伪造"}, ensure_ascii=False).encode()
    original = json.dumps(ITEM, ensure_ascii=False).encode()
    status, answer = ep.post(msg_id="msg_2", body=tampered, sign_body=original)
    assert (status, answer["reason"]) == (401, "signature")
    status, answer = ep.post(msg_id="msg_3", ts=NOW - timedelta(minutes=6))
    assert (status, answer["reason"]) == (401, "stale")
    status, answer = ep.post(msg_id="msg_4", ts=NOW + timedelta(minutes=6))
    assert (status, answer["reason"]) == (401, "stale")
    status, answer = ep.post(msg_id="msg_1")  # the same message again
    assert (status, answer["accepted"], answer["reason"]) == (200, False, "replayed")
    assert ep.counters() == {
        "inbound-accepted": 1,
        "inbound-refused-signature": 1,
        "inbound-refused-stale": 2,
        "inbound-refused-replayed": 1,
    }
    assert len(ep.store.pending_inbound("jinhua-push")) == 1


def test_wrong_key_and_missing_headers(ep: Endpoint) -> None:
    ep.key = b"not the secret"
    assert ep.post(msg_id="msg_x")[1]["reason"] == "signature"
    ep.key = RAW_KEY
    status, answer = ep.post(headers={"webhook-signature": ""})
    assert (status, answer["reason"]) == (400, "unsigned")
    status, answer = ep.post(headers={"webhook-timestamp": "yesterday"})
    assert (status, answer["reason"]) == (401, "stale")
    assert ep.store.pending_inbound("jinhua-push") == []


def test_oversized_bodies_are_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    e = Endpoint(tmp_path, monkeypatch, max_bytes=2048)
    try:
        status, answer = e.post({**ITEM, "body_html": "<p>" + "长" * 5000 + "</p>"})
        assert (status, answer["reason"]) == (413, "too-large")
        # a client that claims a huge body and sends none gets its answer at once
        with socket.create_connection(("127.0.0.1", e.server.port), timeout=5) as s:
            s.sendall(
                b"POST /inbound/jinhua-push HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n"
            )
            assert b" 413 " in s.recv(4096).split(b"\r\n", 1)[0] + b" "
        assert e.counters()["inbound-refused-too-large"] == 2
    finally:
        e.close()


@pytest.mark.parametrize(
    ("doc", "body", "status", "reason", "detail"),
    [
        (None, b"{not json", 400, "bad-json", "not JSON"),
        (None, b"\xff\xfe\x00", 400, "bad-json", "not JSON"),
        ([1, 2], None, 422, "bad-schema", "expected a JSON object"),
        ({**ITEM, "body": "<p>x</p>"}, None, 422, "bad-schema", "unknown key 'body'"),
        ({"title": "x"}, None, 422, "bad-schema", "key: missing"),
        (
            {**ITEM, "url": "javascript:alert(1)"},
            None,
            422,
            "bad-schema",
            "url: expected an http(s) URL",
        ),
        ({**ITEM, "published": "22.03.2024"}, None, 422, "bad-schema", "published"),
        (
            {**ITEM, "images": [{"url": "file:///etc/passwd"}]},
            None,
            422,
            "bad-schema",
            "images[0].url",
        ),
        ({**ITEM, "title": "x" * 1001}, None, 422, "bad-schema", "title: longer than 1000"),
    ],
)
def test_malformed_pushes_are_refused(
    ep: Endpoint, doc: Any, body: bytes | None, status: int, reason: str, detail: str
) -> None:
    got, answer = ep.post(doc, body=body)
    assert (got, answer["reason"]) == (status, reason)
    assert detail in answer["detail"]
    assert ep.counters() == {f"inbound-refused-{reason}": 1}


def test_standard_webhooks_envelope_and_a_raw_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    e = Endpoint(tmp_path, monkeypatch, secret="plain-secret")
    try:
        e.key = b"plain-secret"
        envelope = {"type": "item.created", "timestamp": "2024-03-22T04:00:00Z", "data": ITEM}
        assert e.post(envelope)[0] == 202
        (item,) = e.source().fetch(SourceState()).items
        assert item.key == ITEM["key"]
    finally:
        e.close()


def test_later_push_of_one_key_wins_and_all_are_consumed(ep: Endpoint) -> None:
    ep.post(msg_id="m1")
    ep.post({**ITEM, "title": "更新后的标题"}, msg_id="m2")
    src = ep.source()
    result = src.fetch(SourceState())
    assert [i.title for i in result.items] == ["更新后的标题"]
    src.acknowledge(result)
    assert ep.store.pending_inbound("jinhua-push") == []


def test_unknown_paths_and_methods(ep: Endpoint) -> None:
    assert ep.post(path="/inbound/other")[0] == 404
    assert ep.post(method="GET")[0] == 405
    assert ep.counters() == {}


def test_echo_marker_in_a_push_is_noticed(ep: Endpoint) -> None:
    ep.post({**ITEM, "body_html": "<p>x</p><p>syncd:0123456789abcdef</p>"})
    (item,) = ep.source().fetch(SourceState()).items
    assert item.echo_marker == "0123456789abcdef"


def test_every_inbound_source_mounts_on_the_one_front_door(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S", "secret")
    tables = [
        ("jinhua", {"id": "a", "kind": "inbound", "secret": {"env": "S"}}),
        ("jinhua", {"id": "b", "kind": "inbound", "secret": {"env": "S"}}),
        ("dueren", {"id": "c", "kind": "inbound", "secret": {"env": "S"}, "path": "/in"}),
    ]
    cfg = load(tmp_path, *tables)
    store = Store(f"sqlite:///{tmp_path}/s.db")
    # no listener of their own; their endpoints are checked all the same
    assert servers_for([(s, c) for c, s in cfg.sources()], store, Clock()) == []
    door = FrontDoor(cfg, store, Clock())
    door.start()
    try:
        for path in ("/inbound/a", "/inbound/b", "/in"):
            conn = http.client.HTTPConnection("127.0.0.1", door.port, timeout=5)
            conn.request("POST", path, body=b"{}", headers={"Content-Length": "2"})
            resp = conn.getresponse()
            assert (resp.status, json.loads(resp.read())["reason"]) == (400, "unsigned"), path
            conn.close()
        assert store.counters() == {k: {"inbound-refused-unsigned": 1} for k in ("a", "b", "c")}
    finally:
        door.stop()
        store.close()


def test_an_inbound_listen_of_its_own_is_refused_with_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r'set \[web\] listen = "127.0.0.1:8787"'):
        load(tmp_path, ("jinhua", {"id": "a", "kind": "inbound", "secret": {"env": "S"},
                                   "listen": "127.0.0.1:8787"}))  # fmt: skip
    data = {
        "cities": [{"id": "jinhua", "name": "金华", "language": "zh", "timezone": "Asia/Shanghai",
                    "target": {"kind": "outbox", "path": "o"},
                    "sources": [{"id": "a", "kind": "inbound", "interval": "1m",
                                 "secret": {"env": "S"}}]}],
    }  # fmt: skip
    with pytest.raises(ConfigError, match=r"a pushed source is served on the web front door"):
        parse(data, tmp_path / "syncd.toml", kinds=TABLE)


def test_a_missing_secret_fails_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load(
        tmp_path, ("jinhua", {"id": "a", "kind": "inbound", "secret": {"env": "NOT_SET_ANYWHERE"}})
    )
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    store = Store(f"sqlite:///{tmp_path}/s.db")
    try:
        with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE"):
            servers_for([(s, c) for c, s in cfg.sources()], store, Clock())
    finally:
        store.close()


@pytest.mark.parametrize("published", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_signed_push_dated_beyond_the_calendar_has_no_date(ep: Endpoint, published: str) -> None:
    """It used to raise OverflowError on every poll, and the source never moved on."""
    status, _ = ep.post({**ITEM, "published": published})
    assert status == 202
    result = ep.source().fetch(SourceState())
    (item,) = result.items
    assert item.key == ITEM["key"] and item.published is None and result.entry_errors == ()


@pytest.mark.parametrize(
    "stamp", ["999999999999", "¹²³", "²", "99999999999999999999999999", "-1", "1e9"]
)
def test_an_odd_timestamp_is_refused_before_the_signature_is_checked(
    ep: Endpoint, stamp: str
) -> None:
    """A 12-digit or non-ASCII-digit timestamp used to raise (no answer, a traceback)."""
    status, answer = ep.post(stamp_text=stamp, headers={"webhook-signature": "v1,AAAA"})
    assert (status, answer["reason"]) == (401, "stale")
    assert ep.counters() == {"inbound-refused-stale": 1}


def test_a_signed_deeply_nested_body_is_answered_and_counted(ep: Endpoint) -> None:
    """Its parsing used to exhaust the recursion limit: no answer at all."""
    deep = b"[" * 100_000 + b"]" * 100_000
    status, answer = ep.post(body=deep)
    assert (status, answer["reason"]) == (400, "bad-json")
    assert "nested deeper than 32" in answer["detail"]
    nested_in_a_string = json.dumps({**ITEM, "summary": "[" * 5000}, ensure_ascii=False)
    assert ep.post(body=nested_in_a_string.encode(), msg_id="m2")[0] == 202
    assert ep.counters() == {"inbound-refused-bad-json": 1, "inbound-accepted": 1}


def test_a_slow_or_short_body_is_answered_or_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    e = Endpoint(tmp_path, monkeypatch, read_timeout="1s")
    head = b"POST /inbound/jinhua-push HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}"
    try:
        with socket.create_connection(("127.0.0.1", e.server.port), timeout=5) as s:
            s.sendall(head)  # and then nothing: answered after read_timeout
            first = s.recv(4096).split(b"\r\n", 1)[0]
        assert b" 408 " in first + b" "
        with socket.create_connection(("127.0.0.1", e.server.port), timeout=5) as s:
            s.sendall(head)
            s.shutdown(socket.SHUT_WR)  # hangs up mid-body: nobody to answer, still counted
            s.recv(4096)
        for _ in range(100):
            if e.counters().get("inbound-refused-no-length"):
                break
            time.sleep(0.05)
        assert e.counters() == {"inbound-refused-timeout": 1, "inbound-refused-no-length": 1}
    finally:
        e.close()


def test_the_daemon_serves_pushes_on_its_one_front_door(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncd.app import make_app
    from syncd.daemon import Daemon
    from syncd.web import WebServer

    monkeypatch.setenv("JINHUA_PUSH_SECRET", WHSEC)
    cfg = load(tmp_path, ("jinhua", {"id": "jinhua-push", "kind": "inbound",
                                     "secret": {"env": "JINHUA_PUSH_SECRET"}}))  # fmt: skip
    app = make_app(cfg, translator=FakeTranslator())
    daemon = Daemon(app)
    try:
        daemon.start()
        (web,) = daemon._servers
        assert isinstance(web, WebServer)
        body = json.dumps(ITEM, ensure_ascii=False).encode()
        stamp = int(datetime.now(UTC).timestamp())
        conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=5)
        conn.request("POST", "/inbound/jinhua-push", body=body, headers={
            "webhook-id": "m1", "webhook-timestamp": str(stamp),
            "webhook-signature": signature(RAW_KEY, "m1", stamp, body),
        })  # fmt: skip
        assert conn.getresponse().status == 202
        conn.close()
        assert [m for m, _p in app.store.pending_inbound("jinhua-push")] == ["m1"]
    finally:
        daemon.stop()
        app.close()
