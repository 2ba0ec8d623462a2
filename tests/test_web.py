"""The web front door: one ASGI application on one listener in the daemon."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route

from syncd.app import make_app
from syncd.config import load
from syncd.daemon import Daemon
from syncd.errors import ConfigError
from syncd.kinds import TABLE
from syncd.web import WebContext, WebServer, make_web_app
from tests.support.configs import feed_source, write_config
from tests.support.loopback import LoopbackServer


def echo_routes(ctx: WebContext) -> list[BaseRoute]:
    async def where(request: Request) -> PlainTextResponse:
        scheme, client = request.url.scheme, request.client.host if request.client else "-"
        return PlainTextResponse(
            f"{request.scope.get('root_path', '')} {scheme} {client} {ctx.run_state()}"
        )

    return [Route("/where", where)]


def test_the_front_door_serves_providers_routes_behind_a_proxy(
    tmp_path: Path, server: LoopbackServer
) -> None:
    cfg = load(write_config(tmp_path, feed_source("s", f"{server.url}/f.xml"), ""), kinds=TABLE)
    app = make_app(cfg)
    web = WebServer(
        make_web_app(WebContext(app, run_state=lambda: "started"), [echo_routes]),
        "127.0.0.1:0",
        root_path="/syncd",
        forwarded_allow_ips="127.0.0.1",
    )
    web.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{web.port}", trust_env=False) as c:
            r = c.get(
                "/where", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
            )
            assert r.text == "/syncd https 203.0.113.9 started"
            assert c.get("/nothing-here").status_code == 404
    finally:
        web.stop()
        app.close()


def test_run_serves_the_front_door_only_when_listen_is_set(
    tmp_path: Path, server: LoopbackServer
) -> None:
    path = write_config(tmp_path, feed_source("s", f"{server.url}/f.xml"), "")
    text = path.read_text(encoding="utf-8")
    path.write_text(text + '\n[web]\nlisten = "127.0.0.1:0"\n', encoding="utf-8")
    app = make_app(load(path, kinds=TABLE))
    daemon = Daemon(app)
    try:
        daemon.start()
        (web,) = [s for s in daemon._servers if isinstance(s, WebServer)]
        with httpx.Client(trust_env=False) as c:
            assert c.get(f"http://127.0.0.1:{web.port}/").status_code == 404
    finally:
        daemon.stop()
        app.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{web.port}/", trust_env=False)


def test_a_bad_listen_address_is_a_config_error(tmp_path: Path, server: LoopbackServer) -> None:
    path = write_config(tmp_path, feed_source("s", f"{server.url}/f.xml"), "")
    path.write_text(
        path.read_text(encoding="utf-8") + '\n[web]\nlisten = "8080"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"web.listen: expected \"host:port\""):
        load(path, kinds=TABLE)
