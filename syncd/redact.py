"""Credentials out of text meant for people. Contains no business logic.

A URL written with inline credentials (``https://user:secret@host/…``) must not reach an
error message, a log line, ``syncd status`` or a stored last error in clear. Everything
that turns a URL into text for people goes through ``redact_url`` / ``redact_text``.
"""

from __future__ import annotations

import re

# scheme://userinfo@ — greedy up to the last "@" before the path, so that a password
# holding a raw "@" is hidden whole.
_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@", re.I)


def redact_url(url: str) -> str:
    """``url`` with its user-info replaced by ``***``; any other URL unchanged."""
    return _USERINFO.sub(r"\1***@", url)


def redact_text(text: str) -> str:
    """``text`` with the user-info of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\1***@", text)
