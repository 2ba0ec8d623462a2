"""Fixtures of the source tests: every polite client and store a test made is closed
after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sources.sites import OPEN_CLIENTS, OPEN_STORES


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()
    while OPEN_STORES:
        OPEN_STORES.pop().close()
