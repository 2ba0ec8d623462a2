"""The WordPress target against the real WordPress on 127.0.0.1 (marked ``wordpress``).

Started by ``scripts/wordpress/wp-test-server`` through ``tests.support.wordpress``;
the syncd user is ``syncdbot`` with the plugin's least-privilege ``syncd_bot`` role.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from syncd.errors import TargetAuthError, TargetGone, TargetRejected
from syncd.models import RemoteStatus
from tests.support.images import png
from tests.support.loopback import Reply, serve

from .factory import HOSTILE_BODY, HOSTILE_MARKS, draft, with_image

pytestmark = pytest.mark.wordpress


def raw(wp: Any, post_id: str) -> dict[str, Any]:
    r = wp.get_post(int(post_id))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_creates_a_draft_with_marker_meta_slug_excerpt_and_bot_author(
    wp: Any, wp_target: Any
) -> None:
    t = wp_target()
    d = draft()
    remote = t.create(d)
    post = raw(wp, remote.remote_id)
    assert post["status"] == "draft"
    assert post["slug"] == f"syncd-{d.marker}"
    assert post["meta"] == {"syncd_source": d.marker, "syncd_content_hash": d.content_hash}
    assert post["title"]["raw"] == d.title
    assert post["excerpt"]["raw"] == d.summary
    assert f"syncd:{d.marker}" in post["content"]["raw"]
    assert 'class="syncd-attribution"' in post["content"]["raw"]
    assert post["author"] == wp.bot.id
    assert remote.fingerprint == post["modified_gmt"]
    assert t.inspect(remote) is RemoteStatus.OURS


def test_killed_after_wordpress_accepted_the_create_the_next_run_adopts_it(
    wp: Any, wp_target: Any
) -> None:
    d = draft()
    first = wp_target()
    created = first.create(d)  # the process dies before recording this
    first.close()
    second = wp_target()
    adopted = second.find(d)
    assert adopted == created
    assert second.inspect(adopted) is RemoteStatus.OURS
    assert [p["id"] for p in wp.list_posts()] == [int(created.remote_id)]


@pytest.mark.parametrize("status", ["publish", "private", "pending"])
def test_find_sees_a_draft_an_editor_moved_on_so_it_is_never_recreated(
    wp: Any, wp_target: Any, status: str
) -> None:
    # context=edit would hide posts the bot may no longer edit (published ones)
    t = wp_target()
    d = draft()
    remote = t.create(d)
    wp.editor_edit(int(remote.remote_id), status=status)
    found = t.find(d)
    assert found is not None and found.remote_id == remote.remote_id
    assert t.inspect(found) is not RemoteStatus.OURS


def test_find_sees_a_trashed_draft_so_it_is_never_recreated(wp: Any, wp_target: Any) -> None:
    t = wp_target()
    d = draft()
    remote = t.create(d)
    wp.editor_trash(int(remote.remote_id))
    found = t.find(d)
    assert found is not None and found.remote_id == remote.remote_id
    assert t.inspect(found) is RemoteStatus.DELETED


def test_editor_edit_as_another_user_hands_off_and_the_text_stays(wp: Any, wp_target: Any) -> None:
    t = wp_target()
    remote = t.create(draft(version=1))
    time.sleep(1.1)  # modified_gmt has a resolution of one second
    wp.editor_edit(int(remote.remote_id), content="<p>Von der Redaktion überarbeitet.</p>")
    assert t.inspect(remote) is RemoteStatus.EDITED
    assert "Redaktion" in raw(wp, remote.remote_id)["content"]["raw"]


def test_an_edit_within_the_same_second_is_seen_through_its_revision(
    wp: Any, wp_target: Any
) -> None:
    t = wp_target()
    remote = t.create(draft())
    post = wp.editor_edit(int(remote.remote_id), content="<p>schnell</p>")
    # the same modified_gmt as syncd's write is possible; the editor's revision is not ours
    same_second = remote.__class__(remote.remote_id, post["modified_gmt"], remote.url)
    assert t.inspect(same_second) is RemoteStatus.EDITED


def test_an_editors_autosave_hands_off(wp: Any, wp_target: Any) -> None:
    t = wp_target()
    remote = t.create(draft())
    r = wp.request("editor", "POST", f"/wp/v2/posts/{remote.remote_id}/autosaves",
                   json={"content": "<p>halb fertig</p>"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert raw(wp, remote.remote_id)["modified_gmt"] == remote.fingerprint  # parent unmoved
    assert t.inspect(remote) is RemoteStatus.EDITED


@pytest.mark.parametrize(
    ("status", "expected"),
    [("publish", RemoteStatus.PUBLISHED), ("future", RemoteStatus.PUBLISHED),
     ("private", RemoteStatus.PUBLISHED), ("pending", RemoteStatus.EDITED)],
)  # fmt: skip
def test_status_set_by_an_editor(
    wp: Any, wp_target: Any, status: str, expected: RemoteStatus
) -> None:
    t = wp_target()
    remote = t.create(draft())
    fields: dict[str, Any] = {"status": status}
    if status == "future":
        fields["date_gmt"] = "2099-01-01T00:00:00"
    wp.editor_edit(int(remote.remote_id), **fields)
    assert t.inspect(remote) is expected


def test_update_while_untouched_then_published_is_refused_not_reverted(
    wp: Any, wp_target: Any
) -> None:
    t = wp_target()
    r1 = t.create(draft(version=1))
    time.sleep(1.1)
    r2 = t.update(r1, draft(version=2))
    post = raw(wp, r2.remote_id)
    assert "第2版" in post["content"]["raw"] and post["status"] == "draft"
    assert r2.fingerprint == post["modified_gmt"] != r1.fingerprint
    assert t.inspect(r2) is RemoteStatus.OURS  # our own revisions do not count
    wp.editor_edit(int(r2.remote_id), status="publish")
    with pytest.raises(TargetRejected, match="published meanwhile"):
        t.update(r2, draft(version=3))  # 403 rest_cannot_edit: never re-drafted
    assert raw(wp, r2.remote_id)["status"] == "publish"


def test_an_editor_saving_between_inspect_and_update_wins(wp: Any, wp_target: Any) -> None:
    """WordPress has no If-Match: the bridge plugin's precondition closes the window
    between syncd's inspect and its write (here the write comes with a stale view)."""
    t = wp_target()
    remote = t.create(draft(version=1))
    assert t.inspect(remote) is RemoteStatus.OURS  # syncd looked: still ours
    time.sleep(1.1)
    wp.editor_edit(int(remote.remote_id), content="<p>Gerade eben von der Redaktion.</p>")
    with pytest.raises(TargetGone) as info:
        t.update(remote, draft(version=2))  # the write that would have overwritten it
    assert info.value.status is RemoteStatus.EDITED
    assert "Gerade eben" in raw(wp, remote.remote_id)["content"]["raw"]


