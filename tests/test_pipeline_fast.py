"""The pipeline's promises, in process and fast: real store, sources and targets wired
by ``make_app``; fakes only where syncd meets what it does not own (feeds on an
``httpx.MockTransport``, a deterministic translator, a settable clock, a webhook
receiver or a fake WordPress server). See tests/support/pipeline.py.

The CLI-level versions of some of these (tests/test_e2e.py, tests/test_pipeline.py)
run real generated models and subprocesses; these check the same behaviour in
milliseconds each.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.models import DeliveryState
from tests.support.feeds import Entry
from tests.support.pipeline import (
    DUEREN_FEED,
    JINHUA_FEED,
    NOW,
    Clock,
    Pipeline,
    Pipelines,
    SimulatedCrash,
    pub,
    two_cities,
)
from tests.support.translator import FakeTranslator
from tests.support.webhook import WEBHOOK_SECRET, Receiver, receiver

DE = Entry("news-1", "Hallo Welt.", "<p>Hallo Welt.</p>", "https://www.dueren.example/news/1")
ZH = Entry("art-1", "你好世界。", "<p>你好世界。</p>", "https://www.jinhua.example/art/1.html",
           pub="Wed, 25 Nov 2026 10:00:00 +0800")  # fmt: skip
HOOK_ENV = "SYNCD_TEST_FAST_HOOK_SECRET"


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: "untouched" means equal snapshots."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


@pytest.fixture
def pipes(store_url: str) -> Iterator[Pipelines]:
    """Pipelines a test opens, on SQLite and on PostgreSQL; closed after it."""
    made = Pipelines(store_url)
    yield made
    made.close()


def pipeline(pipes: Pipelines, tmp_path: Path, **kw: Any) -> Pipeline:
    config_kw = {k: kw.pop(k) for k in list(kw) if k in ("jinhua_target", "sync")}
    p = Pipeline(tmp_path, two_cities(tmp_path, **config_kw), store_url=pipes.store_url, **kw)
    pipes.append(p)
    return p


# ------------------------------------------------------------------------ the happy path


def test_items_go_both_ways_once_with_original_and_pivot(tmp_path: Path, pipes: Pipelines) -> None:
    p = pipeline(pipes, tmp_path)
    p.feeds.entries[DUEREN_FEED] = [DE]
    p.feeds.entries[JINHUA_FEED] = [ZH]
    r = p.sync()
    assert (r.created, r.failed, r.parked, r.errors) == (2, 0, 0, [])
    (zh,) = (json.loads(f.read_text(encoding="utf-8")) for f in p.outbox("jinhua"))
    assert zh["title"] == "[zh] Hallo Welt." and zh["original_title"] == "Hallo Welt."
    assert zh["pivot"]["title"] == "[en] Hallo Welt."
    (de,) = (json.loads(f.read_text(encoding="utf-8")) for f in p.outbox("dueren"))
    assert de["title"] == "[de] 你好世界。" and de["source_url"] == ZH.link
    before = files(tmp_path / "drafts")
    r = p.sync()
    assert (r.created, r.updated) == (0, 0)
    assert files(tmp_path / "drafts") == before
    assert len(p.translator.requests) == 2  # the second pass translated nothing


def test_an_untouched_draft_follows_the_source(tmp_path: Path, pipes: Pipelines) -> None:
    p = pipeline(pipes, tmp_path)
    p.feeds.entries[DUEREN_FEED] = [DE]
    assert p.sync().created == 1
    p.feeds.entries[DUEREN_FEED] = [Entry(DE.guid, "Hallo Welt.", "<p>Neu.</p>", DE.link)]
    r = p.sync()
    assert (r.updated, r.created) == (1, 0)
    (sidecar,) = p.outbox("jinhua")
    assert json.loads(sidecar.read_text(encoding="utf-8"))["version"] == 2
    assert "<p>[zh] Neu.</p>" in sidecar.with_suffix(".html").read_text(encoding="utf-8")


# -------------------------------------------------------------- write-ahead and reconcile


@pytest.mark.parametrize("editor_touched_it", [False, True])
def test_a_crash_after_the_remote_create_is_reconciled_not_created_twice(
    tmp_path: Path, pipes: Pipelines, editor_touched_it: bool
) -> None:
    """Promise 1: the delivery row is written before the remote create; a process
    killed right after the create leaves it ``creating``, and the next process adopts
    the draft it finds by marker instead of writing a second one (and leaves it to
    the editor if one changed it meanwhile, promise 3)."""
    p = pipeline(pipes, tmp_path)
    p.feeds.entries[DUEREN_FEED] = [DE]
    p.poll()
    folder = tmp_path / "drafts" / "jinhua"
    # the process dies at its first step after the draft landed in the outbox
    p.clock.crash_when = lambda: any(folder.glob("syncd-*.json"))
    with pytest.raises(SimulatedCrash):
        p.deliver()
    assert p.clock.crash_when is None, "the crash did not happen"
    assert p.states() == {("news-1", "jinhua"): "creating"}
    (sidecar,) = p.outbox("jinhua")
    if editor_touched_it:
        page = sidecar.with_suffix(".html")
        page.write_text(page.read_text(encoding="utf-8").replace("Hallo", "Hallo (redigiert)"),
                        encoding="utf-8")  # fmt: skip
    before = files(folder)

    p.restart()
    r = p.deliver()
    assert (r.adopted, r.created) == (1, 0)
    assert files(folder) == before  # not written again, not duplicated
    d = p.delivery("news-1", "jinhua")
    assert d.state is (DeliveryState.EDITED if editor_touched_it else DeliveryState.PUSHED)
    assert d.remote_id == sidecar.stem
    # and nothing happens on the passes after
    assert p.sync().created == 0 and files(folder) == before


def test_a_lost_webhook_answer_is_resent_with_the_same_id_and_kept_once(
    tmp_path: Path, pipes: Pipelines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver stored the draft but its answer was lost (a 503): the delivery
    stays ``creating`` and is sent again later under the same webhook-id, which the
    receiver dedupes: one draft there, not two."""
    clock = Clock()
    hook = Receiver(now=lambda: clock.now.timestamp())
    try:
        monkeypatch.setenv(HOOK_ENV, WEBHOOK_SECRET)
        target = {"kind": "webhook", "url": hook.url, "secret": {"env": HOOK_ENV}}
        p = pipeline(pipes, tmp_path, jinhua_target=target, clock=clock)
        p.feeds.entries[DUEREN_FEED] = [DE]
        hook.server.fail = 1
        r = p.sync()
        assert (r.created, r.failed) == (0, 1)
        assert p.states() == {("news-1", "jinhua"): "creating"}
        assert p.sync().failed == 0  # Retry-After 7 s not over yet: nothing sent
        assert hook.inbox.count_messages() == 1
        clock.advance(seconds=8)
        r = p.sync()
        assert r.created == 1 and r.errors == []
        assert p.states() == {("news-1", "jinhua"): "pushed"}
        assert hook.inbox.count_messages() == 1 and hook.inbox.count_items() == 1
    finally:
        hook.close()


