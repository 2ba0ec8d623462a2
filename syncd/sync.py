"""The pipeline: carries out what ``decide`` says; holds no policy of its own.

One source poll (``poll``)::

    row = store.source(id)
    try:    result = source.fetch(validators from row)
    except RetryLater:   record failure; next poll no sooner than Retry-After
    except SourceAlert:  record failure + alert (a human must look)
    except SourceError:  record failure; back off
    if 304: record "not-modified"
    else:
        change = decide.classify(each item against its stored hash)
        skip   = decide.echo_evidence / decide.first_activation_skips
        store.record_items(...)       # every item recorded before any other work
        source.acknowledge(result)
        record "ok", validators, next poll

Delivering (``deliver``), for the deliveries of some sources or all::

    open = store.open_deliveries()
    for each: action = decide.delivery_action(state, versions, due time, health)
    translate every (item, version, language) the actions need, in ONE batch
    for each action:
        CREATE:    mark CREATING (write-ahead) → target.create → mark PUSHED
        RECONCILE: target.find(marker) → adopt as PUSHED, or CREATE
        UPDATE:    target.inspect → OURS: target.update → PUSHED
                                  → else: EDITED/PUBLISHED/REJECTED, changed after review
        NOTE_REVIEWED: record "source updated after review"
    failures: decide.after_failure → retry later or park; 400 parks at once;
              401/403 marks the target unhealthy until its credentials change.

Expected failures (``SyncdError``) of one source, item or target are recorded and the
pass goes on (promise 5). Anything else is a bug and propagates.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import decide, logs
from .decide import Action, Change
from .draft import build_draft
from .errors import (
    ModelMissing,
    RetryLater,
    SourceAlert,
    SourceError,
    TargetAuthError,
    TargetError,
    TargetGone,
    TargetRejected,
    TargetRetryable,
    TranslateError,
)
from .models import DeliveryState, Item, Remote, RemoteStatus, Translation, marker_for
from .sources import SourceState
from .store import DeliveryRow, ItemRow
from .translate import TranslationRequest

if TYPE_CHECKING:
    from .app import App

log = logs.get("syncd.sync")


@dataclass
class PollResult:
    source_id: str
    ok: bool
    message: str
    new: int = 0
    changed: int = 0
    skipped: int = 0


@dataclass
class DeliverResult:
    created: int = 0
    updated: int = 0
    adopted: int = 0
    handed_off: int = 0
    failed: int = 0
    parked: int = 0
    waiting_for_models: int = 0
    errors: list[str] = field(default_factory=list)


def poll(app: App, source_id: str) -> PollResult:
    """Fetch one source and record what it gave; never raises for expected failures."""
    city, cfg = app.source_config(source_id)
    store, now = app.store, app.clock()
    row = store.source(source_id, city.id)
    source = app.source(source_id)
    state = SourceState(etag=row.etag, last_modified=row.last_modified)
    sync_cfg = app.config.sync
    try:
        result = source.fetch(state)
    except SourceError as exc:
        failures = row.consecutive_failures + 1
        retry_after = exc.delay if isinstance(exc, RetryLater) else None
        alert = exc.reason if isinstance(exc, SourceAlert) else None
        nxt = decide.next_poll(
            now, cfg.interval, cfg.jitter, app.rand(), failures=failures,
            retry_after=retry_after, max_delay=sync_cfg.max_poll_delay,
        )  # fmt: skip
        store.update_source(
            source_id,
            last_poll_at=now,
            last_result="alert" if alert else "error",
            consecutive_failures=failures,
            last_error=str(exc),
            alert=alert,
            next_poll_at=nxt,
        )
        if alert:
            store.bump(source_id, "alerts")
        log.warning(
            "poll-failed",
            source=source_id,
            error=str(exc),
            failures=failures,
            next_poll=nxt.isoformat(),
        )
        return PollResult(source_id, False, str(exc))

    nxt = decide.next_poll(
        now,
        cfg.interval,
        cfg.jitter,
        app.rand(),
        min_delay=result.min_delay,
        max_delay=sync_cfg.max_poll_delay,
    )
    if result.not_modified:
        store.update_source(
            source_id, last_poll_at=now, last_ok_at=now, last_result="not-modified",
            consecutive_failures=0, last_error=None, alert=None, next_poll_at=nxt,
            etag=result.etag, last_modified=result.last_modified,
        )  # fmt: skip
        log.info("not-modified", source=source_id, next_poll=nxt.isoformat())
        return PollResult(source_id, True, "not modified")

    known = store.items_by_keys(source_id, [i.key for i in result.items])
    seen: list[tuple[object, str]] = []
    new_items = []
    counts = {c: 0 for c in Change}
    for item in result.items:
        stored = known.get(item.key)
        change = decide.classify(
            stored.current_hash if stored else None,
            stored.hash_changes if stored else 0,
            item.content_hash(),
            sync_cfg.max_hash_updates,
        )
        counts[change] += 1
        if change is Change.NEW:
            new_items.append(item)
        seen.append((item, change.value))
    skips: dict[str, str] = {}
    if row.activated_at is None:
        skips.update(
            decide.first_activation_skips(
                new_items, now, sync_cfg.first_run_max_age, sync_cfg.first_run_max_items
            )
        )
    for item in new_items:
        if item.echo_marker:
            skips[item.key] = f"echo: syncd's own draft (marker {item.echo_marker})"
    partners = [p.id for p in app.config.partners(city.id)]
    store.record_items(city.id, seen, partners, skips, now)  # type: ignore[arg-type]
    source.acknowledge(result)
    notes = list(result.warnings) + list(result.entry_errors)
    alert = "; ".join(dict.fromkeys(result.alerts)) or None
    if alert and alert != row.alert:
        store.bump(source_id, "alerts")
    store.update_source(
        source_id,
        last_poll_at=now,
        last_ok_at=now,
        activated_at=row.activated_at or now,
        last_result="ok",
        consecutive_failures=0,
        last_error=None,
        alert=alert,
        warnings=json.dumps(notes, ensure_ascii=False) if notes else None,
        next_poll_at=nxt,
        etag=result.etag,
        last_modified=result.last_modified,
        items_seen=row.items_seen + counts[Change.NEW],
    )
    for note in result.entry_errors:
        log.warning("entry-dropped", source=source_id, reason=note)
    msg = f"{len(result.items)} items: {counts[Change.NEW]} new, {counts[Change.CHANGED]} changed, {len(skips)} skipped"
    log.info("polled", source=source_id, items=len(result.items), new=counts[Change.NEW],
             changed=counts[Change.CHANGED], capped=counts[Change.CAPPED], skipped=len(skips))  # fmt: skip
    return PollResult(source_id, True, msg, counts[Change.NEW], counts[Change.CHANGED], len(skips))


@dataclass
class _Work:
    delivery: DeliveryRow
    item: ItemRow
    action: Action
    content: Item | None = None  # the item's current version, once read


def deliver(
    app: App, source_ids: list[str] | None = None, *, stop: threading.Event | None = None
) -> DeliverResult:
    """Carry every due delivery (of ``source_ids``, or all) one step forward.

    ``stop`` is an optional ``threading.Event``: when set, the current item is
    finished and the rest is left for the next pass (graceful SIGTERM).
    """
    store, now, out = app.store, app.clock(), DeliverResult()
    rows: list[tuple[DeliveryRow, ItemRow]] = []
    if source_ids is None:
        rows = store.open_deliveries()
    else:
        for sid in source_ids:
            rows.extend(store.open_deliveries(sid))
    # asked once per target and pass, and turned off for the rest of the pass by a
    # 401/403: a target refusing our credentials is not hammered with every item
    healthy: dict[str, bool] = {}
    work: list[_Work] = []
    for d, it in rows:
        if d.target_city not in healthy:
            healthy[d.target_city] = app.target_healthy(d.target_city)
        action = decide.delivery_action(
            d.state, d.written_version, it.current_version, d.next_attempt_at,
            d.changed_after_review, healthy[d.target_city], now,
        )  # fmt: skip
        if action not in (Action.NOTHING, Action.WAIT):
            work.append(_Work(d, it, action))
    translations = _translate_all(
        app, [w for w in work if w.action is not Action.NOTE_REVIEWED], out
    )
    for n, w in enumerate(work):
        if stop is not None and stop.is_set():
            log.info("stopping", reason="signal", left=len(work) - n)
            break
        if not healthy[w.delivery.target_city] and w.action is not Action.NOTE_REVIEWED:
            continue
        try:
            _step(app, w, translations, out)
        except TargetAuthError as exc:
            healthy[w.delivery.target_city] = False
            app.mark_target_unhealthy(w.delivery.target_city, str(exc))
            out.failed += 1
            out.errors.append(str(exc))
        except TargetError as exc:
            _fail(app, w, exc, out)
    return out


def _translation_key(w: _Work, app: App) -> tuple[int, int, str]:
    return (w.item.id, w.item.current_version, app.config.city(w.delivery.target_city).language)


def _translate_all(
    app: App, work: list[_Work], out: DeliverResult
) -> dict[tuple[int, int, str], Translation | TranslateError]:
    """Every translation the work needs, from the store or in one batch."""
    store = app.store
    have: dict[tuple[int, int, str], Translation | TranslateError] = {}
    need: dict[tuple[int, int, str], TranslationRequest] = {}
    for w in work:
        key = _translation_key(w, app)
        if key in have or key in need:
            continue
        t = store.translation(*key)
        if t is not None:
            have[key] = t
            continue
        item = w.content = store.item_version(w.item.id, w.item.current_version)
        src_lang = app.config.city(w.item.city_id).language
        need[key] = TranslationRequest(
            ref=f"{w.item.id}:{w.item.current_version}:{key[2]}",
            source_language=src_lang,
            target_language=key[2],
            title=item.title,
            summary=item.summary,
            body_html=item.body_html,
        )
    if need:
        keys = list(need)
        results = app.translator.translate([need[k] for k in keys])
        now = app.clock()
        for k, r in zip(keys, results, strict=True):
            have[k] = r
            if isinstance(r, Translation):
                store.save_translation(k[0], k[1], r, now)
        log.info(
            "translated", requests=len(keys), ok=sum(isinstance(r, Translation) for r in results)
        )
    return have


def _step(
    app: App,
    w: _Work,
    translations: dict[tuple[int, int, str], Translation | TranslateError],
    out: DeliverResult,
) -> None:
    store, d, it = app.store, w.delivery, w.item
    now = app.clock()
    if w.action is Action.NOTE_REVIEWED:
        store.update_delivery(
            it.id, d.target_city, now, changed_after_review=True,
            note=f"source updated after review (version {it.current_version}, editors have v{d.written_version})",
        )  # fmt: skip
        log.info("changed-after-review", item=it.key, target=d.target_city, state=d.state.value)
        out.handed_off += 1
        return
    translation = translations.get(_translation_key(w, app))
    if isinstance(translation, ModelMissing):
        store.update_delivery(it.id, d.target_city, now, last_error=str(translation))
        out.waiting_for_models += 1
        return
    if isinstance(translation, TranslateError) or translation is None:
        _fail(app, w, translation or TranslateError("no translation"), out)
        return
    target = app.target(d.target_city)
    source_city = app.config.city(it.city_id)
    item = w.content or store.item_version(it.id, it.current_version)
    draft = build_draft(
        marker=marker_for(it.source_id, it.key, d.target_city),
        item=item,
        version=it.current_version,
        translation=translation,
        source_city=source_city,
        target_city=app.config.city(d.target_city),
    )
    action = w.action
    if action is Action.RECONCILE:
        found = target.find(draft)
        if found is not None:
            _record_written(app, w, found, d.written_version or it.current_version, "adopted")
            out.adopted += 1
            # an editor may have taken the draft over while syncd was down
            status = target.inspect(found) if target.inspectable else RemoteStatus.OURS
            if status is not RemoteStatus.OURS:
                _hand_off(app, w, status, changed=False)
            return
        action = Action.CREATE
    if action is Action.CREATE:
        # write-ahead: a crash after the remote create is reconciled, not re-created
        store.update_delivery(
            it.id,
            d.target_city,
            now,
            state=DeliveryState.CREATING,
            written_version=it.current_version,
        )
        remote = target.create(draft)
        _record_written(app, w, remote, it.current_version, "created")
        out.created += 1
        return
    if action is Action.UPDATE:
        remote = Remote(d.remote_id or "", d.fingerprint or "", d.remote_url)
        status = target.inspect(remote) if target.inspectable else RemoteStatus.OURS
        if status is not RemoteStatus.OURS:
            _hand_off(app, w, status, changed=True)
            out.handed_off += 1
            return
        try:
            new_remote = target.update(remote, draft)
        except TargetGone as exc:  # an editor got there between inspect and update
            _hand_off(app, w, exc.status, changed=True)
            out.handed_off += 1
            return
        _record_written(app, w, new_remote, it.current_version, "updated")
        out.updated += 1


_HANDS_OFF = {
    RemoteStatus.EDITED: DeliveryState.EDITED,
    RemoteStatus.PUBLISHED: DeliveryState.PUBLISHED,
    RemoteStatus.DELETED: DeliveryState.REJECTED,
}


def _hand_off(app: App, w: _Work, status: RemoteStatus, *, changed: bool) -> None:
    """An editor owns the draft now: never write it again (promise 3)."""
    d, it = w.delivery, w.item
    note = f"{status.value} by an editor"
    if changed:
        note += f"; source updated after review (version {it.current_version})"
    app.store.update_delivery(
        it.id,
        d.target_city,
        app.clock(),
        state=_HANDS_OFF[status],
        changed_after_review=changed,
        note=note,
    )
    log.info("hands-off", item=it.key, target=d.target_city, remote=status.value)


def _record_written(app: App, w: _Work, remote: Remote, version: int, event: str) -> None:
    d, it = w.delivery, w.item
    app.store.update_delivery(
        it.id, d.target_city, app.clock(),
        state=DeliveryState.PUSHED, written_version=version, remote_id=remote.remote_id,
        remote_url=remote.url, fingerprint=remote.fingerprint,
        written_hash=it.current_hash if version == it.current_version else d.written_hash,
        attempts=0, next_attempt_at=None, last_error=None,
    )  # fmt: skip
    log.info(
        event,
        item=it.key,
        source=it.source_id,
        target=d.target_city,
        remote_id=remote.remote_id,
        version=version,
    )


def _fail(app: App, w: _Work, exc: Exception, out: DeliverResult) -> None:
    d, it, now, cfg = w.delivery, w.item, app.clock(), app.config.sync
    out.errors.append(f"{it.key} → {d.target_city}: {exc}")
    # the state at failure time (CREATING stays CREATING: the create may have happened)
    current = app.store.delivery(it.id, d.target_city)
    state = current.state if current else d.state
    if isinstance(exc, TargetRejected):
        park, nxt = True, None
    else:
        retry_after = exc.delay if isinstance(exc, TargetRetryable) else None
        outcome = decide.after_failure(
            d.attempts,
            cfg.max_attempts,
            cfg.retry_base,
            cfg.retry_cap,
            now,
            app.rand(),
            retry_after,
        )
        park, nxt = outcome.park, outcome.next_attempt_at
    if park:
        app.store.update_delivery(
            it.id, d.target_city, now, state=DeliveryState.PARKED, parked_state=state.value,
            attempts=d.attempts + 1, last_error=str(exc), next_attempt_at=None,
        )  # fmt: skip
        out.parked += 1
        log.error(
            "parked", item=it.key, target=d.target_city, error=str(exc), attempts=d.attempts + 1
        )
    else:
        app.store.update_delivery(
            it.id,
            d.target_city,
            now,
            attempts=d.attempts + 1,
            last_error=str(exc),
            next_attempt_at=nxt,
        )
        out.failed += 1
        log.warning("push-failed", item=it.key, target=d.target_city, error=str(exc),
                    attempts=d.attempts + 1, retry_at=nxt.isoformat() if nxt else None)  # fmt: skip
