"""Approved translations as Atom feeds on the web front door (``kind = "feed"`` targets).

``/feed/<city id>.atom`` for every city whose target is a feed: the newest entries of
its folder (``syncd.targets.feed``). With ``token`` set, a request without the right
``?token=`` is answered 404 (compared in constant time), as if there were no feed.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..config import CityConfig
from ..targets.feed import Options, atom, read_entries
from .context import WebContext


def routes(ctx: WebContext) -> list[BaseRoute]:
    app = ctx.app
    cities = [c for c in app.config.cities if isinstance(c.target.options, Options)]
    return [Route(f"/feed/{c.id}.atom", _serve(ctx, c), methods=["GET", "HEAD"]) for c in cities]


def _serve(ctx: WebContext, city: CityConfig) -> Callable[[Request], Awaitable[Response]]:
    opts: Options = city.target.options
    token = opts.token.resolve() if opts.token is not None else None

    async def feed(request: Request) -> Response:
        if token is not None and not hmac.compare_digest(
            request.query_params.get("token", "").encode(), token.encode()
        ):
            return Response("not found", status_code=404, media_type="text/plain")
        entries = await run_in_threadpool(read_entries, opts.path, max(1, opts.max_entries))
        body = atom(
            entries,
            feed_id=f"urn:syncd:feed:{city.id}",
            title=opts.title or f"syncd: {city.name}",
            self_url=str(request.url.remove_query_params("token")),
            updated=ctx.app.clock().isoformat(timespec="seconds"),
        )
        return Response(
            body,
            media_type="application/atom+xml; charset=utf-8",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    return feed
