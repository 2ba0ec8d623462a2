#!/usr/bin/env python3
"""A webhook receiver for syncd's ``kind = "webhook"`` target (Python 3.11, stdlib only).

Run it::

    SYNCD_WEBHOOK_SECRET=whsec_... python3 receiver.py --port 8700 --db inbox.sqlite

It does what every receiver of syncd drafts must do, in this order:

1. **verify** the Standard Webhooks signature over the raw body
   (``v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>``, the key
   being the base64 after ``whsec_``) in constant time, and refuse a timestamp more than
   five minutes away from its clock (replays) → 401;
2. **dedupe** on ``webhook-id``: syncd sends the same id for every retry of one version,
   also after a crash, so a message already stored is answered 200 and not stored again;
3. **keep editors' work**: the first version becomes a draft; a later version replaces
   it only while no editor has touched it. Once an editor edited or deleted the item,
   later versions are recorded as "source updated after review" and nothing is
   overwritten or re-created.

The answer is JSON; ``{"url": …}`` in it is shown by ``syncd status`` as the draft's
address. State lives in one SQLite file (``:memory:`` for tests), so dedupe survives a
restart of the receiver.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE = 300  # seconds of clock skew accepted, as the Standard Webhooks scheme advises
MAX_BODY = 5 * 1024 * 1024


class InvalidSignature(Exception):
    """The message is not from the holder of the secret, or is a replay."""


class Verifier:
    def __init__(
        self, secret: str, *, tolerance: int = TOLERANCE, now: Callable[[], float] = time.time
    ) -> None:
        self.key = _key(secret)
        self.tolerance = tolerance
        self.now = now

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Returns the webhook-id of an authentic, fresh message; raises InvalidSignature."""
        h = {k.lower(): v for k, v in headers.items()}
        msg_id, stamp, signatures = (
            h.get("webhook-id"),
            h.get("webhook-timestamp"),
            h.get("webhook-signature"),
        )
        if not msg_id or not stamp or not signatures:
            raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
        try:
            ts = int(stamp)
        except ValueError:
            raise InvalidSignature("webhook-timestamp is not an integer") from None
        if abs(self.now() - ts) > self.tolerance:
            raise InvalidSignature("webhook-timestamp too old or too new")
        signed = f"{msg_id}.{ts}.".encode() + body
        expected = base64.b64encode(hmac.new(self.key, signed, hashlib.sha256).digest())
        for sig in signatures.split():
            version, _, value = sig.partition(",")
            if version == "v1" and hmac.compare_digest(value.encode(), expected):
                return msg_id
        raise InvalidSignature("no valid signature")


def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[6:], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode("utf-8")


SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, marker TEXT, received_at REAL);
CREATE TABLE IF NOT EXISTS items (
    marker TEXT PRIMARY KEY,
    state TEXT NOT NULL,              -- draft | edited | deleted | published
    version INTEGER NOT NULL,         -- last version written into the draft
    latest_version INTEGER NOT NULL,  -- last version syncd sent
    changed_after_review INTEGER NOT NULL DEFAULT 0,
    title TEXT, body_html TEXT, doc TEXT
);
"""


class Inbox:
    """The receiver's store: dedupe on message id, one item per syncd marker."""

    def __init__(self, path: str = ":memory:") -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def receive(self, msg_id: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        """Stores one verified message once; returns the JSON answer."""
        data = doc["data"]
        marker, version = str(data["marker"]), int(data["version"])
        title, body = data["translation"]["title"], data["translation"]["body_html"]
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                fresh = self.db.execute(
                    "INSERT OR IGNORE INTO messages VALUES (?, ?, ?)", (msg_id, marker, time.time())
                ).rowcount
                if fresh:
                    self._apply(marker, version, title, body, json.dumps(doc, ensure_ascii=False))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return {"id": msg_id, "duplicate": not fresh, "state": self.item(marker)["state"]}

    def _apply(self, marker: str, version: int, title: str, body: str, doc: str) -> None:
        row = self.db.execute(
            "SELECT state, latest_version FROM items WHERE marker = ?", (marker,)
        ).fetchone()
        if row is None:
            self.db.execute(
                "INSERT INTO items VALUES (?, 'draft', ?, ?, 0, ?, ?, ?)",
                (marker, version, version, title, body, doc),
            )
        elif version <= row[1]:
            return  # an older version arriving late changes nothing
        elif row[0] == "draft":
            self.db.execute(
                "UPDATE items SET version = ?, latest_version = ?, title = ?, body_html = ?,"
                " doc = ? WHERE marker = ?",
                (version, version, title, body, doc, marker),
            )
        else:  # an editor took over: keep their work, remember that the source moved on
            self.db.execute(
                "UPDATE items SET latest_version = ?, changed_after_review = 1 WHERE marker = ?",
                (version, marker),
            )

    # --- what the partner's editors do (here: called by the platform or by tests)
    def editor_edit(
        self, marker: str, title: str | None = None, body_html: str | None = None
    ) -> None:
        self.db.execute(
            "UPDATE items SET state = 'edited', title = coalesce(?, title),"
            " body_html = coalesce(?, body_html) WHERE marker = ?",
            (title, body_html, marker),
        )

    def editor_delete(self, marker: str) -> None:
        self.db.execute(
            "UPDATE items SET state = 'deleted', title = NULL, body_html = NULL WHERE marker = ?",
            (marker,),
        )

    def item(self, marker: str) -> dict[str, Any]:
        cur = self.db.execute("SELECT * FROM items WHERE marker = ?", (marker,))
        row = cur.fetchone()
        if row is None:
            return {"state": None}
        return dict(zip([c[0] for c in cur.description], row, strict=True))

    def count_messages(self, marker: str | None = None) -> int:
        q, args = (
            ("SELECT count(*) FROM messages", ())
            if marker is None
            else ("SELECT count(*) FROM messages WHERE marker = ?", (marker,))
        )
        return int(self.db.execute(q, args).fetchone()[0])

    def count_items(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM items").fetchone()[0])


class Handler(BaseHTTPRequestHandler):
    """POST anything → verify, dedupe, store. Set ``server.verifier`` and ``server.inbox``."""

    server: ReceiverServer

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._answer(413, {"error": "too large"})
        body = self.rfile.read(length)
        try:
            msg_id = self.server.verifier.verify(dict(self.headers.items()), body)
        except InvalidSignature as exc:
            return self._answer(401, {"error": str(exc)})
        try:
            doc = json.loads(body)
        except ValueError:
            return self._answer(400, {"error": "not JSON"})
        self._answer(200, self.server.inbox.receive(msg_id, doc))

    def _answer(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet; a real deployment logs through its web server


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        verifier: Verifier,
        inbox: Inbox,
        handler: type[BaseHTTPRequestHandler] = Handler,
    ) -> None:
        super().__init__(address, handler)
        self.verifier = verifier
        self.inbox = inbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--db", default="inbox.sqlite")
    parser.add_argument(
        "--secret-env", default="SYNCD_WEBHOOK_SECRET", help="variable holding the secret"
    )
    args = parser.parse_args()
    secret = os.environ.get(args.secret_env)
    if not secret:
        parser.error(f"set {args.secret_env} to the webhook secret")
    server = ReceiverServer((args.host, args.port), Verifier(secret), Inbox(args.db))
    print(f"listening on http://{args.host}:{server.server_port}/")
    server.serve_forever()


if __name__ == "__main__":
    main()
