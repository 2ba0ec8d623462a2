"""Store domain: what page sources remember of article pages (validators, hashes,
revisit times), so an unchanged portal costs its list requests only, across
processes (issue 12)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..models import PageRecord
from .base import chunks, wrap_exceptions
from .schema import pages_t


class PagesMixin:
    engine: Engine

    @wrap_exceptions("reading what is known of article pages")
    def pages(self, source_id: str, urls: Sequence[str]) -> dict[str, PageRecord]:
        """The records of those of ``urls`` the source has read before, by URL."""
        out: dict[str, PageRecord] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(urls)):
                rows = conn.execute(
                    sa.select(pages_t).where(
                        pages_t.c.source_id == source_id, pages_t.c.url.in_(chunk)
                    )
                )
                for r in rows:
                    out[r.url] = PageRecord(
                        url=r.url,
                        etag=r.etag,
                        last_modified=r.last_modified,
                        content_hash=r.content_hash,
                        entry_hash=r.entry_hash,
                        fetched_at=r.fetched_at,
                        revisit_at=r.revisit_at,
                    )
        return out

    @wrap_exceptions("recording what is known of article pages")
    def remember_pages(self, source_id: str, records: Sequence[PageRecord]) -> None:
        """Replace the source's records of these pages, in one transaction."""
        if not records:
            return
        with self.engine.begin() as conn:
            for chunk in chunks(list(records)):
                conn.execute(
                    pages_t.delete().where(
                        pages_t.c.source_id == source_id,
                        pages_t.c.url.in_([r.url for r in chunk]),
                    )
                )
                conn.execute(
                    pages_t.insert(),
                    [
                        dict(
                            source_id=source_id,
                            url=r.url,
                            etag=r.etag,
                            last_modified=r.last_modified,
                            content_hash=r.content_hash,
                            entry_hash=r.entry_hash,
                            fetched_at=r.fetched_at,
                            revisit_at=r.revisit_at,
                        )
                        for r in chunk
                    ],
                )
