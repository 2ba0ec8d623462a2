"""Fixtures for the net layer's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.net.http import PoliteClient


@pytest.fixture
def clients() -> Iterator[list[PoliteClient]]:
    """Clients a test makes, closed after it."""
    made: list[PoliteClient] = []
    yield made
    for c in made:
        c.close()
