"""The inbound push endpoints on the web front door (``kind = "inbound"`` sources).

Each enabled inbound source is served at its path (``/inbound/<source id>`` unless it
says otherwise) on ``[web] listen``, with the same checks, statuses and counted
refusals as before (``syncd.sources.inbound_server``). The Content-Length is checked
before the body is read, the body must arrive within the source's ``read_timeout``,
and the store is written from Starlette's thread pool. Anything but POST is answered
405. A sender that hangs up mid-body cannot be answered; its refusal is counted.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..sources.inbound import Options
from ..sources.inbound_server import Endpoint, InboundEndpoints, Refused
from .context import WebContext

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]


def _answer(status: int, doc: dict[str, Any]) -> Response:
    body = json.dumps(doc, ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type="application/json",
                    headers={"Connection": "close"})  # fmt: skip


async def _read(request: Request, length: int) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > length:
            break
    return body


def routes(ctx: WebContext) -> list[BaseRoute]:
    """One route per enabled inbound source (none without such sources)."""
    app = ctx.app
    sources = [
        (s, c) for c, s in app.config.sources() if s.enabled and isinstance(s.options, Options)
    ]
    if not sources:
        return []
    endpoints = InboundEndpoints(sources, app.store, app.clock)

    def handler(ep: Endpoint) -> Any:
        async def endpoint(request: Request) -> Response:
            if request.method != "POST":
                return JSONResponse({"error": "only POST is accepted"}, status_code=405)
            headers = {k.lower(): v for k, v in request.headers.items()}
            try:
                length = endpoints.expected_length(ep, headers)
                try:
                    body = await asyncio.wait_for(_read(request, length), ep.read_timeout)
                except TimeoutError:
                    raise Refused(408, "timeout", "the body did not arrive in time") from None
                except ClientDisconnect:
                    raise Refused(
                        400, "no-length", "body shorter than its Content-Length"
                    ) from None
                if len(body) != length:
                    raise Refused(400, "no-length", "body shorter than its Content-Length")
            except Refused as exc:
                status, doc = await run_in_threadpool(endpoints.refuse, ep, exc)
                return _answer(status, doc)
            status, doc = await run_in_threadpool(endpoints.accept, ep, headers, body)
            return _answer(status, doc)

        return endpoint

    async def unknown(request: Request) -> Response:
        return _answer(404, {"error": "no inbound endpoint here"})

    routes: list[BaseRoute] = [
        Route(path, handler(ep), methods=METHODS) for path, ep in endpoints.routes.items()
    ]
    # a JSON answer under /inbound/ as before (other paths: the front door's own 404)
    routes.append(Route("/inbound/{rest:path}", unknown, methods=METHODS))
    return routes
