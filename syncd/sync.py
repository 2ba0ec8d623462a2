"""The pipeline: carries out what ``decide`` says; holds no policy of its own.

One source poll (``poll``), under the source's lease (one replica at a time)::

    if not store.take_source(lease, id): return       # another replica polls it now
    row = store.source(id)
    try:    result = source.fetch(validators from row)
    except SourceError as e:
        store.apply_poll(decide.poll_failed(row, e))    # backoff, Retry-After, alert
        return
    known  = store.items_by_keys(keys of result)
    city   = the city's holders of the other items' city keys, the source's aliases,
             their rows and current content          # one article, one item per city
    intent = decide.poll_succeeded(row, result, known, partners, city)
    store.apply_poll(intent)      # every item recorded before any other work, one transaction
    source.acknowledge(result)
    store.release_source(id)

Delivering (``deliver``), for the deliveries of some sources or all, in batches of
leased deliveries (one replica carries a delivery at a time)::

    while batch = store.claim_deliveries(lease, after the last batch):
      for each: action = decide.delivery_action(state, versions, due time, health,
                                                the target city's review, desk version)
      translate every (item, version, language) the actions need, in ONE batch
      for each action, each step recorded by store.apply_delivery(decide.…):
        HOLD:      hold_for_review (a desk city: the draft waits for an editor)
        (an approved draft carries the editor's text of the approved version)
        CREATE:    mark_creating (write-ahead, fenced by the lease) → target.create → written
        RECONCILE: target.find(marker) → written (adopted), or CREATE
        UPDATE:    target.inspect → OURS: target.update → written
                                  → else: hand_off (edited/published/rejected)
        NOTE_REVIEWED: note_reviewed ("source updated after review")
      failures: decide.after_delivery_failure → retry later or park;
                401/403: decide.target_refused until the credentials change.
      store.release_deliveries(batch)

Expected failures (``SyncdError``) of one source, item or target are recorded and the
pass goes on (promise 5). Anything else is a bug and propagates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from . import decide, logs, review
from .decide import Action
from .draft import build_draft, translatable_body
from .errors import (
    FetchCancelled,
    FetchOffline,
    LeaseLost,
    ModelMissing,
    RetryLater,
    SourceAlert,
    SourceError,
    StoreError,
    TargetAuthError,
    TargetError,
    TargetGone,
    TargetRejected,
    TargetRetryable,
    TranslateError,
)
from .intents import Park
from .models import (
    DeliveryRow,
    DeliveryState,
    Draft,
    FetchResult,
    Item,
    ItemRow,
    Remote,
    RemoteStatus,
    SourceRow,
    Translation,
    marker_for,
)
from .redact import redact_text
from .sources import SourceState
from .translate import TranslationRequest
from .translate.edit import normalize, remembered

if TYPE_CHECKING:
    from .app import App
    from .targets import Target

log = logs.get("syncd.sync")

#: deliveries claimed (and translated in one batch) at a time
DELIVERY_BATCH = 200


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
    held: int = 0  # translated and waiting in the editors' desk
    errors: list[str] = field(default_factory=list)


def _policy(app: App, source_id: str) -> decide.PollPolicy:
    _city, cfg = app.source_config(source_id)
    s = app.config.sync
    return decide.PollPolicy(
        interval=cfg.interval,
        jitter=cfg.jitter,
        max_poll_delay=s.max_poll_delay,
        max_hash_updates=s.max_hash_updates,
        first_run_max_age=s.first_run_max_age,
        first_run_max_items=s.first_run_max_items,
    )


def _failure(exc: SourceError) -> decide.SourceFailure:
    return decide.SourceFailure(
        str(exc),
        retry_after=exc.delay if isinstance(exc, RetryLater) else None,
        alert=exc.reason if isinstance(exc, SourceAlert) else None,
        offline=isinstance(exc, FetchOffline),
    )


def poll(app: App, source_id: str) -> PollResult:
    """Fetch one source and record what it gave; never raises for a fault of the source.

    Expected failures (``SourceError``) are recorded with backoff. So is anything else
    the source's fetch or its items raise (a bug, or hostile input nobody foresaw):
    promise 5 says one source's fault stays local, so it becomes that source's error
    and an alert, logged with its traceback, and is backed off like any failure. Only
    a ``StoreError`` (the state itself is unusable) propagates.
    """
    city, _cfg = app.source_config(source_id)
    if not app.store.take_source(app.lease_claim(), source_id, city.id):
        log.info("polled-elsewhere", source=source_id)
        return PollResult(source_id, True, "being polled by another replica")
    try:
        return _poll(app, source_id, city.id)
    finally:
        app.store.release_source(app.holder, source_id)


def _poll(app: App, source_id: str, city_id: str) -> PollResult:
    _city, cfg = app.source_config(source_id)
    store, now, policy = app.store, app.clock(), _policy(app, source_id)
    row = store.source(source_id, city_id)
    try:
        source = app.source(source_id)
        result = source.fetch(SourceState(etag=row.etag, last_modified=row.last_modified))
        keys = [i.key for i in result.items]
        known = {} if result.not_modified else store.items_by_keys(source_id, keys)
        items = _city_items(app, source_id, city_id, cfg.identity, result, known)
        partners = [p.id for p in app.config.partners(city_id)]
        d = decide.poll_succeeded(row, result, known, partners, policy, now, app.rand(), items)
        log.debug("poll-decided", source=source_id, new=d.new, changed=d.changed,
                  skipped=dict(d.skipped), capped=d.capped)  # fmt: skip
    except StoreError:
        raise
    except FetchCancelled as exc:  # syncd is stopping: not the source's fault, not recorded
        return PollResult(source_id, False, str(exc))
    except SourceError as exc:
        return _record_failure(app, row, policy, now, _failure(exc))
    except Exception as exc:
        log.exception("source-crashed", source=source_id, error=type(exc).__name__)
        name = type(exc).__name__
        failure = decide.SourceFailure(
            f"internal error while reading this source: {name}: {redact_text(str(exc))}",
            alert=f"syncd could not process this source ({name}); the log has the details",
        )
        return _record_failure(app, row, policy, now, failure)
    store.apply_poll(d.intent)
    source.acknowledge(result)
    app.metrics.polled(source_id, d.intent.source.result, len(result.items), d.new, d.changed)
    nxt = d.intent.source.next_poll_at.isoformat()
    if result.not_modified:
        log.info("not-modified", source=source_id, next_poll=nxt)
        return PollResult(source_id, True, "not modified")
    for note in result.entry_errors:
        log.warning("entry-dropped", source=source_id, reason=note)
    log.info("polled", source=source_id, items=len(result.items), new=d.new, changed=d.changed,
             capped=d.capped, skipped=len(d.skipped), next_poll=nxt)  # fmt: skip
    msg = f"{len(result.items)} items: {d.new} new, {d.changed} changed, {len(d.skipped)} skipped"
    return PollResult(source_id, True, msg, d.new, d.changed, len(d.skipped))


def _city_items(
    app: App,
    source_id: str,
    city_id: str,
    identity: str,
    result: FetchResult,
    known: dict[str, ItemRow],
) -> decide.CityItems:
    """What the city already holds that the result's items may be (for ``decide``)."""
    store = app.store
    others = [i for i in result.items if i.key not in known]
    aliases = store.aliases_by_keys(source_id, [i.key for i in others])
    unknown = [i for i in others if i.key not in aliases]
    holders = store.items_by_city_keys(city_id, decide.city_keys(unknown, identity))
    rows = store.items_by_ids([a.item_id for a in aliases.values()])
    rows.update((h.id, h) for h in holders.values())
    enriched = store.aliased([r.id for r in known.values()])
    contents = {i: store.item_version(i) for i in sorted(set(rows) | enriched)}
    return decide.CityItems(identity, aliases, holders, rows, contents)


