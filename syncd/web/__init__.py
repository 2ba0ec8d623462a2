"""The daemon's one web front door: one ASGI application on one listener.

When ``[web] listen`` is set, ``syncd run`` serves ``make_web_app(context)`` with
uvicorn on that address. Each part mounts its own paths on it through a route
provider listed in ``app.PROVIDERS`` (the editors' desk, the inbound push endpoint,
``/healthz`` and ``/metrics``); none of them opens a listener of its own.

- ``context``  what a route may use of the running daemon (``WebContext``)
- ``app``      ``make_web_app``: the Starlette application and its route providers
- ``server``   ``WebServer``: uvicorn on a thread of the daemon, started and stopped
               with it; behind a reverse proxy (``root_path``, forwarded headers)

Only this package imports starlette and uvicorn.
"""

from __future__ import annotations

from .app import make_web_app
from .context import WebContext
from .server import WebServer

__all__ = ["WebContext", "WebServer", "make_web_app"]
