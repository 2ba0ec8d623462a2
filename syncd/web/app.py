"""``make_web_app``: the one ASGI application of the daemon's web front door.

Route providers are functions ``(WebContext) -> list[BaseRoute]``; each part of
syncd that serves paths adds its provider to ``PROVIDERS`` (one line here), so the
application is assembled in one place.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from .context import WebContext
from .desk import routes as desk_routes
from .feed import routes as feed_routes
from .inbound import routes as inbound_routes
from .ops import ops_routes

RouteProvider = Callable[[WebContext], list[BaseRoute]]

#: every part that serves paths on the front door, in mounting order
PROVIDERS: list[RouteProvider] = [
    ops_routes,  # /healthz, /metrics
    desk_routes,  # the editors' desk at /desk
    inbound_routes,  # the inbound push endpoints (/inbound/<source id>)
    feed_routes,  # approved translations as Atom (/feed/<city id>.atom)
]


def make_web_app(ctx: WebContext, providers: list[RouteProvider] | None = None) -> Starlette:
    """The Starlette application with every provider's routes mounted."""
    routes: list[BaseRoute] = []
    for provide in PROVIDERS if providers is None else providers:
        routes.extend(provide(ctx))
    web = Starlette(routes=routes)
    web.state.ctx = ctx
    return web