def _record_failure(
    app: App, row: SourceRow, policy: decide.PollPolicy, now: datetime,
    failure: decide.SourceFailure,
) -> PollResult:  # fmt: skip
    failed = decide.poll_failed(row, failure, policy, now, app.rand())
    app.store.apply_poll(failed)
    app.metrics.polled(row.id, failed.source.result)
    log.warning("poll-failed", source=row.id, error=failure.message,
                failures=failed.source.failures, next_poll=failed.source.next_poll_at.isoformat())  # fmt: skip
    return PollResult(row.id, False, failure.message)


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
    store, out = app.store, DeliverResult()
    # asked once per target and pass, and turned off for the rest of the pass by a
    # 401/403: a target refusing our credentials is not hammered with every item
    healthy: dict[str, bool] = {}
    after: tuple[int, str] | None = None
    while not (stop is not None and stop.is_set()):
        rows = store.claim_deliveries(
            app.lease_claim(), source_ids=source_ids, after=after, limit=DELIVERY_BATCH
        )
        if not rows:
            break
        after = (rows[-1][0].item_id, rows[-1][0].target_city)
        try:
            _deliver_batch(app, rows, healthy, out, stop)
        finally:
            store.release_deliveries(app.holder, [(d.item_id, d.target_city) for d, _ in rows])
    return out


