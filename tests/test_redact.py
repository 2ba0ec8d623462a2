"""Inline credentials are hidden wherever a URL becomes text for people (issue 9)."""

from __future__ import annotations

import logging

import pytest

from syncd import logs
from syncd.redact import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:secret@host.example/feed", "https://***@host.example/feed"),
        ("http://user:p@ss@host.example/?a=b@c", "http://***@host.example/?a=b@c"),
        ("HTTPS://token@host.example", "HTTPS://***@host.example"),
        ("ftp://u:secret@files.example/x", "ftp://***@files.example/x"),
        (
            "https://host.example/path/user@example.org",
            "https://host.example/path/user@example.org",
        ),
        ("https://host.example/feed", "https://host.example/feed"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_hides_every_url_in_a_message() -> None:
    text = "a https://a:secret@x.example/ then http://b:secret2@y.example/z failed"
    assert redact_text(text) == "a https://***@x.example/ then http://***@y.example/z failed"


def test_logs_use_the_same_redaction(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="syncd.test")
    logs.get("syncd.test").info("fetched", url="https://user:p@ss@host.example/feed")
    fields = caplog.records[0].syncd_fields  # type: ignore[attr-defined]
    assert fields["url"] == "https://***@host.example/feed"
