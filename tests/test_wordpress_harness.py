"""The real WordPress harness behaves the way syncd's WordPress target relies on.

Runs against scripts/wordpress/wp-test-server (started on demand). Every assertion here is
observed behaviour of WordPress 6.1 (Debian bookworm) + integrations/wordpress/syncd-bridge.php.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.images import png
from tests.support.wordpress import LIVE_STATUSES, WordPressServer, ensure_wordpress

pytestmark = pytest.mark.wordpress


@pytest.fixture(scope="module")
def wp() -> Iterator[WordPressServer]:
    with ensure_wordpress() as server:
        yield server


@pytest.fixture(autouse=True)
def clean(wp: WordPressServer) -> None:
    wp.reset()


@pytest.fixture
def bot(wp: WordPressServer) -> Iterator[httpx.Client]:
    with wp.client("bot") as client:
        yield client


def create_draft(bot: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"title": "Titre", "content": "<p>Texte</p>", "status": "draft", **fields}
    r = bot.post("/wp/v2/posts", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def key() -> str:
    return f"feed:{uuid.uuid4().hex}#fr"


def error_code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json().get("code", "")


# ---------------------------------------------------------------------------- drafts


def test_bot_creates_draft_with_marker_meta_and_chosen_slug(
    wp: WordPressServer, bot: httpx.Client
) -> None:
    k = key()
    post = create_draft(
        bot, slug="syncd-abc123", meta={"syncd_source": k, "syncd_content_hash": "h1"}
    )
    assert post["status"] == "draft"
    assert post["slug"] == "syncd-abc123"
    assert post["author"] == wp.bot.id
    assert post["meta"] == {"syncd_source": k, "syncd_content_hash": "h1"}
    assert post["modified_gmt"]

    found = bot.get(
        "/wp/v2/posts", params={"slug": "syncd-abc123", "status": LIVE_STATUSES, "context": "edit"}
    )
    assert found.status_code == 200
    assert [p["id"] for p in found.json()] == [post["id"]]

    # REST makes even draft slugs unique (wp_insert_post alone would not): a second draft
    # asking for the same slug silently gets "-2".
    twin = create_draft(bot, slug="syncd-abc123")
    assert twin["slug"] == "syncd-abc123-2"


def test_source_query_finds_exactly_that_post(wp: WordPressServer, bot: httpx.Client) -> None:
    k = key()
    mine = create_draft(bot, meta={"syncd_source": k})
    create_draft(bot, meta={"syncd_source": key()})
    create_draft(bot, meta={"syncd_source": k.upper()})  # differs only by case
    create_draft(bot)  # no marker at all

    assert [p["id"] for p in wp.find_by_source(k)] == [mine["id"]]
    # Byte-exact: no case folding (MySQL's default collations would fold).
    assert wp.find_by_source(k.replace("feed", "FEED")) == []
    assert wp.find_by_source("feed:unknown#fr") == []
    # The meta query trims values, so padded keys are refused outright, on read and on write.
    for bad in ("", " " + k, k + " ", k + "\n"):
        r = bot.get("/wp/v2/posts", params={"syncd_source": bad, "status": "draft"})
        assert error_code(r) == (400, "rest_invalid_param"), repr(bad)
    r = bot.post("/wp/v2/posts", json={"title": "t", "meta": {"syncd_source": k + " "}})
    assert error_code(r) == (400, "rest_invalid_pattern")  # meta errors keep their own code

    # The same through a ?rest_route= URL (works whatever the permalink setting). Careful:
    # httpx *replaces* a URL's query string with params=, and "/" without rest_route is the
    # (blank, theme-less) front page answering 200: rest_route must go into params too.
    auth = (wp.bot.user, wp.bot.password)
    params = {"syncd_source": k, "status": LIVE_STATUSES, "context": "edit"}
    lost = httpx.get(wp.rest_root + "/wp/v2/posts", params=params, auth=auth)
    assert "rest_route" not in str(lost.url)
    assert (lost.status_code, lost.text) == (200, "")
    r = httpx.get(wp.url + "/", params={"rest_route": "/wp/v2/posts", **params}, auth=auth)
    assert [p["id"] for p in r.json()] == [mine["id"]]

    # Anonymous callers cannot use context=edit.
    with wp.client(None) as anon:
        r = anon.get("/wp/v2/posts", params={"syncd_source": k, "context": "edit"})
        assert error_code(r) == (401, "rest_forbidden_context")
        # ... and do not see drafts in the public view.
        assert anon.get("/wp/v2/posts", params={"syncd_source": k}).json() == []


def test_source_query_follows_editor_publish_and_trash(
    wp: WordPressServer, bot: httpx.Client
) -> None:
    k = key()
    post = create_draft(bot, meta={"syncd_source": k})
    wp.editor_edit(post["id"], status="publish")
    assert [(p["id"], p["status"]) for p in wp.find_by_source(k)] == [(post["id"], "publish")]
    assert wp.find_by_source(k)[0]["meta"]["syncd_source"] == k  # meta is in context=view too

    # With context=edit core drops what the bot may not edit; only X-WP-Total betrays it.
    r = bot.get(
        "/wp/v2/posts", params={"syncd_source": k, "status": LIVE_STATUSES, "context": "edit"}
    )
    assert r.status_code == 200
    assert r.json() == []
    assert r.headers["X-WP-Total"] == "1"
    assert [p["id"] for p in wp.find_by_source(k, user="editor", context="edit")] == [post["id"]]

    # Once published, the bot (no edit_published_posts) can no longer overwrite it.
    r = bot.post(f"/wp/v2/posts/{post['id']}", json={"title": "overwrite"})
    assert error_code(r) == (403, "rest_cannot_edit")

    trashed = wp.editor_trash(post["id"])
    assert trashed["status"] == "trash"
    # Trashed posts are left out unless "trash" is asked for explicitly.
    assert wp.find_by_source(k) == []
    with_trash = LIVE_STATUSES + ",trash"
    assert [(p["id"], p["status"]) for p in wp.find_by_source(k, status=with_trash)] == [
        (post["id"], "trash")
    ]
    assert wp.find_by_source(k, status=with_trash, context="edit") == []
    # Reading the trashed post itself: fine in view context, 403 in edit context.
    assert bot.get(f"/wp/v2/posts/{post['id']}").json()["status"] == "trash"
    r = bot.get(f"/wp/v2/posts/{post['id']}", params={"context": "edit"})
    assert error_code(r) == (403, "rest_forbidden_context")


# ---------------------------------------------------------------------------- least privilege


def test_bot_role_is_least_privilege(wp: WordPressServer, bot: httpx.Client) -> None:
    me = bot.get("/wp/v2/users/me", params={"context": "edit"}).json()
    assert me["roles"] == ["syncd_bot"]
    assert {cap for cap, granted in me["capabilities"].items() if granted} == {
        "read",
        "edit_posts",
        "upload_files",
        "syncd_bot",  # WordPress lists the role name among the capabilities
    }


@pytest.mark.parametrize(
    ("status", "extra"),
    [("publish", {}), ("private", {}), ("future", {"date_gmt": "2039-01-01T00:00:00"})],
)
def test_bot_cannot_publish(
    wp: WordPressServer, bot: httpx.Client, status: str, extra: dict[str, str]
) -> None:
    r = bot.post("/wp/v2/posts", json={"title": "t", "status": status, **extra})
    assert error_code(r) == (403, "rest_cannot_publish")

    draft = create_draft(bot)
    r = bot.post(f"/wp/v2/posts/{draft['id']}", json={"status": status, **extra})
    assert error_code(r) == (403, "rest_cannot_publish")
    assert wp.get_post(draft["id"]).json()["status"] == "draft"


def test_bot_may_submit_for_review(bot: httpx.Client) -> None:
    draft = create_draft(bot)
    r = bot.post(f"/wp/v2/posts/{draft['id']}", json={"status": "pending"})
    assert r.status_code == 200
    assert r.json()["status"] == "pending"


def test_bot_html_is_filtered_editor_html_is_not(wp: WordPressServer, bot: httpx.Client) -> None:
    html = '<p>ok</p><script>alert(1)</script><a href="https://example.org/" onclick="x()">l</a>'
    post = create_draft(bot, content=html)
    raw = post["content"]["raw"]
    assert "<script" not in raw
    assert "onclick" not in raw
    assert raw == '<p>ok</p>alert(1)<a href="https://example.org/">l</a>'  # kses keeps the text

    edited = wp.editor_edit(post["id"], content=html)  # editors have unfiltered_html
    assert edited["content"]["raw"] == html


def test_editor_edit_moves_modified_and_leaves_an_editor_revision(
    wp: WordPressServer, bot: httpx.Client
) -> None:
    post = create_draft(bot, meta={"syncd_source": key(), "syncd_content_hash": "h1"})
    time.sleep(1.1)  # modified_gmt has one-second resolution
    edited = wp.editor_edit(post["id"], title="Titre corrigé", content="<p>Revu</p>")
    assert edited["modified_gmt"] > post["modified_gmt"]
    assert edited["author"] == wp.bot.id  # authorship does not move
    assert edited["meta"]["syncd_content_hash"] == "h1"  # meta untouched by a content edit

    seen_by_bot = bot.get(f"/wp/v2/posts/{post['id']}", params={"context": "edit"}).json()
    assert seen_by_bot["modified_gmt"] == edited["modified_gmt"]
    assert seen_by_bot["content"]["raw"] == "<p>Revu</p>"

    # A revision stores the state *after* a save, and creating a draft stores none: the only
    # revision is the editor's. Its author is who edited.
    r = bot.get(f"/wp/v2/posts/{post['id']}/revisions", params={"context": "edit"})
    assert r.status_code == 200
    assert [(rev["author"], rev["title"]["raw"]) for rev in r.json()] == [
        (wp.editor.id, "Titre corrigé")
    ]

    # The bot may still overwrite the editor's draft (it is its own draft): only syncd's own
    # modified_gmt / revision check can prevent that. Its save adds a bot revision on top.
    time.sleep(1.1)
    r = bot.post(f"/wp/v2/posts/{post['id']}", json={"content": "<p>Bot</p>"})
    assert r.status_code == 200
    assert r.json()["modified_gmt"] > edited["modified_gmt"]
    revisions = bot.get(f"/wp/v2/posts/{post['id']}/revisions", params={"context": "edit"}).json()
    assert [rev["author"] for rev in revisions] == [wp.bot.id, wp.editor.id]  # newest first


# ---------------------------------------------------------------------------- gone / trashed


def test_deleted_post_is_404_invalid_id(wp: WordPressServer, bot: httpx.Client) -> None:
    post = create_draft(bot)
    r = wp.delete(post["id"])
    assert r.status_code == 200
    assert r.json()["deleted"] is True

    assert error_code(bot.get(f"/wp/v2/posts/{post['id']}", params={"context": "edit"})) == (
        404,
        "rest_post_invalid_id",
    )
    assert error_code(bot.post(f"/wp/v2/posts/{post['id']}", json={"title": "x"})) == (
        404,
        "rest_post_invalid_id",
    )
    assert error_code(wp.delete(post["id"])) == (404, "rest_post_invalid_id")


def test_trashed_post(wp: WordPressServer, bot: httpx.Client) -> None:
    post = create_draft(bot)
    assert wp.editor_trash(post["id"])["status"] == "trash"

    # A second trash is refused with 410.
    assert error_code(wp.delete(post["id"], force=False, user="editor")) == (
        410,
        "rest_already_trashed",
    )
    # The author still reads it, with status "trash".
    r = bot.get(f"/wp/v2/posts/{post['id']}", params={"context": "edit"})
    assert r.status_code == 200
    assert r.json()["status"] == "trash"
    # A bot update to a trashed draft is accepted and leaves it in the trash.
    r = bot.post(f"/wp/v2/posts/{post['id']}", json={"title": "still here?"})
    assert r.status_code == 200
    assert r.json()["status"] == "trash"
    # Force-deleting from the trash works; then it is gone (404).
    assert wp.delete(post["id"]).status_code == 200
    assert bot.get(f"/wp/v2/posts/{post['id']}").status_code == 404


# ---------------------------------------------------------------------------- auth


def test_wrong_unknown_and_revoked_passwords_are_401(wp: WordPressServer) -> None:
    with wp.client("bot", password="wrongwrongwrongwrongwron") as c:
        r = c.post("/wp/v2/posts", json={"title": "t"})
        # The failed application password makes the request anonymous; the endpoint's own
        # permission check answers (not "incorrect_password").
        assert error_code(r) == (401, "rest_cannot_create")
        assert error_code(c.get("/wp/v2/users/me")) == (401, "rest_not_logged_in")
    with wp.client("nosuchuser", password="x") as c:
        assert error_code(c.get("/wp/v2/users/me")) == (401, "rest_not_logged_in")

    # A fresh application password works, then stops working once revoked.
    path = f"/wp/v2/users/{wp.bot.id}/application-passwords"
    created = wp.request("admin", "POST", path, json={"name": "revoke-me"})
    assert created.status_code == 201
    new = created.json()
    with wp.client("bot", password=new["password"]) as c:
        assert c.get("/wp/v2/users/me").json()["id"] == wp.bot.id
        assert wp.request("admin", "DELETE", f"{path}/{new['uuid']}").status_code == 200
        assert error_code(c.get("/wp/v2/users/me")) == (401, "rest_not_logged_in")
    # The harness's own password is untouched.
    assert wp.request("bot", "GET", "/wp/v2/users/me").status_code == 200


def test_test_reset_endpoint_is_admin_only(wp: WordPressServer, bot: httpx.Client) -> None:
    assert error_code(bot.post("/syncd-bridge/v1/test-reset")) == (403, "rest_forbidden")
    create_draft(bot)
    assert wp.reset()["posts"] == 1
    assert wp.list_posts() == []


# ---------------------------------------------------------------------------- media


def test_media_upload_raw_bytes_and_sha256_lookup(wp: WordPressServer, bot: httpx.Client) -> None:
    data = png(1)
    sha = hashlib.sha256(data).hexdigest()
    r = bot.post(
        "/wp/v2/media",
        content=data,
        headers={
            "Content-Type": "image/png",
            "Content-Disposition": 'attachment; filename="x.png"',
        },
    )
    assert r.status_code == 201, r.text
    media = r.json()
    assert media["mime_type"] == "image/png"
    assert media["meta"]["syncd_sha256"] == sha  # computed by the plugin on upload
    assert httpx.get(media["source_url"]).content == data

    other = bot.post(
        "/wp/v2/media",
        content=png(2),
        headers={
            "Content-Type": "image/png",
            "Content-Disposition": 'attachment; filename="y.png"',
        },
    ).json()

    found = bot.get("/wp/v2/media", params={"syncd_sha256": sha, "context": "edit"})
    assert [m["id"] for m in found.json()] == [media["id"]]
    assert other["id"] != media["id"]
    assert bot.get("/wp/v2/media", params={"syncd_sha256": "0" * 64}).json() == []
    assert error_code(bot.get("/wp/v2/media", params={"syncd_sha256": "XYZ"})) == (
        400,
        "rest_invalid_param",
    )

    post = create_draft(bot, featured_media=media["id"])
    assert post["featured_media"] == media["id"]
