"""Store domain: the editors' desk — its queue, drafts, editors' texts and decisions,
and their corrections (the city's translation memory).

An editor's decision (``apply_review``) is one transaction: the delivery's new state,
the decision, the corrections it brings and the audit entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from ..intents import ReviewApproved, ReviewIntent, ReviewRejected, ReviewReopened
from ..models import DeliveryRow, DeliveryState, Item, ItemRow, Translation
from .base import chunks, wrap_exceptions
from .deliveries import delivery_row, update_delivery
from .editors import add_audit
from .items import _item_from_version, item_row
from .schema import (
    corrections_t,
    deliveries_t,
    desk_texts_t,
    items_t,
    reviews_t,
    translations_t,
    versions_t,
)

#: the queue's statuses, as the desk's tabs show them
STATUSES = ("new", "changed", "approved", "rejected", "other")
_REACHED = [
    DeliveryState.APPROVED.value,
    DeliveryState.CREATING.value,
    DeliveryState.PUSHED.value,
    DeliveryState.EDITED.value,
    DeliveryState.PUBLISHED.value,
]


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows: a status (or all), one source, one flag kind, a date
    range on when syncd first saw the item (UTC, ``until`` exclusive)."""

    status: str | None = None
    source_id: str | None = None
    flag: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class QueueRow:
    item_id: int
    source_id: str
    url: str | None
    original_title: str
    title: str | None  # the translation's, None while not translated
    first_seen_at: datetime
    published: datetime | None
    state: DeliveryState
    status: str  # one of STATUSES
    version: int
    flags: tuple[str, ...]  # kinds of the translation's quality flags


@dataclass(frozen=True)
class DeskText:
    """The editor's text of one draft version: ``edits`` maps ``"field:index"`` to the
    sentence they wrote; ``whole`` says the body was rewritten as a whole."""

    item_id: int
    target_city: str
    version: int
    title: str
    summary: str
    body_html: str
    edits: Mapping[str, str]
    whole: bool
    editor: str
    updated_at: datetime


@dataclass(frozen=True)
class ReviewRow:
    version: int
    decision: str  # approved | rejected
    editor: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class DeskDraft:
    """Everything the draft page shows of one item for one city."""

    delivery: DeliveryRow
    item: ItemRow
    version: int  # the version shown (held, approved or written)
    original: Item
    translation: Translation | None
    text: DeskText | None
    review: ReviewRow | None
    #: the original as last reviewed, when the source changed after review
    reviewed_original: Item | None = None


@dataclass(frozen=True)
class Correction:
    """An editor's sentence for a source sentence (normalized), and the models'."""

    source: str
    target: str
    machine: str


@dataclass(frozen=True)
class CorrectionRow:
    source: str
    target: str
    machine: str
    editor: str
    at: datetime
    language: str = ""


@dataclass(frozen=True)
class QueuePage:
    rows: Sequence[QueueRow]
    total: int
    counts: Mapping[str, int] = field(default_factory=dict)  # per status


class _ItemsFirst(sa.sql.expression.Join):
    """``items`` joined with ``deliveries``, items as the outer loop.

    The queue's page is the newest items of a city: with items first, SQLite walks
    ``ix_items_first_seen`` backwards and stops after one page (0.1 ms for the first
    page of 10,000 drafts); left to itself it reads every delivery of the city and sorts
    them (30 ms). SQLite's ``CROSS JOIN`` is its documented way to fix the order; the
    join condition goes into WHERE. Other databases get a plain join."""

    inherit_cache = True


@compiles(_ItemsFirst, "sqlite")
def _cross_join(element: _ItemsFirst, compiler: SQLCompiler, **kw: Any) -> str:
    kw["asfrom"] = True
    left = compiler.process(element.left, **kw)
    right = compiler.process(element.right, **kw)
    return f"{left} CROSS JOIN {right}"


def _status_expr(r: Any) -> Any:
    d = deliveries_t.c
    held = d.state == DeliveryState.HELD.value
    return sa.case(
        (
            sa.or_(d.changed_after_review.is_(True), sa.and_(held, r.c.version.is_not(None))),
            "changed",
        ),
        (held, "new"),
        (d.state == DeliveryState.REJECTED.value, "rejected"),
        (sa.and_(r.c.decision == "approved", d.state.in_(_REACHED)), "approved"),
        else_="other",
    )


def _shown_version() -> Any:
    d = deliveries_t.c
    return sa.func.coalesce(d.review_version, d.written_version, items_t.c.current_version)