def _deliver_batch(
    app: App,
    rows: list[tuple[DeliveryRow, ItemRow]],
    healthy: dict[str, bool],
    out: DeliverResult,
    stop: threading.Event | None,
) -> None:
    now = app.clock()
    work: list[_Work] = []
    for d, it in rows:
        if d.target_city not in healthy:
            healthy[d.target_city] = app.target_healthy(d.target_city)
        action = decide.delivery_action(
            d.state, d.written_version, it.current_version, d.next_attempt_at,
            d.changed_after_review, healthy[d.target_city], now,
            desk=app.config.city(d.target_city).review == "desk",
            review_version=d.review_version, has_remote=d.remote_id is not None,
        )  # fmt: skip
        if action is not Action.NOTHING:
            log.debug("decided", item=it.key, target=d.target_city, state=d.state.value,
                      action=action.value, next_attempt=d.next_attempt_at)  # fmt: skip
        if action not in (Action.NOTHING, Action.WAIT):
            work.append(_Work(d, it, action))
    translations = _translate_all(
        app, [w for w in work if w.action is not Action.NOTE_REVIEWED], out
    )
    # what each step told about its target (reached, failed, not contacted), recorded
    # once per target at the end of the pass: "unreachable since" for 5xx and refused
    # connections too, not only for a 401
    contacts: dict[str, list[tuple[decide.ContactOutcome, str]]] = {}
    try:
        for n, w in enumerate(work):
            if stop is not None and stop.is_set():
                log.info("stopping", reason="signal", left=len(work) - n)
                break
            city = w.delivery.target_city
            if not healthy[city] and w.action not in (Action.NOTE_REVIEWED, Action.HOLD):
                continue
            outcome, error = decide.ContactOutcome.NONE, ""
            try:
                if _step(app, w, translations, out):
                    outcome = decide.ContactOutcome.ANSWERED
            except LeaseLost as exc:  # another replica carries it now: its work, not ours
                log.warning("lease-lost", item=w.item.key, target=city, error=str(exc))
            except TargetAuthError as exc:
                outcome, error = decide.ContactOutcome.FAILED, str(exc)
                healthy[city] = False
                app.mark_target_unhealthy(city, str(exc))
                app.metrics.delivery(city, "failed")
                app.store.apply_delivery(
                    decide.waiting_for_target(w.delivery, str(exc)), app.clock()
                )
                out.failed += 1
                out.errors.append(str(exc))
            except TargetError as exc:
                outcome, error = decide.contact_after(_failure_kind(exc)), str(exc)
                _fail(app, w, exc, out)
            contacts.setdefault(city, []).append((outcome, error))
    finally:
        now = app.clock()
        for city, outcomes in contacts.items():
            contact = decide.target_contact(city, outcomes)
            if contact is not None:
                app.store.apply_target_contact(contact, now)


def _translation_key(w: _Work, app: App) -> tuple[int, int, str]:
    version = decide.delivered_version(w.delivery, w.item)
    return (w.item.id, version, app.config.city(w.delivery.target_city).language)


