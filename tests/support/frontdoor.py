"""The daemon's web front door in tests, without the daemon: the real Starlette
application and uvicorn on a loopback port, over a given config, store and clock.
Contains no business logic."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from syncd.app import make_app
from syncd.config import Config
from syncd.store import Store
from syncd.web import WebContext, WebServer, make_web_app


class FrontDoor:
    """Every route provider's paths (inbound endpoints, the desk, …) on one listener;
    ``start`` / ``stop`` / ``port`` like the stdlib server the endpoints had before."""

    def __init__(self, config: Config, store: Store, clock: Callable[[], datetime]) -> None:
        self.app = make_app(config, store=store, clock=clock)
        try:
            self.server = WebServer(make_web_app(WebContext(self.app)), "127.0.0.1:0")
        except BaseException:
            self.app.close()
            raise

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self.app.close()