def _text(r: Any) -> DeskText:
    m = r._mapping
    kw = {k: m[k] for k in DeskText.__dataclass_fields__}
    kw["edits"] = json.loads(kw["edits"])
    return DeskText(**kw)


class DeskMixin:
    engine: Engine

    if TYPE_CHECKING:  # provided by TranslationsMixin

        def translation(self, item_id: int, version: int, language: str) -> Translation | None: ...

    @wrap_exceptions("reading the desk's queue")
    def desk_queue(
        self, city_id: str, language: str, flt: QueueFilter, *, limit: int = 50, offset: int = 0
    ) -> QueuePage:
        """One page of a city's queue, newest first, with the count per status.

        Two cheap passes instead of one wide join: the page's ids (and the counts) from
        deliveries, items and decisions alone (translations only to filter on a flag),
        then titles, versions and flags for those ids only; 10,000 drafts stay fast."""
        d = deliveries_t.c
        r = reviews_t.alias("r")
        t = translations_t.alias("t")
        status = _status_expr(r)
        reviewed = sa.and_(r.c.item_id == d.item_id, r.c.target_city == d.target_city)
        where = [d.target_city == city_id, d.state != DeliveryState.SKIPPED.value]
        # the counts read items only when a filter needs them (one lookup per draft less)
        needs_items = bool(flt.flag or flt.source_id or flt.since or flt.until)
        if flt.flag:
            # a correlated EXISTS, not a join: the page's walk over items in date order
            # stays the outer loop and stops after one page
            where.append(
                sa.exists().where(
                    t.c.item_id == d.item_id,
                    t.c.version == _shown_version(),
                    t.c.language == language,
                    t.c.flags.contains(json.dumps({"kind": flt.flag})[1:-1]),
                )
            )
        if flt.source_id:
            where.append(items_t.c.source_id == flt.source_id)
        if flt.since is not None:
            where.append(items_t.c.first_seen_at >= flt.since)
        if flt.until is not None:
            where.append(items_t.c.first_seen_at < flt.until)
        j: Any = deliveries_t
        if needs_items:
            j = j.join(items_t, items_t.c.id == d.item_id)
        counts_q = (
            sa.select(status.label("status"), sa.func.count())
            .select_from(j.outerjoin(r, reviewed))
            .where(*where)
            .group_by(sa.literal_column("status"))
        )
        # the same filters, driven from items in date order (see _ItemsFirst)
        pj: Any = _ItemsFirst(items_t, deliveries_t, sa.true()).outerjoin(r, reviewed)
        page_q = (
            sa.select(d.item_id, status.label("status"))
            .select_from(pj)
            .where(d.item_id == items_t.c.id, *where)
        )
        if flt.status:
            page_q = page_q.where(status == flt.status)
        page_q = (
            page_q.order_by(items_t.c.first_seen_at.desc(), items_t.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            counts = {s: int(n) for s, n in conn.execute(counts_q)}
            page = [(x.item_id, x.status) for x in conn.execute(page_q)]
            rows = self._queue_rows(conn, city_id, language, page)
        total = counts.get(flt.status, 0) if flt.status else sum(counts.values())
        return QueuePage(rows, total, counts)

    def _queue_rows(
        self, conn: Connection, city_id: str, language: str, page: list[tuple[int, str]]
    ) -> list[QueueRow]:
        if not page:
            return []
        d = deliveries_t.c
        t = translations_t.alias("t")
        v = versions_t.alias("v")
        shown = _shown_version()
        q = (
            sa.select(
                d.item_id,
                items_t.c.source_id,
                items_t.c.url,
                items_t.c.first_seen_at,
                d.state,
                shown.label("version"),
                v.c.title.label("original_title"),
                v.c.published_at,
                t.c.title,
                t.c.flags,
            )  # fmt: skip
            .select_from(
                deliveries_t.join(items_t, items_t.c.id == d.item_id)
                .join(v, sa.and_(v.c.item_id == d.item_id, v.c.version == shown))
                .outerjoin(
                    t,
                    sa.and_(
                        t.c.item_id == d.item_id, t.c.version == shown, t.c.language == language
                    ),
                )
            )
            .where(d.target_city == city_id, d.item_id.in_([i for i, _s in page]))
        )
        found = {x.item_id: x for x in conn.execute(q)}
        return [
            QueueRow(
                item_id=x.item_id,
                source_id=x.source_id,
                url=x.url,
                original_title=x.original_title,
                title=x.title,
                first_seen_at=x.first_seen_at,
                published=x.published_at,
                state=DeliveryState(x.state),
                status=status,
                version=x.version,
                flags=tuple(dict.fromkeys(f["kind"] for f in json.loads(x.flags or "[]"))),
            )
            for item_id, status in page
            if (x := found.get(item_id)) is not None
        ]

    @wrap_exceptions("reading a draft for the desk")
    def desk_draft(self, item_id: int, city_id: str, language: str) -> DeskDraft | None:
        """One item's draft for ``city_id`` (None when the city has no such delivery)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(deliveries_t).where(
                    deliveries_t.c.item_id == item_id, deliveries_t.c.target_city == city_id
                )
            ).first()
            if row is None or row.state == DeliveryState.SKIPPED.value:
                return None
            delivery = delivery_row(row)
            item = item_row(conn.execute(sa.select(items_t).where(items_t.c.id == item_id)).one())
            version = delivery.review_version or delivery.written_version or item.current_version
            original = _version(conn, item, version)
            review = conn.execute(
                sa.select(reviews_t).where(
                    reviews_t.c.item_id == item_id, reviews_t.c.target_city == city_id
                )
            ).first()
            text = conn.execute(
                sa.select(desk_texts_t).where(
                    desk_texts_t.c.item_id == item_id,
                    desk_texts_t.c.target_city == city_id,
                    desk_texts_t.c.version == version,
                )
            ).first()
        review_row = (
            None
            if review is None
            else ReviewRow(review.version, review.decision, review.editor, review.reason, review.at)
        )
        reviewed = None
        if review_row is not None and review_row.version != version:
            with self.engine.connect() as conn:
                reviewed = _version(conn, item, review_row.version)
        return DeskDraft(
            delivery=delivery,
            item=item,
            version=version,
            original=original,
            translation=self.translation(item_id, version, language),
            text=None if text is None else _text(text),
            review=review_row,
            reviewed_original=reviewed,
        )

    @wrap_exceptions("reading an editor's text")
    def desk_text(self, item_id: int, city_id: str, version: int) -> DeskText | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(desk_texts_t).where(
                    desk_texts_t.c.item_id == item_id,
                    desk_texts_t.c.target_city == city_id,
                    desk_texts_t.c.version == version,
                )
            ).first()
        return None if r is None else _text(r)

    @wrap_exceptions("saving an editor's text")
    def save_desk_text(self, text: DeskText, detail: str) -> None:
        """Keep the editor's working copy of a held draft (and audit it)."""
        values = {**text.__dict__, "edits": json.dumps(dict(text.edits), ensure_ascii=False)}
        key = (
            desk_texts_t.c.item_id == text.item_id,
            desk_texts_t.c.target_city == text.target_city,
            desk_texts_t.c.version == text.version,
        )
        with self.engine.begin() as conn:
            if not conn.execute(desk_texts_t.update().where(*key).values(**values)).rowcount:
                conn.execute(desk_texts_t.insert().values(**values))
            add_audit(
                conn, text.updated_at, text.target_city, text.editor, "edit",
                item_id=text.item_id, version=text.version, detail=detail,
            )  # fmt: skip

    @wrap_exceptions("recording an editor's decision")
    def apply_review(
        self,
        intent: ReviewIntent,
        now: datetime,
        *,
        language: str,
        corrections: Sequence[Correction] = (),
    ) -> None:
        """Apply an editor's decision whole: the delivery's state, the decision, the
        corrections it brings (approval) and the audit entry, in one transaction."""
        with self.engine.begin() as conn:
            update_delivery(conn, intent, now)
            match intent:
                case ReviewApproved():
                    _upsert_review(conn, intent, "approved", None, now)
                    detail, action = "", "approve"
                case ReviewRejected():
                    _upsert_review(conn, intent, "rejected", intent.reason, now)
                    detail, action = intent.reason, "reject"
                case ReviewReopened():
                    conn.execute(
                        translations_t.delete().where(
                            translations_t.c.item_id == intent.item_id,
                            translations_t.c.version == intent.version,
                            translations_t.c.language == intent.language,
                        )
                    )
                    detail, action = "", "retranslate"
            for c in corrections:
                _upsert_correction(conn, intent.target_city, language, c, intent.editor, now)
            if corrections:
                detail = (detail + f" ({len(corrections)} corrections remembered)").strip()
            add_audit(
                conn, now, intent.target_city, intent.editor, action,
                item_id=intent.item_id, version=intent.version, detail=detail,
            )  # fmt: skip

    @wrap_exceptions("counting drafts for a digest")
    def desk_news(self, city_id: str, since: datetime | None) -> tuple[int, int]:
        """(new, changed): drafts of the city that came into the desk, and reviewed
        ones whose source changed, since ``since`` (all when None)."""
        d = deliveries_t.c
        r = reviews_t.alias("r")
        status = _status_expr(r)
        j = deliveries_t.outerjoin(
            r, sa.and_(r.c.item_id == d.item_id, r.c.target_city == d.target_city)
        )
        where = [d.target_city == city_id, status.in_(["new", "changed"])]
        if since is not None:
            where.append(d.updated_at > since)
        q = sa.select(status, sa.func.count()).select_from(j).where(*where).group_by(status)
        with self.engine.connect() as conn:
            counts = {s: int(n) for s, n in conn.execute(q)}
        return counts.get("new", 0), counts.get("changed", 0)

    # -- corrections: the city's memory of editors' sentences

    @wrap_exceptions("reading editors' corrections")
    def corrections(self, city_id: str, sources: Sequence[str]) -> dict[str, CorrectionRow]:
        """The city's corrections of these (normalized) source sentences."""
        out: dict[str, CorrectionRow] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(dict.fromkeys(sources))):
                for r in conn.execute(
                    sa.select(corrections_t).where(
                        corrections_t.c.city_id == city_id, corrections_t.c.source.in_(chunk)
                    )
                ):
                    out[r.source] = CorrectionRow(
                        r.source, r.target, r.machine, r.editor, r.at, r.language
                    )
        return out

    @wrap_exceptions("listing editors' corrections")
    def all_corrections(self, city_id: str) -> list[CorrectionRow]:
        with self.engine.connect() as conn:
            return [
                CorrectionRow(r.source, r.target, r.machine, r.editor, r.at, r.language)
                for r in conn.execute(
                    sa.select(corrections_t)
                    .where(corrections_t.c.city_id == city_id)
                    .order_by(corrections_t.c.at)
                )
            ]

    @wrap_exceptions("listing approved drafts")
    def approved_drafts(
        self, city_id: str, limit: int = 50
    ) -> list[tuple[DeliveryRow, ItemRow, DeskText | None]]:
        """Drafts an editor approved for ``city_id`` that reached the target, newest
        decision first, with the editor's text of the approved version."""
        q = (
            sa.select(deliveries_t)
            .join(
                reviews_t,
                sa.and_(
                    reviews_t.c.item_id == deliveries_t.c.item_id,
                    reviews_t.c.target_city == deliveries_t.c.target_city,
                ),
            )
            .where(
                deliveries_t.c.target_city == city_id,
                reviews_t.c.decision == "approved",
                deliveries_t.c.state.in_(_REACHED),
            )
            .order_by(reviews_t.c.at.desc())
            .limit(limit)
        )
        out: list[tuple[DeliveryRow, ItemRow, DeskText | None]] = []
        with self.engine.connect() as conn:
            for r in conn.execute(q):
                d = delivery_row(r)
                it = item_row(
                    conn.execute(sa.select(items_t).where(items_t.c.id == d.item_id)).one()
                )
                text = conn.execute(
                    sa.select(desk_texts_t).where(
                        desk_texts_t.c.item_id == d.item_id,
                        desk_texts_t.c.target_city == city_id,
                        desk_texts_t.c.version == d.review_version,
                    )
                ).first()
                out.append((d, it, None if text is None else _text(text)))
        return out


def _version(conn: Connection, item: ItemRow, version: int) -> Item:
    v = conn.execute(
        sa.select(versions_t).where(
            versions_t.c.item_id == item.id, versions_t.c.version == version
        )
    ).one()
    return _item_from_version(item.source_id, item.key, item.url, v)


def _upsert_review(
    conn: Connection,
    intent: ReviewApproved | ReviewRejected,
    decision: str,
    reason: str | None,
    now: datetime,
) -> None:
    key = (reviews_t.c.item_id == intent.item_id, reviews_t.c.target_city == intent.target_city)
    values = dict(
        version=intent.version, decision=decision, editor=intent.editor, reason=reason, at=now
    )
    if not conn.execute(reviews_t.update().where(*key).values(**values)).rowcount:
        conn.execute(
            reviews_t.insert().values(
                item_id=intent.item_id, target_city=intent.target_city, **values
            )
        )


def _upsert_correction(
    conn: Connection, city_id: str, language: str, c: Correction, editor: str, now: datetime
) -> None:
    key = (corrections_t.c.city_id == city_id, corrections_t.c.source == c.source)
    values = dict(language=language, target=c.target, machine=c.machine, editor=editor, at=now)
    if not conn.execute(corrections_t.update().where(*key).values(**values)).rowcount:
        conn.execute(corrections_t.insert().values(city_id=city_id, source=c.source, **values))
