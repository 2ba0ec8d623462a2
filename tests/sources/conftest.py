"""Fixtures of the source tests: every polite client a test made is closed after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sources.sites import OPEN_CLIENTS


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()
