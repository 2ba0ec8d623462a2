"""A handle on the real WordPress that ``scripts/wordpress/wp-test-server`` runs on 127.0.0.1.

Typical use (session-scoped fixture)::

    wp = ensure_wordpress()          # starts the server if $WP_TEST_DIR/env is not up
    wp.reset()                       # all posts, pages, media and tags gone
    with wp.client("bot") as bot:    # httpx.Client, base_url = <site>/wp-json, basic auth
        r = bot.post("/wp/v2/posts", json={"title": "t", "status": "draft"})

Users are named by role alias (``"admin"``, ``"editor"``, ``"bot"``) or by login name.
The server is left running after the tests (a later session reuses it in milliseconds);
``scripts/wordpress/wp-test-server stop`` stops it.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "wordpress" / "wp-test-server"

#: Every status a syncd draft can be in while it still "exists" for reconciliation.
LIVE_STATUSES = "draft,pending,publish,private,future"


def state_dir() -> Path:
    """The server's state folder: ``$WP_TEST_DIR`` or ``<repo>/.wp-test``."""
    return Path(os.environ.get("WP_TEST_DIR") or REPO / ".wp-test")


def read_env_file(path: Path) -> dict[str, str]:
    """Parses ``KEY=value`` lines (an optional ``export`` prefix and quotes are tolerated)."""
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        env[key.strip()] = value.strip().strip("'\"")
    return env


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str  # an application password
    id: int