# --------------------------------------------------------------------- editors' work


def _edit(page: Path) -> None:
    page.write_text(page.read_text(encoding="utf-8").replace("Hallo", "Hallo (redigiert)"),
                    encoding="utf-8")  # fmt: skip


def _publish(page: Path) -> None:
    sidecar = page.with_suffix(".json")
    doc = json.loads(sidecar.read_text(encoding="utf-8"))
    doc["status"] = "published"
    sidecar.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def _delete(page: Path) -> None:
    page.unlink()
    page.with_suffix(".json").unlink()


@pytest.mark.parametrize(
    ("editor", "state"),
    [(_edit, "edited"), (_publish, "published"), (_delete, "rejected")],
    ids=["edited", "published", "deleted"],
)
def test_a_draft_an_editor_took_over_is_never_written_again(
    tmp_path: Path, pipes: Pipelines, editor: Any, state: str
) -> None:
    """Promise 3: once an editor touched, published or deleted the draft, a later
    change of the source is recorded as "source updated after review", never written."""
    p = pipeline(pipes, tmp_path)
    p.feeds.entries[DUEREN_FEED] = [DE]
    assert p.sync().created == 1
    (sidecar,) = p.outbox("jinhua")
    editor(sidecar.with_suffix(".html"))
    folder = tmp_path / "drafts" / "jinhua"
    after_editor = files(folder)

    p.feeds.entries[DUEREN_FEED] = [Entry(DE.guid, "Hallo Welt.", "<p>Neu.</p>", DE.link)]
    r = p.sync()
    assert (r.handed_off, r.updated, r.created) == (1, 0, 0)
    d = p.delivery("news-1", "jinhua")
    assert d.state.value == state and d.changed_after_review
    assert d.note is not None and "source updated after review" in d.note
    assert files(folder) == after_editor
    # a further change is not written either, nor noted again
    p.feeds.entries[DUEREN_FEED] = [Entry(DE.guid, "Hallo Welt.", "<p>Neuer.</p>", DE.link)]
    r = p.sync()
    assert (r.handed_off, r.updated, r.created) == (0, 0, 0)
    assert files(folder) == after_editor


