"""``kind = "wordpress"``: drafts as WordPress posts over the REST API.

Talks to ``<url>/?rest_route=/wp/v2/…`` (works whatever the permalink setting) with an
Application Password over HTTP Basic. Expects the ``syncd-bridge`` plugin
(``integrations/wordpress/``); without it drafts are still created and found by slug,
but media are not deduplicated.

What syncd writes (``create`` / ``update``): ``status: "draft"`` on create and never
any other status; the translated title and excerpt (escaped: plain text), the body
sanitized again (nh3), the marker as post meta ``syncd_source`` and as slug
``syncd-<marker>``, ``syncd_content_hash``, mapped categories and tags, and the first
image as featured media (reused when an attachment with the same SHA-256 exists).

How editors are detected (``inspect``): the post is still ours only while its status
is ``draft``, its ``modified_gmt`` is the one WordPress answered after syncd's last
write (``Remote.fingerprint``) and no revision or autosave by another user exists.
``pending`` or any edit → EDITED; ``publish``/``future``/``private`` → PUBLISHED;
``trash``, 404 or 410 → DELETED.

Errors: timeouts, network errors, 429 and 5xx → ``TargetRetryable`` (Retry-After
honoured); 400 and other 4xx → ``TargetRejected`` with the server's code and message;
401/403 (and redirects: a wrong ``url``) → ``TargetAuthError``. A 404/410 or 403 on
update (deleted, trashed or published meanwhile) is ``TargetRejected``, never "create
again". WordPress has no If-Match: between ``inspect`` and ``update`` an editor's save
can still land in a window of one round trip.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from .. import logs
from ..config import CityConfig, Duration, HttpConfig, Secret
from ..errors import (
    NetError,
    TargetAuthError,
    TargetError,
    TargetGone,
    TargetRejected,
    TargetRetryable,
)
from ..models import Draft, Remote, RemoteStatus
from ..net.http import PoliteClient, parse_retry_after
from ..sanitize import clean_html, escape
from ._http import credential_hash, own_client, resolve

log = logs.get(__name__)

#: every status in which a post syncd made still exists for reconciliation
FIND_STATUSES = "draft,pending,publish,private,future,trash"
PUBLISHED = frozenset({"publish", "future", "private"})
#: the least-privilege role the syncd-bridge plugin creates, and what syncd needs of it
BOT_ROLE = "syncd_bot"
BOT_CAPABILITIES = ("edit_posts", "upload_files")
#: image types WordPress accepts and browsers show; SVG is refused (it can carry script)
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
)


@dataclass(frozen=True)
class Options:
    #: the site's address, e.g. "https://partner.example/" (no /wp-json)
    url: str
    #: the WordPress user syncd writes as (give it the syncd_bot role)
    user: str
    #: that user's Application Password, by reference
    password: Secret
    #: post author id; 0 = the syncd user (another id needs edit_others_posts)
    author: int = 0
    #: source category → WordPress category id
    categories: dict[str, int] = field(default_factory=dict)
    #: source category → WordPress tag name (looked up, created when missing)
    tags: dict[str, str] = field(default_factory=dict)
    #: per-request timeout
    timeout: Duration = field(default_factory=lambda: Duration(seconds=30))
    #: upload the item's first image as featured image
    upload_images: bool = True
    #: largest image downloaded for upload
    max_image_bytes: int = 10 * 1024 * 1024
    #: allow image URLs on loopback/private addresses (tests, intranets)
    allow_private_images: bool = False


def _image_type(data: bytes) -> tuple[str, str] | None:
    for magic, mime, ext in _MAGIC:
        if data.startswith(magic):
            return mime, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def _remote(post: dict[str, Any]) -> Remote:
    return Remote(
        remote_id=str(post["id"]),
        fingerprint=str(post.get("modified_gmt") or ""),
        url=post.get("link"),
    )


class WordPressTarget:
    inspectable = True

    def __init__(
        self,
        city: CityConfig,
        http: httpx.Client | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.id = city.id
        self.opts: Options = city.target.options
        self.clock = clock
        self._owned = http is None
        self.http = http if http is not None else own_client(self.opts.timeout)
        self._images: PoliteClient | None = None
        self._me: int | None = None
        self._tag_ids: dict[str, int] = {}
        self._warned_no_plugin = False

    def close(self) -> None:
        if self._owned:
            self.http.close()
        if self._images is not None:
            self._images.close()

    # ------------------------------------------------------------------ HTTP

    def _password(self) -> str:
        return resolve(self.id, self.opts.password, "application password")

    @property
    def credential_id(self) -> str:
        """Changes when url, user or password change; never reveals the password."""
        return credential_hash(self.opts.password, self.opts.url, self.opts.user)

    def _send(
        self, method: str, route: str, params: dict[str, Any] | None = None, **kw: Any
    ) -> httpx.Response:
        url = self.opts.url.rstrip("/") + "/"
        try:
            return self.http.request(
                method, url, params={"rest_route": route, **(params or {})},
                auth=(self.opts.user, self._password()), **kw,
            )  # fmt: skip
        except httpx.TimeoutException as exc:
            raise TargetRetryable(self.id, f"{method} {route}: timed out") from exc
        except httpx.HTTPError as exc:
            raise TargetRetryable(self.id, f"{method} {route}: network error: {exc}") from exc

    def _json(self, resp: httpx.Response) -> Any:
        """The JSON of a 2xx answer; every other answer mapped to a TargetError."""
        req = f"{resp.request.method} {resp.request.url.params.get('rest_route', '')}"
        status = resp.status_code
        if 200 <= status < 300:
            try:
                return resp.json()
            except ValueError as exc:
                raise TargetRetryable(self.id, f"{req}: HTTP {status} but not JSON") from exc
        detail = _wp_error(resp)
        if status == 429 or status >= 500:
            delay = parse_retry_after(resp.headers.get("retry-after"), self.clock())
            raise TargetRetryable(self.id, f"{req}: HTTP {status}{detail}", delay)
        if status in (401, 403):
            raise TargetAuthError(self.id, f"{req}: HTTP {status}{detail}")
        if 300 <= status < 400:
            where = resp.headers.get("location", "?")
            raise TargetAuthError(
                self.id, f"{req}: redirected to {where}; set url to the final address"
            )
        raise TargetRejected(self.id, f"{req}: HTTP {status}{detail}")

    def _call(
        self, method: str, route: str, params: dict[str, Any] | None = None, **kw: Any
    ) -> Any:
        return self._json(self._send(method, route, params, **kw))

    def _my_id(self) -> int:
        if self._me is None:
            self._me = int(self._call("GET", "/wp/v2/users/me", {"context": "view"})["id"])
        return self._me

    def _check_may_edit(self) -> None:
        """TargetAuthError unless the user may still edit posts (a role removed by an
        admin must stop the target, not mark every draft as taken over)."""
        me = self._call("GET", "/wp/v2/users/me", {"context": "edit"})
        if not (me.get("capabilities") or {}).get("edit_posts"):
            roles = ", ".join(me.get("roles") or []) or "none"
            raise TargetAuthError(
                self.id, f"user {self.opts.user} may not edit posts (roles: {roles})"
            )

    def probe(self) -> list[tuple[str, str | None]]:
        """``syncd check --live``: the site answers, the user and application password
        are accepted, the user has the ``syncd_bot`` role and its capabilities, the
        ``syncd-bridge`` plugin is present (its ``syncd_source`` meta is in the posts
        schema)."""
        site, user = f"site {self.opts.url}", f"user {self.opts.user}"
        try:
            me = self._call("GET", "/wp/v2/users/me", {"context": "edit"})
        except TargetAuthError as exc:
            return [(site, None), (user, f"refused: wrong user or application password? ({exc})")]
        except TargetError as exc:
            return [(site, str(exc))]
        out: list[tuple[str, str | None]] = [(site, None), (user, None)]
        roles = list(me.get("roles") or [])
        out.append((
            f"{user} has the syncd_bot role",
            None if BOT_ROLE in roles else
            f"roles: {', '.join(roles) or 'none'}; give it the least-privilege {BOT_ROLE} role "
            "that the syncd-bridge plugin creates",
        ))  # fmt: skip
        caps = me.get("capabilities") or {}
        lacking = [c for c in BOT_CAPABILITIES if not caps.get(c)]
        out.append((
            f"{user} may {', '.join(BOT_CAPABILITIES)}",
            f"lacks {', '.join(lacking)}" if lacking else None,
        ))  # fmt: skip
        try:
            schema = self._call("OPTIONS", "/wp/v2/posts").get("schema") or {}
        except TargetError as exc:
            out.append(("plugin syncd-bridge", f"cannot read the posts schema: {exc}"))
            return out
        meta = ((schema.get("properties") or {}).get("meta") or {}).get("properties") or {}
        out.append((
            "plugin syncd-bridge",
            None if "syncd_source" in meta else
            "not installed: its syncd_source meta is missing (integrations/wordpress/)",
        ))  # fmt: skip
        return out

    # ------------------------------------------------------------------ Target

    def create(self, draft: Draft) -> Remote:
        payload = self._payload(draft)
        payload.update(status="draft", slug=f"syncd-{draft.marker}")
        if self.opts.author:
            payload["author"] = self.opts.author
        post = self._call("POST", "/wp/v2/posts", json=payload)
        if (post.get("meta") or {}).get(
            "syncd_source"
        ) != draft.marker and not self._warned_no_plugin:
            self._warned_no_plugin = True
            log.warning(
                "wordpress-no-bridge",
                target=self.id,
                hint="install integrations/wordpress/syncd-bridge.php",
            )
        log.info("wordpress-created", target=self.id, post=post["id"], marker=draft.marker)
        return _remote(post)

    def find(self, draft: Draft) -> Remote | None:
        common = {
            "status": FIND_STATUSES,
            "context": "view",  # edit would hide posts we may no longer edit
            "orderby": "id",
            "order": "asc",
            "per_page": 100,
        }
        posts = self._call("GET", "/wp/v2/posts", {**common, "syncd_source": draft.marker})
        # without the plugin the filter is ignored and every post comes back: check the meta
        mine = [p for p in posts if (p.get("meta") or {}).get("syncd_source") == draft.marker]
        if not mine:
            slug = f"syncd-{draft.marker}"
            mine = [
                p
                for p in self._call("GET", "/wp/v2/posts", {**common, "slug": slug})
                if p.get("slug") == slug
            ]
        if not mine:
            return None
        if len(mine) > 1:
            log.warning(
                "wordpress-duplicates",
                target=self.id,
                marker=draft.marker,
                posts=[p["id"] for p in mine],
            )
        return _remote(min(mine, key=lambda p: int(p["id"])))

    def inspect(self, remote: Remote) -> RemoteStatus:
        resp = self._send("GET", f"/wp/v2/posts/{remote.remote_id}", {"context": "view"})
        if resp.status_code in (404, 410):
            return RemoteStatus.DELETED
        if resp.status_code == 403:
            self._check_may_edit()  # our user's rights, or only this post?
            return RemoteStatus.EDITED
        post = self._json(resp)
        status = post.get("status")
        if status == "trash":
            return RemoteStatus.DELETED
        if status in PUBLISHED:
            return RemoteStatus.PUBLISHED
        if status != "draft" or post.get("modified_gmt") != remote.fingerprint:
            return RemoteStatus.EDITED
        me = self._my_id()
        for kind in ("revisions", "autosaves"):
            for rev in self._call(
                "GET", f"/wp/v2/posts/{remote.remote_id}/{kind}", {"context": "view"}
            ):
                if rev.get("author") != me:
                    return RemoteStatus.EDITED
        return RemoteStatus.OURS

    def update(self, remote: Remote, draft: Draft) -> Remote:
        # no status here: a draft stays a draft, and a post published meanwhile is never
        # turned back into one
        # the bridge plugin refuses the write with 412 if the post changed since syncd's
        # inspect (WordPress has no If-Match); without the plugin the header is ignored
        resp = self._send(
            "POST",
            f"/wp/v2/posts/{remote.remote_id}",
            json=self._payload(draft),
            headers={"X-Syncd-If-Modified-Gmt": remote.fingerprint},
        )
        if resp.status_code == 412:
            status = self.inspect(remote)
            if status is RemoteStatus.OURS:  # changed and changed back: still not ours
                status = RemoteStatus.EDITED
            raise TargetGone(
                self.id,
                f"post {remote.remote_id} was {status.value} meanwhile; not written",
                status,
            )
        if resp.status_code in (404, 410):
            raise TargetGone(
                self.id,
                f"post {remote.remote_id} was deleted; it is not created again",
                RemoteStatus.DELETED,
            )
        if resp.status_code == 403:
            status = self.inspect(remote)
            if status is not RemoteStatus.OURS:
                raise TargetGone(
                    self.id,
                    f"post {remote.remote_id} was {status.value} meanwhile; not written",
                    status,
                )
        post = self._json(resp)
        log.info("wordpress-updated", target=self.id, post=post["id"], marker=draft.marker)
        return _remote(post)

    # ------------------------------------------------------------------ content

    def _payload(self, draft: Draft) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "title": escape(draft.title),
            "content": clean_html(draft.body_html),
            "excerpt": escape(draft.summary),
            "meta": {"syncd_source": draft.marker, "syncd_content_hash": draft.content_hash},
        }
        cats = sorted(
            {self.opts.categories[c] for c in draft.categories if c in self.opts.categories}
        )
        if cats:
            payload["categories"] = cats
        tags = sorted(
            {self._tag_id(self.opts.tags[c]) for c in draft.categories if c in self.opts.tags}
        )
        if tags:
            payload["tags"] = tags
        media = self._featured_media(draft)
        if media is not None:
            payload["featured_media"] = media
        return payload

    def _tag_id(self, name: str) -> int:
        if name not in self._tag_ids:
            found = self._call(
                "GET", "/wp/v2/tags", {"search": name, "per_page": 100, "context": "view"}
            )
            ids = [
                t["id"]
                for t in found
                if html.unescape(str(t.get("name", ""))).casefold() == name.casefold()
            ]
            if ids:
                self._tag_ids[name] = int(ids[0])
            else:
                resp = self._send("POST", "/wp/v2/tags", json={"name": name})
                body = resp.json() if resp.status_code == 400 else None
                if isinstance(body, dict) and body.get("code") == "term_exists":
                    self._tag_ids[name] = int(body["data"]["term_id"])
                else:
                    self._tag_ids[name] = int(self._json(resp)["id"])
        return self._tag_ids[name]

    def _image_client(self) -> PoliteClient:
        if self._images is None:
            cfg = HttpConfig(
                timeout=self.opts.timeout,
                max_bytes=self.opts.max_image_bytes,
                host_delay=Duration(0),
                allow_private=self.opts.allow_private_images,
                respect_robots=False,
            )
            self._images = PoliteClient(cfg, clock=self.clock)
        return self._images

    def _featured_media(self, draft: Draft) -> int | None:
        """The id of the draft's first image in the media library, uploading it once."""
        if not self.opts.upload_images or not draft.images:
            return None
        image = draft.images[0]
        try:
            data = self._image_client().get(self.id, image.url, accept="image/*").content
        except NetError as exc:
            log.warning("wordpress-image-skipped", target=self.id, url=image.url, error=str(exc))
            return None
        kind = _image_type(data)
        if kind is None:
            log.warning(
                "wordpress-image-skipped",
                target=self.id,
                url=image.url,
                error="not a JPEG, PNG, GIF or WebP",
            )
            return None
        sha = hashlib.sha256(data).hexdigest()
        for media in self._call(
            "GET", "/wp/v2/media", {"syncd_sha256": sha, "context": "view", "per_page": 100}
        ):
            if (media.get("meta") or {}).get("syncd_sha256") == sha:
                return int(media["id"])
        mime, ext = kind
        headers = {
            "Content-Type": mime,
            "Content-Disposition": f'attachment; filename="syncd-{sha[:16]}.{ext}"',
        }
        try:
            media = self._call("POST", "/wp/v2/media", content=data, headers=headers)
        except TargetRejected as exc:  # the site refuses this file: the text still goes
            log.warning("wordpress-image-skipped", target=self.id, url=image.url, error=str(exc))
            return None
        if image.title:
            self._call("POST", f"/wp/v2/media/{media['id']}", json={"alt_text": image.title})
        return int(media["id"])


def _wp_error(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    code, message = body.get("code"), body.get("message")
    return f" {code}: {message}" if code or message else ""


def make(
    city: CityConfig, http: httpx.Client | None, clock: Callable[[], datetime]
) -> WordPressTarget:
    return WordPressTarget(city, http, clock)
