"""The shipped example webhook receiver (integrations/webhook/receiver.py), run on
127.0.0.1 for tests: a real receiver, not a fake of syncd. Contains no business logic."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_c3luY2QtdGVzdC1zZWNyZXQtMzItYnl0ZXMtbG9uZyE="


def load_receiver() -> ModuleType:
    """The shipped example, imported from its file (it is not a package)."""
    name = "syncd_example_webhook_receiver"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, REPO / "integrations/webhook/receiver.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


receiver = load_receiver()


class FlakyHandler(receiver.Handler):  # type: ignore[name-defined,misc]
    """Stores the message, then answers 503 as if the answer was lost: ``server.fail`` times."""

    def _answer(self, status: int, payload: Any) -> None:
        srv = self.server
        if status == 200 and srv.fail > 0:
            srv.fail -= 1
            data = b'{"error": "try later"}'
            self.send_response(503)
            self.send_header("Retry-After", "7")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        super()._answer(status, payload)


class Receiver:
    """A running example receiver; ``inbox`` is its store, ``url`` where to POST.

    ``now`` is the receiver's clock (Unix seconds) for the signature's timestamp
    check: a test that runs syncd on a fixed clock gives the receiver the same one.
    """

    def __init__(self, secret: str = WEBHOOK_SECRET, now: Callable[[], float] = time.time) -> None:
        self.inbox = receiver.Inbox(":memory:")
        self.server = receiver.ReceiverServer(
            ("127.0.0.1", 0), receiver.Verifier(secret, now=now), self.inbox, FlakyHandler
        )
        self.server.fail = 0
        self.url = f"http://127.0.0.1:{self.server.server_port}/syncd"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class AlertReceiver:
    """Receives syncd's operator alerts: checks each signature with the shipped
    receiver's ``Verifier`` and keeps the verified documents (``alerts``); anything
    unsigned or wrongly signed is answered 401 and counted in ``refused``."""

    def __init__(self, secret: str = WEBHOOK_SECRET, now: Callable[[], float] = time.time) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        verifier = receiver.Verifier(secret, now=now)
        outer = self
        self.alerts: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self.refused = 0

        class _H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    msg_id = verifier.verify(dict(self.headers.items()), body)
                except receiver.InvalidSignature:
                    outer.refused += 1
                    status = 401
                else:
                    outer.ids.append(msg_id)
                    outer.alerts.append(json.loads(body))
                    status = 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
