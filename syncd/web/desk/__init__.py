"""The editors' desk on the web front door (``/desk``).

- ``pages``     the request handlers: sign-in, queue, draft, audit log, language
- ``service``   the desk's actions over the app (decisions are ``syncd.review``'s)
- ``auth``      sessions, signed cookies, CSRF, login throttling
- ``security``  security headers (strict CSP, no framing, nosniff)
- ``views``     rows of the draft page and the diff of the original
- ``i18n``      the desk's words in German, Chinese and English

``routes(ctx)`` is the desk's route provider (``syncd.web.app.PROVIDERS``).
Templates and the stylesheet ship in the package (``templates/``, ``static/``).
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..context import WebContext
from .pages import Desk
from .security import SecurityHeaders


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The desk, mounted at ``/desk`` with its own security headers."""
    desk = Desk(ctx)
    app = Starlette(
        routes=[
            Route("/", desk.index),
            Route("/login", desk.login_form, methods=["GET"]),
            Route("/login", desk.login, methods=["POST"]),
            Route("/logout", desk.logout, methods=["POST"]),
            Route("/language", desk.language, methods=["POST"]),
            Route("/queue", desk.queue),
            Route("/draft/{item_id:int}", desk.draft),
            Route("/draft/{item_id:int}/edit", desk.edit, methods=["POST"]),
            Route("/draft/{item_id:int}/decide", desk.decide, methods=["POST"]),
            Route("/audit", desk.audit),
            Route("/glossary", desk.glossary),
            Mount("/static", StaticFiles(directory=Path(__file__).parent / "static")),
        ],
        middleware=[Middleware(SecurityHeaders)],
    )
    return [Mount("/desk", app=app)]