def _translate_all(
    app: App, work: list[_Work], out: DeliverResult
) -> dict[tuple[int, int, str], Translation | TranslateError]:
    """Every translation the work needs, from the store or in one batch."""
    store = app.store
    have: dict[tuple[int, int, str], Translation | TranslateError] = {}
    need: dict[tuple[int, int, str], TranslationRequest] = {}
    city_of: dict[tuple[int, int, str], str] = {}
    for w in work:
        key = _translation_key(w, app)
        if key in have or key in need:
            continue
        city_of[key] = w.delivery.target_city
        t = store.translation(*key)
        if t is not None:
            have[key] = t
            continue
        item = w.content = store.item_version(w.item.id, key[1])
        src_lang = app.config.city(w.item.city_id).language
        need[key] = TranslationRequest(
            ref=f"{w.item.id}:{key[1]}:{key[2]}",
            source_language=src_lang,
            target_language=key[2],
            title=item.title,
            summary=item.summary,
            body_html=translatable_body(item),
        )
    if need:
        keys = list(need)
        results = app.translator.translate([need[k] for k in keys])
        now = app.clock()
        for k, r in zip(keys, results, strict=True):
            if isinstance(r, Translation):
                r = _with_corrections(app, city_of[k], need[k], r)
                store.save_translation(k[0], k[1], r, now)
            have[k] = r
        waiting = [r for r in results if isinstance(r, ModelMissing)]
        if waiting:  # said as such, not as translations that failed
            routes = sorted({f"{r.from_code}->{r.to_code}" for r in waiting})
            log.info("waiting-for-models", items=len(waiting), routes=",".join(routes))
        if len(waiting) < len(results):
            log.info("translated", requests=len(results) - len(waiting),
                     ok=sum(isinstance(r, Translation) for r in results))  # fmt: skip
    return have


def _with_corrections(
    app: App, city_id: str, req: TranslationRequest, t: Translation
) -> Translation:
    """Sentences the city's editors corrected before take the editor's version, marked
    (``translate.edit.remembered``)."""
    if not t.segments:
        return t
    found = app.store.corrections(city_id, [normalize(s.source) for s in t.segments])
    if not found:
        return t
    memory = {src: c.target for src, c in found.items()}
    return remembered(t, req.body_html, req.source_language, memory)


def _step(
    app: App,
    w: _Work,
    translations: dict[tuple[int, int, str], Translation | TranslateError],
    out: DeliverResult,
) -> bool:
    """One delivery one step forward; True when the step talked to the target."""
    store, d, it = app.store, w.delivery, w.item
    if w.action is Action.NOTE_REVIEWED:
        store.apply_delivery(decide.note_reviewed(d, it), app.clock())
        app.metrics.delivery(d.target_city, "noted-after-review")
        log.info("changed-after-review", item=it.key, target=d.target_city, state=d.state.value)
        out.handed_off += 1
        return False
    translation = translations.get(_translation_key(w, app))
    if isinstance(translation, ModelMissing):
        store.apply_delivery(decide.waiting_for_models(d, str(translation)), app.clock())
        app.metrics.delivery(d.target_city, "waiting-for-models")
        out.waiting_for_models += 1
        return False
    if isinstance(translation, TranslateError) or translation is None:
        _fail(app, w, translation or TranslateError("no translation"), out)
        return False
    if w.action is Action.HOLD:
        store.apply_delivery(decide.hold_for_review(d, it), app.clock())
        log.info("held-for-review", item=it.key, target=d.target_city, version=it.current_version)
        out.held += 1
        return False
    version = decide.delivered_version(d, it)
    if d.state is DeliveryState.APPROVED:
        text = store.desk_text(it.id, d.target_city, version)
        translation = review.approved_translation(
            translation, None if text is None else (text.title, text.summary, text.body_html)
        )
    target = app.target(d.target_city)
    item = w.content or store.item_version(it.id, version)
    draft = build_draft(
        marker=marker_for(it.source_id, it.key, d.target_city),
        item=item,
        version=version,
        translation=translation,
        source_city=app.config.city(it.city_id),
        target_city=app.config.city(d.target_city),
    )
    action = w.action
    if action is Action.RECONCILE:
        # before any first create, and after a crash mid-create: the draft may exist
        # already (a create the store never recorded, or a lost or restored store)
        found = target.find(draft)
        if found is not None:
            _adopt(app, w, target, found, draft, out)
            return True
        action = Action.CREATE
    if action is Action.CREATE:
        # write-ahead: a crash after the remote create is reconciled, not re-created
        store.apply_delivery(decide.mark_creating(d, it, version), app.clock(), holder=app.holder)
        remote = target.create(draft)
        _record_written(app, w, remote, version, "created")
        out.created += 1
        return True
    if action is Action.UPDATE:
        remote = Remote(d.remote_id or "", d.fingerprint or "", d.remote_url)
        status = target.inspect(remote) if target.inspectable else RemoteStatus.OURS
        if status is not RemoteStatus.OURS:
            _hand_off(app, w, status, changed=True)
            out.handed_off += 1
            return True
        try:
            new_remote = target.update(remote, draft)
        except TargetGone as exc:  # an editor got there between inspect and update
            _hand_off(app, w, exc.status, changed=True)
            out.handed_off += 1
            return True
        _record_written(app, w, new_remote, version, "updated")
        out.updated += 1
    return True


