"""``WebServer``: uvicorn serving the front door on a thread of the daemon.

One listener, one process. Behind a reverse proxy that terminates TLS, set
``[web] root_path`` to the path prefix the proxy serves syncd under and
``[web] forwarded_allow_ips`` to the proxy's address, so that ``X-Forwarded-For`` /
``X-Forwarded-Proto`` are trusted from it and from nobody else.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn

from .. import logs

log = logs.get("syncd.web")


def parse_listen(listen: str) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:8080"`` for IPv6) → (host, port); ValueError if not."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f'expected "host:port", got {listen!r}')
    return host.strip("[]"), int(port)


class WebServer:
    """Serves ``app`` on ``listen`` until ``stop()``. ``port`` is the bound port (useful
    with port 0)."""

    def __init__(
        self,
        app: Any,
        listen: str,
        *,
        root_path: str = "",
        forwarded_allow_ips: str = "127.0.0.1",
    ) -> None:
        host, port = parse_listen(listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = host, self._sock.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                root_path=root_path,
                proxy_headers=True,
                forwarded_allow_ips=forwarded_allow_ips,
                log_config=None,  # our own structured logs, not uvicorn's
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=3,
            )
        )
        self._thread = threading.Thread(target=self._run, name="syncd-web", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self, timeout: float = 10.0) -> None:
        self._sock.listen(128)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the web front door did not start")
            time.sleep(0.02)
        log.info("web-listening", address=f"{self.host}:{self.port}")

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()
