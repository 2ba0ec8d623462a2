"""``/healthz`` and ``/metrics`` on the real front door (uvicorn on loopback), over an
in-process pipeline whose Jinhua target is a webhook that is down, then back.
Metrics are read with prometheus-client's own text parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from syncd.web import WebContext, WebServer, make_web_app
from tests.support.feeds import Entry
from tests.support.loopback import LoopbackServer, Reply
from tests.support.pipeline import DUEREN_FEED, Pipeline, two_cities

DE = Entry("news-1", "Hallo Welt.", "<p>Hallo Welt.</p>", "https://www.dueren.example/news/1")
SECRET_ENV = "SYNCD_TEST_OPS_HOOK_SECRET"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return metrics[(name, frozenset(labels.items()))]


class Front:
    """The front door with the shipped providers, over one pipeline's app."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.alive = True
        ctx = WebContext(pipeline.app, run_state=lambda: "started",
                         scheduler_alive=lambda: self.alive)  # fmt: skip
        self.server = WebServer(make_web_app(ctx), "127.0.0.1:0")
        self.server.start()
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.server.port}", trust_env=False)

    def healthz(self, **params: str) -> tuple[int, dict[str, Any]]:
        r = self.client.get("/healthz", params=params)
        return r.status_code, r.json()

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        r = self.client.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        return samples(r.text)

    def close(self) -> None:
        self.client.close()
        self.server.stop()


@pytest.fixture
def down_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Pipeline, Front, int]]:
    monkeypatch.setenv(SECRET_ENV, "whsec_c3luY2Qtb3BzLXdlYi10ZXN0LXNlY3JldC0zMi1ieXRlcyE=")
    probe = LoopbackServer().start()
    port = probe.port
    probe.stop()  # nothing listens there: connection refused
    hook = {"kind": "webhook", "url": f"http://127.0.0.1:{port}/hook",
            "secret": {"env": SECRET_ENV}, "timeout": "2s"}  # fmt: skip
    p = Pipeline(tmp_path, two_cities(tmp_path, jinhua_target=hook))
    front = Front(p)
    try:
        yield p, front, port
    finally:
        front.close()
        p.close()


def test_healthz_and_metrics_tell_a_target_down_and_back(
    down_hook: tuple[Pipeline, Front, int],
) -> None:
    p, front, port = down_hook
    p.feeds.entries[DUEREN_FEED] = [DE]
    status, body = front.healthz()
    assert status == 200 and body["ready"] and body["live"] and body["reasons"] == []

    r = p.sync()
    assert r.failed == 1
    status, body = front.healthz()
    assert status == 503 and body["status"] == "unavailable" and body["live"]
    (reason,) = body["reasons"]
    assert reason.startswith("target jinhua: unreachable:") and "Connection refused" in reason
    (problem,) = body["problems"]
    assert problem["kind"] == "target-unreachable" and problem["since"]
    assert front.healthz(probe="live")[0] == 200  # alive: a partner down is no restart

    m = front.metrics()
    assert value(m, "syncd_delivery_steps_total", target="jinhua", outcome="failed") == 1
    assert value(m, "syncd_target_up", target="jinhua") == 0
    assert value(m, "syncd_target_up", target="dueren") == 1
    assert value(m, "syncd_deliveries", target="jinhua", state="creating") == 1
    assert value(m, "syncd_queue_depth", target="jinhua") == 1
    assert value(m, "syncd_queue_in_backoff", target="jinhua") == 1
    assert value(m, "syncd_polls_total", source="dueren-news", result="ok") == 1
    assert value(m, "syncd_items_total", source="dueren-news", kind="new") == 1
    assert value(m, "syncd_problems", kind="target-unreachable") == 1
    assert value(m, "syncd_source_last_success_timestamp_seconds", source="dueren-news") == (
        p.clock.now.timestamp()
    )
    assert ("process_resident_memory_bytes", frozenset()) in m

    # the receiver is back on the same address; retry --now, and the next pass delivers
    hook = LoopbackServer(port).start()
    hook.routes["/hook"] = lambda req: Reply(204, b"")
    try:
        assert p.store.retry_waiting(p.clock()) == 1
        assert p.deliver().created == 1
        assert len(hook.hits("/hook")) == 1
        assert p.deliver().created == 0 and len(hook.hits("/hook")) == 1  # exactly once
    finally:
        hook.stop()
    status, body = front.healthz()
    assert status == 200 and body["problems"] == []
    m = front.metrics()
    assert value(m, "syncd_target_up", target="jinhua") == 1
    assert value(m, "syncd_delivery_steps_total", target="jinhua", outcome="created") == 1
    assert value(m, "syncd_deliveries", target="jinhua", state="pushed") == 1


def test_healthz_is_503_when_the_scheduler_died_or_the_store_is_read_only(
    down_hook: tuple[Pipeline, Front, int], tmp_path: Path
) -> None:
    p, front, _port = down_hook
    front.alive = False
    status, body = front.healthz(probe="live")
    assert status == 503 and body["reasons"] == ["the scheduler is not running"]
    status, body = front.healthz()
    assert status == 503 and not body["live"]
    front.alive = True
    db = tmp_path / "state" / "syncd.db"
    p.store.engine.dispose()
    db.chmod(0o444)
    try:
        status, body = front.healthz()
    finally:
        db.chmod(0o644)
    import os

    if os.geteuid() == 0:  # root writes read-only files: nothing to see
        assert status == 200
    else:
        assert status == 503 and "not writable" in body["reasons"][0]
