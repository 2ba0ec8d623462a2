"""Store domain: translations of item versions and the translation memory."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..models import QualityFlag, Segment, Translation
from .base import chunks, insert_or, wrap_exceptions
from .schema import memory_t, translations_t


class TranslationsMixin:
    engine: Engine
    clock: Callable[[], datetime]

    @wrap_exceptions("saving a translation")
    def save_translation(self, item_id: int, version: int, t: Translation, now: datetime) -> None:
        values = dict(
            title=t.title,
            summary=t.summary,
            body_html=t.body_html,
            pivot=None if t.pivot is None else json.dumps(dict(t.pivot), ensure_ascii=False),
            flags=json.dumps([f.__dict__ for f in t.flags], ensure_ascii=False),
            packages=json.dumps(list(t.packages)),
            segments=json.dumps([s.__dict__ for s in t.segments], ensure_ascii=False),
            created_at=now,
        )
        key = dict(item_id=item_id, version=version, language=t.language)
        with self.engine.begin() as conn:
            insert_or(
                conn,
                translations_t,
                {**key, **values},
                keys=list(key),
                update=lambda new: {k: getattr(new, k) for k in values},
            )

    @wrap_exceptions("reading a translation")
    def translation(self, item_id: int, version: int, language: str) -> Translation | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(translations_t).where(
                    translations_t.c.item_id == item_id,
                    translations_t.c.version == version,
                    translations_t.c.language == language,
                )
            ).first()
        if r is None:
            return None
        return Translation(
            language=r.language,
            title=r.title,
            summary=r.summary,
            body_html=r.body_html,
            pivot=None if r.pivot is None else json.loads(r.pivot),
            flags=tuple(QualityFlag(**f) for f in json.loads(r.flags)),
            packages=tuple(json.loads(r.packages)),
            segments=tuple(Segment(**s) for s in json.loads(r.segments or "[]")),
        )

    @wrap_exceptions("counting quality flags")
    def quality_flag_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for (flags,) in conn.execute(sa.select(translations_t.c.flags)):
                for f in json.loads(flags):
                    counts[f["kind"]] = counts.get(f["kind"], 0) + 1
        return counts

    # -- translation memory (implements syncd.translate.TranslationMemory)

    @wrap_exceptions("reading the translation memory")
    def recall(self, route: str, sentences: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(dict.fromkeys(sentences))):
                for r in conn.execute(
                    sa.select(memory_t.c.source, memory_t.c.target).where(
                        memory_t.c.route == route, memory_t.c.source.in_(chunk)
                    )
                ):
                    out[r.source] = r.target
        return out

    @wrap_exceptions("writing the translation memory")
    def remember(self, route: str, pairs: Mapping[str, str], now: datetime | None = None) -> None:
        if not pairs:
            return
        stamp = now or self.clock()
        with self.engine.begin() as conn:
            known: set[str] = set()
            for chunk in chunks(list(pairs)):
                known.update(
                    conn.execute(
                        sa.select(memory_t.c.source).where(
                            memory_t.c.route == route, memory_t.c.source.in_(chunk)
                        )
                    ).scalars()
                )
            rows = [
                dict(route=route, source=s, target=t, created_at=stamp)
                for s, t in pairs.items()
                if s not in known
            ]
            if rows:  # another replica may remember the same sentence meanwhile
                insert_or(conn, memory_t, rows, keys=["route", "source"])