class WordPressServer:
    """Credentials, clients and a few test-side shortcuts for the test WordPress."""

    ALIASES = {"admin": "WP_ADMIN", "editor": "WP_EDITOR", "bot": "WP_BOT"}

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.url: str = env["WP_URL"].rstrip("/")
        #: Base for ``?rest_route=`` URLs (works whatever the permalink setting). With httpx,
        #: pass ``params={"rest_route": ...}`` instead: ``params=`` replaces a URL's query.
        self.rest_root: str = env.get("WP_REST_ROOT", self.url + "/?rest_route=")
        self.admin = self._creds("WP_ADMIN")
        self.editor = self._creds("WP_EDITOR")
        self.bot = self._creds("WP_BOT")
        self._clients: dict[str, httpx.Client] = {}

    @classmethod
    def from_env_file(cls, path: Path | None = None) -> WordPressServer:
        return cls(read_env_file(path or state_dir() / "env"))

    def _creds(self, prefix: str) -> Credentials:
        return Credentials(
            user=self.env[f"{prefix}_USER"],
            password=self.env[f"{prefix}_PASSWORD"],
            id=int(self.env.get(f"{prefix}_ID", "0")),
        )

    def credentials(self, user: str) -> Credentials:
        """``"admin"``/``"editor"``/``"bot"`` or a login name of one of those users."""
        if user in self.ALIASES:
            return self._creds(self.ALIASES[user])
        for creds in (self.admin, self.editor, self.bot):
            if creds.user == user:
                return creds
        raise KeyError(f"unknown test user {user!r}")

    # ------------------------------------------------------------------ clients

    def client(
        self, user: str | None = "bot", *, password: str | None = None, timeout: float = 30.0
    ) -> httpx.Client:
        """A new ``httpx.Client`` (caller closes it) with ``base_url=<site>/wp-json`` and
        HTTP basic auth with the user's application password; ``user=None`` is anonymous.
        ``password`` overrides the password (e.g. to try a wrong or revoked one)."""
        auth: tuple[str, str] | None = None
        if user is not None:
            try:
                creds = self.credentials(user)
                login, secret = creds.user, creds.password
            except KeyError:  # any other login name, e.g. to prove it is refused
                login, secret = user, ""
            auth = (login, secret if password is None else password)
        return httpx.Client(base_url=self.url + "/wp-json", auth=auth, timeout=timeout)

    def _client(self, user: str) -> httpx.Client:
        key = self.credentials(user).user
        if key not in self._clients:
            self._clients[key] = self.client(key)
        return self._clients[key]

    def request(self, user: str, method: str, route: str, **kwargs: Any) -> httpx.Response:
        """``route`` like ``/wp/v2/posts/5``; kwargs go to ``httpx.Client.request``."""
        return self._client(user).request(method, route, **kwargs)

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    def __enter__(self) -> WordPressServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ health

    def is_up(self, timeout: float = 3.0) -> bool:
        try:
            r = httpx.get(self.url + "/", params={"rest_route": "/"}, timeout=timeout)
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and r.headers.get("content-type", "").startswith(
            "application/json"
        )

    # ------------------------------------------------------------------ shortcuts

    @staticmethod
    def _ok(r: httpx.Response) -> Any:
        if r.is_error:
            raise AssertionError(
                f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text[:500]}"
            )
        return r.json()

    def get_post(
        self, post_id: int, *, user: str = "admin", context: str = "edit"
    ) -> httpx.Response:
        return self.request(user, "GET", f"/wp/v2/posts/{post_id}", params={"context": context})

    def editor_edit(self, post_id: int, **fields: Any) -> dict[str, Any]:
        """Edits the post as the editor (``title=``, ``content=``, ``status=``, ``meta=``...)."""
        return self._ok(self.request("editor", "POST", f"/wp/v2/posts/{post_id}", json=fields))  # type: ignore[no-any-return]

    def editor_trash(self, post_id: int) -> dict[str, Any]:
        """Moves the post to the trash as the editor; returns the trashed post."""
        return self._ok(self.request("editor", "DELETE", f"/wp/v2/posts/{post_id}"))  # type: ignore[no-any-return]

    def delete(self, post_id: int, force: bool = True, *, user: str = "admin") -> httpx.Response:
        """Deletes (``force=True``, bypassing the trash) or trashes the post; the raw response."""
        params = {"force": "true"} if force else {}
        return self.request(user, "DELETE", f"/wp/v2/posts/{post_id}", params=params)

    def list_posts(
        self, status: str = LIVE_STATUSES + ",trash", *, user: str = "admin", **params: Any
    ) -> list[dict[str, Any]]:
        """All posts (every page) in the given statuses; ``context=edit`` unless given."""
        return list(self._paged("/wp/v2/posts", user, {"status": status, **params}))

    def list_media(self, *, user: str = "admin", **params: Any) -> list[dict[str, Any]]:
        return list(self._paged("/wp/v2/media", user, params))

    def find_by_source(
        self, key: str, *, user: str = "bot", status: str = LIVE_STATUSES, context: str = "view"
    ) -> list[dict[str, Any]]:
        """Posts whose ``syncd_source`` meta equals ``key`` (the plugin's query). ``context``
        defaults to ``view``: with ``edit`` core drops posts the user may not edit (for the bot:
        whatever an editor published)."""
        return self.list_posts(status, user=user, syncd_source=key, context=context)

    def _paged(self, route: str, user: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            r = self.request(
                user,
                "GET",
                route,
                params={"context": "edit", "per_page": 100, **params, "page": page},
            )
            yield from self._ok(r)
            if page >= int(r.headers.get("X-WP-TotalPages", "1") or 1):
                return
            page += 1

    def reset(self) -> dict[str, int]:
        """Deletes all posts, pages, media (with files) and tags, through the plugin's
        local-only ``POST /syncd-bridge/v1/test-reset``. Users and passwords stay."""
        return self._ok(self.request("admin", "POST", "/syncd-bridge/v1/test-reset"))  # type: ignore[no-any-return]


def run_script(command: str, *, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WP_TEST_DIR": str(state_dir())}
    return subprocess.run(
        [str(SCRIPT), command],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ensure_wordpress() -> WordPressServer:
    """Returns the running test WordPress, starting it (cold start installs packages, ~15-30 s;
    restart with data kept <1 s) when ``$WP_TEST_DIR/env`` does not point at a live server."""
    env_file = state_dir() / "env"
    if env_file.exists():
        wp = WordPressServer.from_env_file(env_file)
        if wp.is_up():
            return wp
    started = time.monotonic()
    proc = run_script("start")
    if proc.returncode != 0:
        raise RuntimeError(
            f"{SCRIPT} start failed ({proc.returncode}) after {time.monotonic() - started:.1f}s:\n"
            + proc.stderr[-4000:]
        )
    wp = WordPressServer.from_env_file(env_file)
    if not wp.is_up(timeout=10):
        raise RuntimeError(
            f"WordPress at {wp.url} is not answering after start:\n{proc.stderr[-4000:]}"
        )
    return wp


def stop_wordpress() -> None:
    proc = run_script("stop", timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(f"{SCRIPT} stop failed:\n{proc.stderr[-4000:]}")