def _adopt(
    app: App, w: _Work, target: Target, found: Remote, draft: Draft, out: DeliverResult
) -> None:
    """A draft with our marker exists: adopt it in whatever state an editor left it
    (promise 9). Trashed or deleted → rejected, published or edited → hands off; an
    untouched one is brought to the current version."""
    d, it = w.delivery, w.item
    version = decide.delivered_version(d, it)
    _record_written(app, w, found, d.written_version or version, "adopted")
    out.adopted += 1
    status = target.inspect(found) if target.inspectable else RemoteStatus.OURS
    if status is not RemoteStatus.OURS:
        _hand_off(app, w, status, changed=False)
        return
    if target.inspectable:
        try:
            remote = target.update(found, draft)
        except TargetGone as exc:  # an editor got there meanwhile
            _hand_off(app, w, exc.status, changed=False)
            return
        _record_written(app, w, remote, version, "updated")


def _hand_off(app: App, w: _Work, status: RemoteStatus, *, changed: bool) -> None:
    """An editor owns the draft now: never write it again (promise 3)."""
    intent = decide.hand_off(w.delivery, w.item, status, changed=changed)
    app.store.apply_delivery(intent, app.clock())
    app.metrics.delivery(w.delivery.target_city, "handed-off")
    log.info("hands-off", item=w.item.key, target=w.delivery.target_city, remote=status.value)


def _record_written(app: App, w: _Work, remote: Remote, version: int, event: str) -> None:
    d, it = w.delivery, w.item
    intent = decide.written(d, it, version, remote.remote_id, remote.url, remote.fingerprint)
    app.store.apply_delivery(intent, app.clock())
    app.metrics.delivery(d.target_city, event)
    log.info(event, item=it.key, source=it.source_id, target=d.target_city,
             remote_id=remote.remote_id, version=version)  # fmt: skip


def _failure_kind(exc: Exception) -> decide.FailureKind:
    if isinstance(exc, TargetRejected):
        return decide.FailureKind.REJECTED
    return decide.FailureKind.RETRYABLE


def _fail(app: App, w: _Work, exc: Exception, out: DeliverResult) -> None:
    d, it, now, cfg = w.delivery, w.item, app.clock(), app.config.sync
    out.errors.append(f"{it.key} → {d.target_city}: {exc}")
    # the state at failure time (CREATING stays CREATING: the create may have happened)
    current = app.store.delivery(it.id, d.target_city)
    intent = decide.after_delivery_failure(
        d, current.state if current else d.state, _failure_kind(exc), str(exc),
        exc.delay if isinstance(exc, TargetRetryable) else None,
        decide.RetryPolicy(cfg.max_attempts, cfg.retry_base, cfg.retry_cap), now, app.rand(),
    )  # fmt: skip
    app.store.apply_delivery(intent, now)
    app.metrics.delivery(d.target_city, "parked" if isinstance(intent, Park) else "failed")
    if isinstance(intent, Park):
        out.parked += 1
        log.error(
            "parked", item=it.key, target=d.target_city, error=str(exc), attempts=intent.attempts
        )
    else:
        out.failed += 1
        log.warning("push-failed", item=it.key, target=d.target_city, error=str(exc), attempts=intent.attempts,
                    retry_at=intent.next_attempt_at.isoformat() if intent.next_attempt_at else None)  # fmt: skip
