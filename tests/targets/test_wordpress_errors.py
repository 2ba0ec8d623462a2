"""WordPress error mapping and plugin-less fallbacks, with httpx.MockTransport as the server.

The shapes (status codes, ``{"code", "message", "data"}`` bodies) are the ones the real
WordPress answered in test_wordpress.py and tests/test_wordpress_harness.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from syncd.config import Duration, Secret
from syncd.errors import TargetAuthError, TargetRejected, TargetRetryable
from syncd.models import Remote, RemoteStatus
from syncd.targets.wordpress import Options, WordPressTarget
from syncd.targets.wordpress import make as make_wordpress

from .factory import HOSTILE_BODY, HOSTILE_MARKS, city, draft

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


def wp_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"code": code, "message": message, "data": {"status": status}}
    return httpx.Response(status, json=body, headers=headers)


@pytest.fixture
def make(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., WordPressTarget]]:
    monkeypatch.setenv("SYNCD_TEST_WP_PASSWORD", "abcd efgh ijkl mnop")
    clients: list[httpx.Client] = []

    def build(handler: Handler, **options: object) -> WordPressTarget:
        clients.append(httpx.Client(transport=httpx.MockTransport(handler)))
        opts = Options(
            url="https://partner.example/", user="syncdbot",
            password=Secret(env="SYNCD_TEST_WP_PASSWORD"), timeout=Duration(seconds=5), **options,  # type: ignore[arg-type]
        )  # fmt: skip
        t = make_wordpress(city("wordpress", opts), clients[-1], lambda: NOW)
        assert isinstance(t, WordPressTarget)
        return t

    yield build
    for c in clients:
        c.close()


def route(request: httpx.Request) -> str:
    return request.url.params.get("rest_route", "")


@pytest.mark.parametrize(
    ("reply", "error", "text"),
    [
        (
            wp_error(500, "db_insert_error", "Could not insert post"),
            TargetRetryable,
            "db_insert_error",
        ),
        (httpx.Response(502, text="<html>Bad gateway</html>"), TargetRetryable, "HTTP 502"),
        (wp_error(400, "rest_invalid_param", "Invalid parameter(s): tags"), TargetRejected, "tags"),
        (
            wp_error(401, "rest_not_logged_in", "You are not currently logged in."),
            TargetAuthError,
            "401",
        ),
        (
            wp_error(403, "rest_cannot_create", "Sorry, you are not allowed"),
            TargetAuthError,
            "rest_cannot_create",
        ),
        (wp_error(404, "rest_no_route", "No route was found"), TargetRejected, "rest_no_route"),
        (
            httpx.Response(301, headers={"Location": "https://www.partner.example/"}),
            TargetAuthError,
            "www.partner",
        ),
        (httpx.Response(200, text="<html>maintenance</html>"), TargetRetryable, "not JSON"),
    ],
)
def test_create_errors_by_kind(
    make: Callable[..., WordPressTarget], reply: httpx.Response, error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=text):
        make(lambda request: reply).create(draft())


def test_429_and_503_carry_retry_after(make: Callable[..., WordPressTarget]) -> None:
    replies = iter([
        wp_error(429, "too_many", "slow down", {"Retry-After": "120"}),
        httpx.Response(503, headers={"Retry-After": "Thu, 26 Nov 2026 12:05:00 GMT"}),
    ])  # fmt: skip
    t = make(lambda request: next(replies))
    for expected in (timedelta(seconds=120), timedelta(minutes=5)):
        with pytest.raises(TargetRetryable) as err:
            t.create(draft())
        assert err.value.delay == expected


def test_timeouts_and_refused_connections_are_retryable(
    make: Callable[..., WordPressTarget],
) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("no answer", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(TargetRetryable, match="timed out"):
        make(timeout).create(draft())
    with pytest.raises(TargetRetryable, match="network error"):
        make(refused).inspect(Remote("5", "2026-11-26T10:00:00"))


def test_what_is_sent_on_create_draft_only_sanitized_escaped_marked(
    make: Callable[..., WordPressTarget],
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={"id": 7, "modified_gmt": "2026-11-26T12:00:00", "link": "https://p/?p=7",
                                         "meta": {"syncd_source": "0123456789abcdef"}})  # fmt: skip

    d = draft(title='<b>标题</b> & "引号"', body=HOSTILE_BODY, summary="<i>摘要</i>")
    t = make(handler, categories={"Rathaus": 5, "Sport": 6}, author=9)
    assert t.create(d) == Remote("7", "2026-11-26T12:00:00", "https://p/?p=7")
    (req,) = sent
    assert (req.method, route(req)) == ("POST", "/wp/v2/posts")
    assert req.headers["authorization"].startswith("Basic ")
    body = json.loads(req.content)
    assert body["status"] == "draft" and body["slug"] == "syncd-0123456789abcdef"
    assert body["meta"] == {"syncd_source": d.marker, "syncd_content_hash": d.content_hash}
    assert body["title"] == "&lt;b&gt;标题&lt;/b&gt; &amp; &quot;引号&quot;"
    assert body["excerpt"] == "&lt;i&gt;摘要&lt;/i&gt;"
    assert body["categories"] == [5] and body["author"] == 9
    assert "tags" not in body and "featured_media" not in body
    for mark in HOSTILE_MARKS:
        assert mark not in body["content"].lower()


def test_update_never_sends_a_status_and_404_means_deleted(
    make: Callable[..., WordPressTarget],
) -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return wp_error(404, "rest_post_invalid_id", "Invalid post ID.")

    with pytest.raises(TargetRejected, match="not created again"):
        make(handler).update(Remote("5", "x"), draft(version=2))
    assert len(sent) == 1 and "status" not in sent[0] and "slug" not in sent[0]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (wp_error(404, "rest_post_invalid_id", "Invalid post ID."), RemoteStatus.DELETED),
        (
            wp_error(410, "rest_already_trashed", "The post has already been deleted."),
            RemoteStatus.DELETED,
        ),
        (httpx.Response(200, json={"status": "trash", "modified_gmt": "t0"}), RemoteStatus.DELETED),
        (
            httpx.Response(200, json={"status": "publish", "modified_gmt": "t0"}),
            RemoteStatus.PUBLISHED,
        ),
        (
            httpx.Response(200, json={"status": "pending", "modified_gmt": "t0"}),
            RemoteStatus.EDITED,
        ),
        (httpx.Response(200, json={"status": "draft", "modified_gmt": "t1"}), RemoteStatus.EDITED),
    ],
)
def test_inspect_without_looking_at_revisions(
    make: Callable[..., WordPressTarget], reply: httpx.Response, expected: RemoteStatus
) -> None:
    assert make(lambda request: reply).inspect(Remote("5", "t0")) is expected


def test_inspect_403_is_edited_unless_our_credentials_fail(
    make: Callable[..., WordPressTarget],
) -> None:
    def readable_me(request: httpx.Request) -> httpx.Response:
        if route(request) == "/wp/v2/users/me":
            return httpx.Response(200, json={"id": 3, "capabilities": {"edit_posts": True}})
        return wp_error(403, "rest_forbidden", "Sorry, you are not allowed to do that.")

    def revoked(request: httpx.Request) -> httpx.Response:
        return wp_error(403, "rest_forbidden", "Sorry, you are not allowed to do that.")

    assert make(readable_me).inspect(Remote("5", "t0")) is RemoteStatus.EDITED
    with pytest.raises(TargetAuthError):
        make(revoked).inspect(Remote("5", "t0"))


def test_find_without_the_plugin_checks_meta_then_slug(
    make: Callable[..., WordPressTarget],
) -> None:
    d = draft()
    other = {"id": 1, "slug": "hello-world", "modified_gmt": "t", "meta": []}
    ours = {
        "id": 4,
        "slug": f"syncd-{d.marker}",
        "modified_gmt": "t4",
        "link": "https://p/?p=4",
        "meta": [],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        # an unknown ?syncd_source= is ignored by core: every post comes back
        if request.url.params.get("slug") == ours["slug"]:
            return httpx.Response(200, json=[ours])
        return httpx.Response(200, json=[other, ours])

    assert make(handler).find(d) == Remote("4", "t4", "https://p/?p=4")


def test_credential_id_follows_the_password_and_never_shows_it(
    make: Callable[..., WordPressTarget], monkeypatch: pytest.MonkeyPatch
) -> None:
    t = make(lambda request: httpx.Response(200, json=[]))
    before = t.credential_id
    monkeypatch.setenv("SYNCD_TEST_WP_PASSWORD", "rotated pass word")
    assert t.credential_id != before and "rotated" not in t.credential_id
    monkeypatch.delenv("SYNCD_TEST_WP_PASSWORD")
    with pytest.raises(TargetAuthError, match="SYNCD_TEST_WP_PASSWORD"):
        t.find(draft())
