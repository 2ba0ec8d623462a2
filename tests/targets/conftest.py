"""Fixtures shared by the target tests: the example webhook receiver on 127.0.0.1
(tests/support/webhook.py) and the real WordPress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.webhook import Receiver


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
