"""One contract for every target kind (apscheduler-style: the same tests per backend).

Each ``Platform`` is a target plus what the test needs to see and do on the other side:
count the drafts for a marker, read what is stored, and act as an editor. A case that
cannot apply to a non-inspectable target (the webhook: the receiver owns editorial
state) is asserted as such, never skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from syncd.config import Duration, Secret
from syncd.models import Remote, RemoteStatus
from syncd.targets import Target, outbox, webhook
from tests.support.webhook import WEBHOOK_SECRET, Receiver

from .factory import HOSTILE_BODY, HOSTILE_MARKS, city, draft

EDITOR_TEXT = "编辑部修改过的正文"


class Platform(Protocol):
    def new_target(self) -> Target: ...  # a fresh process: nothing remembered
    def count(self, marker: str) -> int: ...  # drafts created for this marker
    def stored(self, remote: Remote) -> tuple[str, str]: ...  # (title, body) as held now
    def editor_edit(self, remote: Remote) -> None: ...
    def editor_delete(self, remote: Remote) -> None: ...


def clock() -> datetime:
    return datetime.now(UTC)


class OutboxPlatform:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def new_target(self) -> Target:
        return outbox.make(city("outbox", outbox.Options(path=self.folder)), None, clock)

    def count(self, marker: str) -> int:
        return len(list(self.folder.glob(f"syncd-{marker}*.json")))

    def stored(self, remote: Remote) -> tuple[str, str]:
        sidecar = json.loads((self.folder / f"{remote.remote_id}.json").read_text("utf-8"))
        return sidecar["title"], (self.folder / f"{remote.remote_id}.html").read_text("utf-8")

    def editor_edit(self, remote: Remote) -> None:
        page = self.folder / f"{remote.remote_id}.html"
        page.write_text(
            page.read_text("utf-8").replace("<article>", f"<article><p>{EDITOR_TEXT}</p>")
        )

    def editor_delete(self, remote: Remote) -> None:
        for suffix in (".html", ".json"):
            (self.folder / f"{remote.remote_id}{suffix}").unlink()


class WebhookPlatform:
    def __init__(self, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
        self.receiver = receiver
        monkeypatch.setenv("SYNCD_TEST_CONTRACT_SECRET", WEBHOOK_SECRET)

    def new_target(self) -> Target:
        opts = webhook.Options(
            url=self.receiver.url, secret=Secret(env="SYNCD_TEST_CONTRACT_SECRET"),
            timeout=Duration(seconds=5),
        )  # fmt: skip
        return webhook.make(city("webhook", opts), None, clock)

    def count(self, marker: str) -> int:
        return 1 if self.receiver.inbox.item(marker)["state"] is not None else 0

    def stored(self, remote: Remote) -> tuple[str, str]:
        item = self.receiver.inbox.item(remote.remote_id)
        return item["title"] or "", item["body_html"] or ""

    def editor_edit(self, remote: Remote) -> None:
        self.receiver.inbox.editor_edit(remote.remote_id, body_html=f"<p>{EDITOR_TEXT}</p>")

    def editor_delete(self, remote: Remote) -> None:
        self.receiver.inbox.editor_delete(remote.remote_id)


class WordPressPlatform:
    def __init__(self, wp: Any, make: Callable[..., Any]) -> None:
        self.wp, self.make = wp, make

    def new_target(self) -> Target:
        return self.make()  # type: ignore[no-any-return]

    def count(self, marker: str) -> int:
        return len(
            self.wp.find_by_source(marker, user="admin", status="draft,pending,publish,trash")
        )

    def stored(self, remote: Remote) -> tuple[str, str]:
        r = self.wp.get_post(int(remote.remote_id))
        if r.status_code == 404:
            return "", ""
        post = r.json()
        return post["title"]["raw"], post["content"]["raw"]

    def editor_edit(self, remote: Remote) -> None:
        self.wp.editor_edit(int(remote.remote_id), content=f"<p>{EDITOR_TEXT}</p>")

    def editor_delete(self, remote: Remote) -> None:
        assert self.wp.delete(int(remote.remote_id)).status_code == 200


@pytest.fixture(
    params=["outbox", "webhook", pytest.param("wordpress", marks=pytest.mark.wordpress)]
)
def platform(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Platform]:
    if request.param == "outbox":
        yield OutboxPlatform(tmp_path / "outbox")
    elif request.param == "webhook":
        r = Receiver()
        try:
            yield WebhookPlatform(r, monkeypatch)
        finally:
            r.close()
    else:
        yield WordPressPlatform(request.getfixturevalue("wp"), request.getfixturevalue("wp_target"))


@pytest.fixture
def target(platform: Platform) -> Iterator[Target]:
    t = platform.new_target()
    yield t
    t.close()


def test_create_makes_one_draft_with_translation_and_marker(
    platform: Platform, target: Target
) -> None:
    d = draft()
    remote = target.create(d)
    assert platform.count(d.marker) == 1
    title, body = platform.stored(remote)
    assert title == d.title
    assert "正文 第1版" in body and f"syncd:{d.marker}" in body


def test_no_duplicate_when_the_process_died_before_recording_the_create(
    platform: Platform, target: Target
) -> None:
    d = draft()
    created = target.create(d)  # accepted remotely; the local record never happened
    restarted = platform.new_target()
    try:
        found = restarted.find(d)
        if restarted.inspectable:
            assert found is not None and found.remote_id == created.remote_id
            assert restarted.inspect(found) is RemoteStatus.OURS
        else:  # nothing to look up: re-sending carries the same id, the receiver dedupes
            assert found is None
            assert restarted.create(d) == created
    finally:
        restarted.close()
    assert platform.count(d.marker) == 1


def test_update_while_untouched(platform: Platform, target: Target) -> None:
    r1 = target.create(draft(version=1))
    assert target.inspect(r1) is RemoteStatus.OURS
    if isinstance(platform, WordPressPlatform):
        time.sleep(1.1)  # modified_gmt has one-second resolution
    r2 = target.update(r1, draft(version=2))
    assert r2.remote_id == r1.remote_id
    title, body = platform.stored(r2)
    assert title == "标题 v2" and "第2版" in body
    assert target.inspect(r2) is RemoteStatus.OURS


def test_hands_off_after_an_editors_edit(platform: Platform, target: Target) -> None:
    remote = target.create(draft(version=1))
    platform.editor_edit(remote)
    if target.inspectable:
        assert target.inspect(remote) is RemoteStatus.EDITED  # so syncd never writes it again
    else:  # syncd cannot see it; the receiver keeps the editor's text when v2 arrives
        assert target.inspect(remote) is RemoteStatus.OURS
        target.update(remote, draft(version=2))
    assert EDITOR_TEXT in platform.stored(remote)[1]
    assert "第2版" not in platform.stored(remote)[1]


def test_deleted_is_never_created_again(platform: Platform, target: Target) -> None:
    d = draft(version=1)
    remote = target.create(d)
    platform.editor_delete(remote)
    if target.inspectable:
        assert target.inspect(remote) is RemoteStatus.DELETED  # → rejected, never re-created
        assert platform.count(d.marker) == 0
    else:  # the receiver owns deletion: a later version does not bring the item back
        target.update(remote, draft(version=2))
        assert platform.stored(remote) == ("", "")


def test_hostile_html_arrives_sanitized(platform: Platform, target: Target) -> None:
    remote = target.create(draft(body=HOSTILE_BODY))
    _title, body = platform.stored(remote)
    assert "Hallo" in body
    for mark in HOSTILE_MARKS:
        assert mark not in body.lower(), mark
