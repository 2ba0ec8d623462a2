"""Fixtures shared by the target tests: the example webhook receiver on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_c3luY2QtdGVzdC1zZWNyZXQtMzItYnl0ZXMtbG9uZyE="


def load_receiver() -> ModuleType:
    """The shipped example (integrations/webhook/receiver.py), imported from its file."""
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
    """A running example receiver; ``inbox`` is its store, ``url`` where to POST."""

    def __init__(self, secret: str = WEBHOOK_SECRET) -> None:
        self.inbox = receiver.Inbox(":memory:")
        self.server = receiver.ReceiverServer(
            ("127.0.0.1", 0), receiver.Verifier(secret), self.inbox, FlakyHandler
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


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


# --------------------------------------------------------------------------- WordPress


@pytest.fixture(scope="session")
def wordpress() -> Any:
    """The real WordPress on 127.0.0.1 (started by scripts/wordpress/wp-test-server)."""
    from tests.support.wordpress import ensure_wordpress

    wp = ensure_wordpress()
    yield wp
    wp.close()


@pytest.fixture
def wp(wordpress: Any) -> Any:
    """The real WordPress, emptied of posts, media and tags."""
    wordpress.reset()
    return wordpress


@pytest.fixture
def wp_target(wp: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """Makes WordPressTargets for a test user (password via an env reference); closes them."""
    from syncd.config import Duration, Secret
    from syncd.targets.wordpress import Options
    from syncd.targets.wordpress import make as make_wordpress

    from .factory import city

    made: list[Any] = []

    def make(user: str = "bot", password: str | None = None, **options: Any) -> Any:
        creds = wp.credentials(user)
        var = f"SYNCD_TEST_WP_{user.upper()}"
        monkeypatch.setenv(var, creds.password if password is None else password)
        opts = Options(
            url=wp.url, user=creds.user, password=Secret(env=var), timeout=Duration(seconds=20),
            **options,
        )  # fmt: skip
        made.append(make_wordpress(city("wordpress", opts), None, lambda: datetime.now(UTC)))
        return made[-1]

    yield make
    for t in made:
        t.close()