# ------------------------------------------------------------------- failing targets


def test_a_target_failing_again_and_again_parks_the_item_and_retry_requeues_it(
    tmp_path: Path, pipes: Pipelines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promise 2: a failed push is retried with backoff; after ``max_attempts`` the item
    is parked and left alone until ``retry_parked`` re-queues it."""
    answer = {"status": 503}
    sent: list[httpx.Request] = []

    def hook(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(answer["status"])

    monkeypatch.setenv(HOOK_ENV, WEBHOOK_SECRET)
    p = pipeline(
        pipes, tmp_path,
        jinhua_target={"kind": "webhook", "url": "https://hook.example/syncd",
                       "secret": {"env": HOOK_ENV}},
        sync={"max_attempts": 3},
        target_http=httpx.Client(transport=httpx.MockTransport(hook)),
    )  # fmt: skip
    p.feeds.entries[DUEREN_FEED] = [DE]
    assert p.sync().failed == 1
    assert p.sync().failed == 0 and len(sent) == 1  # backing off: not due yet
    p.clock.advance(hours=1)
    assert p.sync().failed == 1
    p.clock.advance(hours=1)
    r = p.sync()
    assert r.parked == 1 and len(sent) == 3
    d = p.delivery("news-1", "jinhua")
    assert d.state is DeliveryState.PARKED and d.attempts == 3
    assert d.last_error is not None and "HTTP 503" in d.last_error
    p.clock.advance(days=30)
    assert p.sync().parked == 0 and len(sent) == 3  # parked: left alone

    answer["status"] = 204
    assert p.store.retry_parked(p.clock()) == 1
    r = p.sync()
    assert r.created == 1 and len(sent) == 4
    assert p.states() == {("news-1", "jinhua"): "pushed"}


def test_a_refused_item_parks_at_once_and_the_others_go_on(
    tmp_path: Path, pipes: Pipelines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 400 is the server refusing this item: no retries, parked with the server's
    reason; the other items of the pass still reach the same target."""
    posts: list[dict[str, Any]] = []

    def wordpress(request: httpx.Request) -> httpx.Response:  # a fake WordPress REST API
        assert request.url.params["rest_route"] == "/wp/v2/posts"
        if request.method == "GET":  # the lookup by marker before a first create
            return httpx.Response(200, json=[])
        assert request.method == "POST"
        post = json.loads(request.content)
        posts.append(post)
        if "Kaputt" in post["title"]:
            return httpx.Response(400, json={"code": "rest_invalid_param",
                                             "message": "Invalid parameter(s): title"})  # fmt: skip
        n = len(posts)
        return httpx.Response(201, json={
            "id": n, "status": "draft", "slug": post["slug"], "meta": post["meta"],
            "modified_gmt": "2026-11-25T12:00:00", "link": f"https://jinhua.example/?p={n}",
        })  # fmt: skip

    monkeypatch.setenv("SYNCD_TEST_FAST_WP", "app pass word")
    p = pipeline(
        pipes, tmp_path,
        jinhua_target={"kind": "wordpress", "url": "https://jinhua.example/", "user": "syncd",
                       "password": {"env": "SYNCD_TEST_FAST_WP"}},
        target_http=httpx.Client(transport=httpx.MockTransport(wordpress)),
    )  # fmt: skip
    p.feeds.entries[DUEREN_FEED] = [Entry("bad", "Kaputt.", "<p>Kaputt.</p>"), DE]
    r = p.sync()
    assert (r.parked, r.created, r.failed) == (1, 1, 0)
    assert p.states() == {("bad", "jinhua"): "parked", ("news-1", "jinhua"): "pushed"}
    d = p.delivery("bad", "jinhua")
    assert d.attempts == 1 and d.last_error is not None
    assert "400" in d.last_error and "rest_invalid_param" in d.last_error
    p.clock.advance(days=1)
    assert p.sync().parked == 0 and len(posts) == 2  # never sent again by itself


@pytest.mark.parametrize("status", [401, 403])
def test_a_target_refusing_credentials_gets_nothing_more_until_they_change(
    tmp_path: Path, pipes: Pipelines, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    """Promise 5 with a twist: a 401/403 stops the target for the rest of the pass and
    for later passes (no hammering with every item), the other city's target goes on;
    changed credentials make it healthy again and everything waiting goes out."""
    clock = Clock()
    new_secret = "whsec_" + base64.b64encode(b"the-rotated-secret-32-bytes-long").decode()
    verifier = receiver.Verifier(new_secret, now=lambda: clock.now.timestamp())
    sent: list[httpx.Request] = []

    def hook(request: httpx.Request) -> httpx.Response:  # knows only the new secret
        sent.append(request)
        try:
            verifier.verify(dict(request.headers), request.content)
        except receiver.InvalidSignature:
            return httpx.Response(status)
        return httpx.Response(204)

    monkeypatch.setenv(HOOK_ENV, WEBHOOK_SECRET)
    p = pipeline(
        pipes, tmp_path, clock=clock,
        jinhua_target={"kind": "webhook", "url": "https://hook.example/syncd",
                       "secret": {"env": HOOK_ENV}},
        target_http=httpx.Client(transport=httpx.MockTransport(hook)),
    )  # fmt: skip
    p.feeds.entries[DUEREN_FEED] = [
        Entry(f"k{i}", "Hallo Welt.", f"<p>Hallo Welt {i}.</p>") for i in range(3)
    ]
    p.feeds.entries[JINHUA_FEED] = [ZH]
    r = p.sync()
    assert len(sent) == 1  # the first refusal ends the target's pass
    assert r.created == 1 and len(p.outbox("dueren")) == 1  # the other target is served
    jinhua = {k: v for (k, t), v in p.states().items() if t == "jinhua"}
    assert sorted(jinhua.values()) == ["creating", "pending", "pending"]
    clock.advance(hours=1)
    assert p.sync().created == 0 and len(sent) == 1  # same credentials: not tried again

    monkeypatch.setenv(HOOK_ENV, new_secret)  # the operator fixes the secret
    r = p.sync()
    assert r.created == 3 and len(sent) == 4
    assert all(v == "pushed" for v in p.states().values())


# ------------------------------------------------------------------ what is not sent


def test_our_own_draft_coming_back_is_skipped_and_never_translated(
    tmp_path: Path, pipes: Pipelines
) -> None:
    """Promise 4: Jinhua publishes syncd's draft and it appears in Jinhua's feed,
    marker and all; syncd records it as an echo and never translates it back."""
    p = pipeline(pipes, tmp_path)
    p.feeds.entries[DUEREN_FEED] = [DE]
    assert p.sync().created == 1
    (sidecar,) = p.outbox("jinhua")
    draft = json.loads(sidecar.read_text(encoding="utf-8"))
    page = sidecar.with_suffix(".html").read_text(encoding="utf-8")
    body = page.split("<article>")[1].split("</article>")[0]
    p.feeds.entries[JINHUA_FEED] = [
        Entry("jinhua-42", draft["title"], body, "https://www.jinhua.example/art/42.html")
    ]
    r = p.sync()
    assert r.created == 0 and p.outbox("dueren") == []
    d = p.delivery("jinhua-42", "dueren")
    assert d.state is DeliveryState.SKIPPED and d.note is not None and "echo" in d.note
    assert [r.source_language for r in p.translator.requests] == ["de"]


def test_first_activation_skips_old_items_and_those_beyond_the_cap(
    tmp_path: Path, pipes: Pipelines
) -> None:
    """Turning a source on does not flood the partner with its archive: only items
    younger than ``first_run_max_age``, at most ``first_run_max_items`` newest."""
    p = pipeline(pipes, tmp_path, sync={"first_run_max_age": "14d", "first_run_max_items": 2})
    ages = {"fresh-1": 1, "fresh-2": 2, "fresh-3": 3, "old": 30 * 24}  # hours before NOW
    p.feeds.entries[DUEREN_FEED] = [
        Entry(k, f"Titel {k}.", f"<p>Text {k}.</p>", pub=pub(NOW - timedelta(hours=h)))
        for k, h in ages.items()
    ]
    r = p.sync()
    assert r.created == 2
    assert p.states() == {
        ("fresh-1", "jinhua"): "pushed", ("fresh-2", "jinhua"): "pushed",
        ("fresh-3", "jinhua"): "skipped", ("old", "jinhua"): "skipped",
    }  # fmt: skip
    assert "older than 14 days" in (p.delivery("old", "jinhua").note or "")
    assert "beyond the newest 2" in (p.delivery("fresh-3", "jinhua").note or "")
    assert sorted(p.translator.titles()) == ["Titel fresh-1.", "Titel fresh-2."]
    # after the first activation, new items go through as usual
    p.clock.advance(hours=1)
    p.feeds.entries[DUEREN_FEED].append(Entry("fresh-4", "Titel fresh-4.", "<p>Vier.</p>",
                                              pub=pub(p.clock.now)))  # fmt: skip
    assert p.sync().created == 1
    assert p.states()[("fresh-4", "jinhua")] == "pushed"
    assert p.states()[("fresh-3", "jinhua")] == "skipped"


def test_items_wait_for_missing_models_and_go_once_installed(
    tmp_path: Path, pipes: Pipelines
) -> None:
    """A missing model is not a failure of the item: it waits (no attempts used up,
    never parked), names the install command, and goes once the route exists; the
    direction whose model is there is not held up."""
    translator = FakeTranslator([("zh", "de")])
    p = pipeline(pipes, tmp_path, translator=translator, sync={"max_attempts": 2})
    p.feeds.entries[DUEREN_FEED] = [DE]
    p.feeds.entries[JINHUA_FEED] = [ZH]
    for _ in range(3):
        r = p.sync()
        p.clock.advance(hours=1)
    assert (r.waiting_for_models, r.parked, r.failed) == (1, 0, 0)
    assert p.outbox("jinhua") == [] and len(p.outbox("dueren")) == 1
    d = p.delivery("news-1", "jinhua")
    assert d.state is DeliveryState.PENDING and d.attempts == 0
    assert d.last_error is not None and "syncd models install de zh" in d.last_error
    translator.install("de", "zh")
    r = p.sync()
    assert (r.created, r.waiting_for_models) == (1, 0)
    assert p.states()[("news-1", "jinhua")] == "pushed"