def test_deleted_post_is_not_created_again(wp: Any, wp_target: Any) -> None:
    t = wp_target()
    d = draft()
    remote = t.create(d)
    assert wp.delete(int(remote.remote_id)).status_code == 200
    assert t.inspect(remote) is RemoteStatus.DELETED
    with pytest.raises(TargetRejected, match="deleted"):
        t.update(remote, draft(version=2))
    assert t.find(d) is None
    assert wp.list_posts() == []


def test_hostile_html_never_reaches_wordpress_even_for_an_unfiltered_user(
    wp: Any, wp_target: Any
) -> None:
    # admin has unfiltered_html: WordPress stores exactly what syncd sent
    t = wp_target(user="admin")
    remote = t.create(draft(title="<script>alert(1)</script>标题", body=HOSTILE_BODY))
    post = raw(wp, remote.remote_id)
    for mark in HOSTILE_MARKS:
        assert mark not in post["content"]["raw"].lower(), mark
    # a title is plain text: markup in it arrives escaped, inert
    assert post["title"]["raw"] == "&lt;script&gt;alert(1)&lt;/script&gt;标题"


def test_first_image_becomes_featured_media_and_is_uploaded_once(wp: Any, wp_target: Any) -> None:
    image = png(42)
    with serve() as img:
        img.routes["/a.png"] = lambda req: Reply(200, image, {"Content-Type": "image/png"})
        t = wp_target(allow_private_images=True)
        r1 = t.create(with_image(draft(marker="00000000000000a1"), img.url + "/a.png"))
        r2 = t.create(with_image(draft(marker="00000000000000a2"), img.url + "/a.png"))
    media = wp.list_media()
    assert len(media) == 1
    assert media[0]["meta"]["syncd_sha256"] and media[0]["alt_text"] == "Rathaus"
    assert raw(wp, r1.remote_id)["featured_media"] == media[0]["id"]
    assert raw(wp, r2.remote_id)["featured_media"] == media[0]["id"]


def test_image_on_a_private_address_is_refused_by_default_and_the_text_still_goes(
    wp: Any, wp_target: Any
) -> None:
    with serve() as img:
        img.routes["/a.png"] = lambda req: Reply(200, png(1), {"Content-Type": "image/png"})
        t = wp_target()
        remote = t.create(with_image(draft(), img.url + "/a.png"))
        assert img.requests == []
    assert raw(wp, remote.remote_id)["featured_media"] == 0
    assert wp.list_media() == []


def test_categories_map_to_tags_created_once(wp: Any, wp_target: Any) -> None:
    t = wp_target(tags={"Rathaus": "市政厅"})
    r1 = t.create(draft(marker="00000000000000b1"))
    t2 = wp_target(tags={"Rathaus": "市政厅"})
    r2 = t2.create(draft(marker="00000000000000b2"))
    tags = wp.request("admin", "GET", "/wp/v2/tags", params={"search": "市政厅"}).json()
    assert [t["name"] for t in tags] == ["市政厅"]
    assert raw(wp, r1.remote_id)["tags"] == raw(wp, r2.remote_id)["tags"] == [tags[0]["id"]]


def test_a_wrong_password_is_an_auth_error_and_changes_the_credential_id(
    wp: Any, wp_target: Any
) -> None:
    good = wp_target()
    good_id = good.credential_id
    bad = wp_target(password="abcd efgh ijkl mnop qrst uvwx")
    assert bad.credential_id != good_id
    with pytest.raises(TargetAuthError, match="401"):
        bad.create(draft())
    assert wp.list_posts() == []


def test_a_role_removed_by_an_admin_stops_the_target_instead_of_handing_off(
    wp: Any, wp_target: Any
) -> None:
    t = wp_target()
    remote = t.create(draft())
    set_roles = f"/wp/v2/users/{wp.bot.id}"
    assert wp.request("admin", "POST", set_roles, json={"roles": []}).status_code == 200
    try:
        with pytest.raises(TargetAuthError, match="may not edit posts"):
            t.inspect(remote)  # the post answers 403, but it is our user who changed
    finally:
        assert (
            wp.request("admin", "POST", set_roles, json={"roles": ["syncd_bot"]}).status_code == 200
        )
    assert t.inspect(remote) is RemoteStatus.OURS
