"""Pure decisions: all policy of state transitions lives here.

Does not interact with any dependency, only processes data: no I/O, no clock (``now``
is an argument), no randomness of its own (``rand`` is an argument in [0, 1)). It gets
the stored rows and returns intents (``syncd.intents``) that the store applies whole;
``sync`` carries them out and holds no policy itself. What is decided here:

- a poll: new / changed / unchanged / capped items, which partners get a delivery
  and which are skipped (first activation, echo), which items are another source's
  article and enrich it (one item per article and city), the source's next poll
  time and backoff (none while syncd is offline), alerts (``poll_succeeded``,
  ``poll_failed``);
- a delivery: the next action (``delivery_action``), the write-ahead, what was
  written, hand-off to an editor, failure → retry or park, 400 → park at once
  (``after_delivery_failure``);
- a target's health: a 401/403 makes it unhealthy until its credentials change
  (``target_refused``, ``target_usable``, ``target_retried``); what a pass's
  contact with it tells (``target_contact``);
- leases (several replicas on one PostgreSQL): how long a claim holds and who may
  take a lease another process left (``lease_claim``).

- the editors' desk (a city with ``review = "desk"``): a translated draft is held
  there (``Action.HOLD``, ``hold_for_review``) and goes to the target only once an
  editor approved it; a source change after review sends it back to the desk. What
  an editor may do with a draft in which state is in ``syncd.review``.

What to tell the operator is decided in ``syncd.health`` (``operator_alerts``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .identity import city_key, enrich
from .intents import (
    ChangedItem,
    HandOff,
    HoldForReview,
    LeaseClaim,
    MarkCreating,
    NewAlias,
    NewDelivery,
    NewItem,
    NoteReviewed,
    Park,
    PollIntent,
    RecordFailure,
    RecordWritten,
    SourcePolled,
    TargetContact,
    TargetHealthChange,
    WaitForModels,
    WaitForTarget,
)
from .models import (
    MARKER_RE,
    SLUG_RE,
    AliasRow,
    DeliveryRow,
    DeliveryState,
    FetchResult,
    Item,
    ItemRow,
    RemoteStatus,
    SourceRow,
    TargetHealth,
)


class Change(enum.StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    CAPPED = "capped"  # content changed again, but this item already changed too often


def classify(
    stored_hash: str | None, hash_changes: int, new_hash: str, max_hash_updates: int
) -> Change:
    """New, changed, unchanged, or changed-but-capped (a feed that changes on every
    fetch must not cause endless updates)."""
    if stored_hash is None:
        return Change.NEW
    if stored_hash == new_hash:
        return Change.UNCHANGED
    if hash_changes >= max_hash_updates:
        return Change.CAPPED
    return Change.CHANGED


def echo_evidence(*texts: str | None) -> str | None:
    """syncd's own marker in any of the texts (raw body, link, guid), or None."""
    for t in texts:
        if not t:
            continue
        m = MARKER_RE.search(t) or SLUG_RE.search(t)
        if m:
            return m.group(1)
    return None


def first_activation_skips(
    items: Sequence[Item], now: datetime, max_age: timedelta, max_items: int
) -> dict[str, str]:
    """On a source's first successful poll, which item keys to skip and why.

    Only items newer than ``max_age`` are taken, at most ``max_items`` of them, so
    that turning on a source does not flood the partner with its archive. Dated
    items go first, newest first; undated ones (some portals give no dates) fill the
    remaining places in the source's own order, which lists the newest first.
    """
    skips: dict[str, str] = {}
    cutoff = now - max_age
    fresh = [i for i in items if i.published is not None and i.published >= cutoff]
    fresh.sort(key=lambda i: i.published or now, reverse=True)
    undated = [i for i in items if i.published is None]
    keep = {i.key for i in (fresh + undated)[:max_items]}
    for i in items:
        if i.key in keep:
            continue
        if i.published is not None and i.published < cutoff:
            skips[i.key] = f"first activation: older than {_fmt(max_age)}"
        else:
            skips[i.key] = f"first activation: beyond the newest {max_items}"
    return skips


def _fmt(d: timedelta) -> str:
    if d.days and not d.seconds:
        return f"{d.days} days"
    return str(d)


class Action(enum.StrEnum):
    NOTHING = "nothing"
    WAIT = "wait"  # a retry is scheduled later
    CREATE = "create"  # (only after RECONCILE found nothing)
    # a create may have happened (a crash mid-create, a lost or restored store): look
    # the draft up by its marker, adopt it as an editor left it, or create it
    RECONCILE = "reconcile"
    UPDATE = "update"  # the item changed; rewrite the draft if still ours
    NOTE_REVIEWED = "note-reviewed"  # changed after an editor took over: record, don't write
    HOLD = "hold"  # translate the current version and hold it in the editors' desk


def delivery_action(
    state: DeliveryState,
    written_version: int | None,
    current_version: int,
    next_attempt_at: datetime | None,
    changed_after_review: bool,
    target_healthy: bool,
    now: datetime,
    *,
    desk: bool = False,
    review_version: int | None = None,
    has_remote: bool = False,
) -> Action:
    """What to do next for one item at one target.

    ``desk``: the target city reviews in the editors' desk, so a new or changed item
    is held there (``HOLD``) instead of written; ``review_version`` is the version the
    desk holds or approved; ``has_remote``: a draft of an earlier version is at the
    target (an approved new version updates it, if still untouched there).
    """
    if state in (DeliveryState.SKIPPED, DeliveryState.PARKED):
        return Action.NOTHING
    if state.hands_off:
        if written_version is None:  # rejected in the desk: never written anywhere
            if (
                review_version is not None
                and current_version > review_version
                and not changed_after_review
            ):
                return Action.NOTE_REVIEWED
            return Action.NOTHING
        if current_version > written_version and not changed_after_review:
            return Action.NOTE_REVIEWED
        return Action.NOTHING
    if desk and _needs_review(state, written_version, current_version, review_version):
        if next_attempt_at is not None and next_attempt_at > now:
            return Action.WAIT
        return Action.HOLD
    if state is DeliveryState.HELD and (desk or review_version is None):
        return Action.NOTHING  # waits for an editor (or has nothing held yet)
    if not target_healthy:
        return Action.WAIT
    if next_attempt_at is not None and next_attempt_at > now:
        return Action.WAIT
    if state is DeliveryState.APPROVED:
        # an approved first version is created (looked up first, as every create);
        # an approved later version rewrites the draft if still syncd's there
        return Action.UPDATE if has_remote else Action.RECONCILE
    if state in (DeliveryState.CREATING, DeliveryState.PENDING, DeliveryState.HELD):
        # never create without looking first: a store that was lost, reset or
        # restored from an old backup knows nothing of drafts made meanwhile (promise 9)
        # (HELD here: the city no longer reviews in the desk; the draft goes out as now)
        return Action.RECONCILE
    if state is DeliveryState.PUSHED and (written_version or 0) < current_version:
        return Action.UPDATE
    return Action.NOTHING


def _needs_review(
    state: DeliveryState, written: int | None, current: int, review_version: int | None
) -> bool:
    """A desk city's draft that must be (re)translated and held for an editor: new,
    changed at the source while held, or changed after it reached the target."""
    if state is DeliveryState.PENDING:
        return True
    if state is DeliveryState.HELD:
        return review_version is None or review_version < current
    return state is DeliveryState.PUSHED and (written or 0) < current


def backoff(attempt: int, base: timedelta, cap: timedelta, rand: float) -> timedelta:
    """Exponential backoff with full jitter in [50 %, 100 %] of the step, capped.

    ``attempt`` counts from 1 (the delay after the first failure is about ``base``).
    """
    step = base * (2 ** min(max(attempt - 1, 0), 30))
    step = min(step, cap)
    delay: timedelta = step * (0.5 + 0.5 * rand)
    return delay


@dataclass(frozen=True)
class FailureOutcome:
    park: bool
    next_attempt_at: datetime | None


def after_failure(
    attempts_so_far: int,
    max_attempts: int,
    base: timedelta,
    cap: timedelta,
    now: datetime,
    rand: float,
    retry_after: timedelta | None = None,
) -> FailureOutcome:
    """One more failed attempt: park after ``max_attempts``, else back off
    (never sooner than a server's Retry-After)."""
    n = attempts_so_far + 1
    if n >= max_attempts:
        return FailureOutcome(True, None)
    delay = backoff(n, base, cap, rand)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return FailureOutcome(False, _safe_add(now, delay))


def next_poll(
    now: datetime,
    interval: timedelta,
    jitter: float,
    rand: float,
    *,
    failures: int = 0,
    retry_after: timedelta | None = None,
    min_delay: timedelta | None = None,
    max_delay: timedelta = timedelta(days=31),
) -> datetime:
    """When to poll a source next.

    The interval, spread by ``±jitter`` so that sources do not fire in lockstep;
    doubled per consecutive failure (up to 2**6, so a dead source is still tried a few
    times a day); never before the server's Retry-After or the feed's own cache hint;
    never beyond ``max_delay``.
    """
    delay = interval * (1 + jitter * (2 * rand - 1))
    if failures:
        delay = delay * (2 ** min(failures, 6))
    for floor in (retry_after, min_delay):
        if floor is not None:
            delay = max(delay, floor)
    return _safe_add(now, min(delay, max_delay))


def _safe_add(now: datetime, delay: timedelta) -> datetime:
    """``now + delay`` that cannot overflow the calendar (a hostile hint is capped)."""
    try:
        return now + delay
    except OverflowError:
        return datetime.max.replace(tzinfo=now.tzinfo)


# --------------------------------------------------------------------------- polls


@dataclass(frozen=True)
class PollPolicy:
    """The settings a poll's decisions depend on (one source's, plus ``[sync]``)."""

    interval: timedelta
    jitter: float = 0.1
    max_poll_delay: timedelta = timedelta(days=31)
    max_hash_updates: int = 24
    first_run_max_age: timedelta = timedelta(days=14)
    first_run_max_items: int = 20


@dataclass(frozen=True)
class SourceFailure:
    """A poll that failed as a whole: the message, the server's Retry-After, and the
    alert reason when a human must look (layout changed, challenge page, …)."""

    message: str
    retry_after: timedelta | None = None
    alert: str | None = None
    #: syncd itself could not reach the network (unreachable, no DNS): not the
    #: source's fault, so no backoff
    offline: bool = False


def echo_reason(marker: str) -> str:
    return f"echo: syncd's own draft (marker {marker})"


def poll_failed(
    row: SourceRow, failure: SourceFailure, policy: PollPolicy, now: datetime, rand: float
) -> PollIntent:
    """Record a failed poll: one more failure, backed-off next poll, alert if any.
    Offline (syncd's network, not the source): the next poll at the interval, so a
    machine that starts without network catches up soon after it has one."""
    failures = row.consecutive_failures + 1
    nxt = next_poll(
        now, policy.interval, policy.jitter, rand, failures=0 if failure.offline else failures,
        retry_after=failure.retry_after, max_delay=policy.max_poll_delay,
    )  # fmt: skip
    return PollIntent(
        SourcePolled(
            source_id=row.id,
            city_id=row.city_id,
            at=now,
            result="alert" if failure.alert else "error",
            next_poll_at=nxt,
            failures=failures,
            ok=False,
            error=failure.message,
            alert=failure.alert,
            count_alert=failure.alert is not None,
        )
    )


@dataclass(frozen=True)
class CityItems:
    """What the city already holds that a poll's items may be (cross-source identity).

    ``identity`` is the source's pattern (``syncd.identity.city_key``); ``aliases``
    the source's items that are aliases already, by key; ``holders`` the city's items
    by city key (for the poll's unknown items); ``rows`` the stored rows of every item
    an alias or holder points to, by id; ``contents`` the current content of those
    items and of the source's own items that another source enriched, by id.
    """

    identity: str = ""
    aliases: Mapping[str, AliasRow] = field(default_factory=dict)
    holders: Mapping[str, ItemRow] = field(default_factory=dict)
    rows: Mapping[int, ItemRow] = field(default_factory=dict)
    contents: Mapping[int, Item] = field(default_factory=dict)


def city_keys(items: Sequence[Item], identity: str) -> list[str]:
    """The city keys of ``items`` that have one (to look up their holders)."""
    return [k for i in items if (k := city_key(i, identity)) is not None]


@dataclass(frozen=True)
class PollDecision:
    """``poll_succeeded``'s answer: the intent, plus counts for the report."""

    intent: PollIntent
    capped: int
    skipped: Mapping[str, str]  # item key → reason

    @property
    def new(self) -> int:
        return len(self.intent.new)

    @property
    def changed(self) -> int:
        return len(self.intent.changed)


def poll_succeeded(
    row: SourceRow,
    result: FetchResult,
    known: Mapping[str, ItemRow],
    partners: Sequence[str],
    policy: PollPolicy,
    now: datetime,
    rand: float,
    city: CityItems | None = None,
) -> PollDecision:
    """Classify every item against what is stored and decide what to record.

    New items get a delivery per partner (``pending``, or ``skipped`` for an echo of
    syncd's own draft or, on the source's first successful poll, an item too old or
    beyond the cap). Changed items get a new version (capped per item). A repeated key
    within one answer counts once (the first occurrence wins).

    One article, one item per city (``city``): an unknown item whose city key another
    source's item holds becomes an alias of it, without deliveries of its own (a
    partner gets one draft, promise 1); what it adds (``syncd.identity.enrich``) is a
    new version of the holder, as is what an alias adds when its content changes. An
    item another source enriched keeps what was added when its own source polls.
    """
    city = city or CityItems()
    merged: dict[int, Item] = {}  # holder id → its content enriched by this poll's aliases
    aliases: list[NewAlias] = []

    def add_to(holder_id: int, extra: Item) -> None:
        base = merged.get(holder_id) or city.contents.get(holder_id)
        if base is not None:
            merged[holder_id] = enrich(base, extra)

    nxt = next_poll(
        now, policy.interval, policy.jitter, rand,
        min_delay=result.min_delay, max_delay=policy.max_poll_delay,
    )  # fmt: skip
    validators = (result.etag, result.last_modified)
    if result.not_modified:
        source = SourcePolled(
            row.id, row.city_id, now, "not-modified", nxt, 0, ok=True, validators=validators
        )
        return PollDecision(PollIntent(source), 0, {})
    new_items: list[tuple[Item, str]] = []
    changed: list[ChangedItem] = []
    seen: list[int] = []
    capped = 0
    keys: set[str] = set()
    for item in result.items:
        if item.key in keys:
            continue
        keys.add(item.key)
        h = item.content_hash()
        stored = known.get(item.key)
        if stored is None:
            alias = city.aliases.get(item.key)
            holder = city.holders.get(city_key(item, city.identity) or "")
            if alias is not None:
                if alias.content_hash != h:  # the alias changed: it may add more
                    aliases.append(NewAlias(row.id, item.key, alias.item_id, h))
                    add_to(alias.item_id, item)
            elif holder is not None and holder.source_id != row.id:
                aliases.append(NewAlias(row.id, item.key, holder.id, h))
                add_to(holder.id, item)
            else:
                new_items.append((item, h))
            continue
        if stored.id in city.contents:  # enriched by another source: keep what it added
            item = enrich(item, city.contents[stored.id])
            h = item.content_hash()
        change = classify(
            stored.current_hash if stored else None,
            stored.hash_changes if stored else 0,
            h,
            policy.max_hash_updates,
        )
        if change is Change.CHANGED:
            changed.append(
                ChangedItem(stored.id, stored.current_version + 1, item, h, stored.hash_changes + 1)
            )
        else:
            capped += change is Change.CAPPED
            seen.append(stored.id)
    skips: dict[str, str] = {}
    if row.activated_at is None:
        skips.update(
            first_activation_skips(
                [i for i, _h in new_items],
                now,
                policy.first_run_max_age,
                policy.first_run_max_items,
            )  # fmt: skip
        )
    for item, _h in new_items:
        if item.echo_marker:
            skips[item.key] = echo_reason(item.echo_marker)
    new = tuple(
        NewItem(
            item,
            h,
            tuple(NewDelivery(p, skips.get(item.key)) for p in partners),
            city_key(item, city.identity),
        )
        for item, h in new_items
    )
    for holder_id, content in merged.items():
        held = city.rows.get(holder_id)
        if held is None or content == city.contents.get(holder_id):
            continue  # nothing added
        mh = content.content_hash()
        # a date or categories added leave the hash as it was, and are a change too
        before = held.current_hash if mh != held.current_hash else ""
        change = classify(before, held.hash_changes, mh, policy.max_hash_updates)
        if change is Change.CHANGED:
            version = held.current_version + 1
            changed.append(ChangedItem(held.id, version, content, mh, held.hash_changes + 1))
        capped += change is Change.CAPPED
    alert = "; ".join(dict.fromkeys(result.alerts)) or None
    source = SourcePolled(
        source_id=row.id,
        city_id=row.city_id,
        at=now,
        result="ok",
        next_poll_at=nxt,
        failures=0,
        ok=True,
        alert=alert,
        warnings=tuple(result.warnings) + tuple(result.entry_errors),
        validators=validators,
        activate=row.activated_at is None,
        new_items=len(new),
        count_alert=alert is not None and alert != row.alert,
    )
    intent = PollIntent(source, new, tuple(changed), tuple(seen), tuple(aliases))
    return PollDecision(intent, capped, skips)


# ---------------------------------------------------------------------- deliveries


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)


class FailureKind(enum.StrEnum):
    RETRYABLE = "retryable"  # timeouts, 5xx, 429, a broken translation: try again later
    REJECTED = "rejected"  # the target refused this item (400): retrying cannot help


def mark_creating(d: DeliveryRow, item: ItemRow, version: int | None = None) -> MarkCreating:
    """Write-ahead of the create of ``version`` (default: the item's current one; an
    approved draft: the version the editor approved)."""
    return MarkCreating(d.item_id, d.target_city, version or item.current_version)


def hold_for_review(d: DeliveryRow, item: ItemRow) -> HoldForReview:
    """The current version, translated, waits in the desk for an editor."""
    return HoldForReview(d.item_id, d.target_city, item.current_version)


def delivered_version(d: DeliveryRow, item: ItemRow) -> int:
    """Which version a delivery step writes: the approved one for an approved draft
    (the editor's text is of that version), else the item's current one."""
    if d.state is DeliveryState.APPROVED and d.review_version is not None:
        return d.review_version
    return item.current_version


def written(
    d: DeliveryRow,
    item: ItemRow,
    version: int,
    remote_id: str,
    remote_url: str | None,
    fingerprint: str,
) -> RecordWritten:
    """What syncd wrote (or adopted): the content hash only when it is the current
    version's (an adopted older version keeps the hash it had)."""
    return RecordWritten(
        d.item_id,
        d.target_city,
        version,
        remote_id,
        remote_url,
        fingerprint,
        item.current_hash if version == item.current_version else d.written_hash,
    )


_HANDS_OFF = {
    RemoteStatus.EDITED: DeliveryState.EDITED,
    RemoteStatus.PUBLISHED: DeliveryState.PUBLISHED,
    RemoteStatus.DELETED: DeliveryState.REJECTED,
}


def hand_off(d: DeliveryRow, item: ItemRow, status: RemoteStatus, *, changed: bool) -> HandOff:
    """An editor touched, published or deleted the draft: hands off for good.
    ``changed``: the source had changed too (recorded as "source updated after review")."""
    note = f"{status.value} by an editor"
    if changed:
        note += f"; source updated after review (version {item.current_version})"
    return HandOff(d.item_id, d.target_city, _HANDS_OFF[status], changed, note)


def note_reviewed(d: DeliveryRow, item: ItemRow) -> NoteReviewed:
    return NoteReviewed(
        d.item_id,
        d.target_city,
        f"source updated after review (version {item.current_version}, "
        f"editors have v{d.written_version})",
    )


def waiting_for_models(d: DeliveryRow, reason: str) -> WaitForModels:
    return WaitForModels(d.item_id, d.target_city, reason)


def waiting_for_target(d: DeliveryRow, reason: str) -> WaitForTarget:
    return WaitForTarget(d.item_id, d.target_city, reason)


def after_delivery_failure(
    d: DeliveryRow,
    state_now: DeliveryState,
    kind: FailureKind,
    error: str,
    retry_after: timedelta | None,
    policy: RetryPolicy,
    now: datetime,
    rand: float,
) -> RecordFailure | Park:
    """One more failed attempt. A refused item (400) parks at once; otherwise back off
    and park after ``max_attempts``. Parking keeps the state at failure time so that
    ``syncd retry`` resumes there (CREATING stays CREATING: the create may have
    happened and must be reconciled, not repeated)."""
    attempts = d.attempts + 1
    if kind is FailureKind.REJECTED:
        return Park(d.item_id, d.target_city, state_now, attempts, error)
    outcome = after_failure(
        d.attempts, policy.max_attempts, policy.base, policy.cap, now, rand, retry_after
    )
    if outcome.park:
        return Park(d.item_id, d.target_city, state_now, attempts, error)
    return RecordFailure(d.item_id, d.target_city, attempts, error, outcome.next_attempt_at)


# ------------------------------------------------------------------- target health


def target_refused(city_id: str, reason: str, credential: str | None) -> TargetHealthChange:
    """A 401/403 (or an unusable target config): unhealthy until the credentials
    change. ``credential`` is a hash of the refused credentials (None: none known)."""
    return TargetHealthChange(city_id, False, reason, credential or "none")


def target_usable(
    health: TargetHealth, credential: str | None
) -> tuple[bool, TargetHealthChange | None]:
    """Whether to use a target now, and the change to record if it turns healthy
    again (its credentials differ from the ones that were refused)."""
    if health.healthy:
        return True, None
    if health.credential is not None and health.credential != credential:
        return True, TargetHealthChange(health.city_id, True)
    return False, None


def target_retried(health: TargetHealth) -> TargetHealthChange | None:
    """``syncd retry --now``: a refused target is tried again (a person fixed the
    user's role or the plugin; the credentials themselves may be unchanged)."""
    return None if health.healthy else TargetHealthChange(health.city_id, True)


class ContactOutcome(enum.StrEnum):
    """What one step tells about a target (not about the item)."""

    ANSWERED = "answered"  # a 2xx, or a refusal of this one item (400): it is up
    FAILED = "failed"  # refused connection, timeout, 5xx, 401/403: it is not usable
    NONE = "none"  # the step never reached the target (a translation failed)


def contact_after(kind: FailureKind) -> ContactOutcome:
    """A refusal of one item (400) is an answer: the target is up. Anything else that
    failed (refused connection, timeout, 5xx, 429) says it is not usable now."""
    return ContactOutcome.ANSWERED if kind is FailureKind.REJECTED else ContactOutcome.FAILED


def target_contact(
    city_id: str, outcomes: Sequence[tuple[ContactOutcome, str]]
) -> TargetContact | None:
    """What a pass records of its contact with one target: the last outcome that
    reached (or tried to reach) it; None when the pass never contacted it."""
    for outcome, error in reversed(outcomes):
        if outcome is ContactOutcome.ANSWERED:
            return TargetContact(city_id)
        if outcome is ContactOutcome.FAILED:
            return TargetContact(city_id, error)
    return None


# --------------------------------------------------------------------------- leases

#: on a state with one owner, every lease of another holder is void
_NEVER_EXPIRED = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LeasePolicy:
    """``ttl``: how long a claim holds unless renewed (the daemon renews its leases
    every ``ttl / 3`` while it lives). ``skew``: how much the clocks of two replicas
    may differ. ``shared``: several processes work on the state (PostgreSQL); False
    when one process owns it (SQLite's owner lock)."""

    ttl: timedelta = timedelta(minutes=2)
    skew: timedelta = timedelta(seconds=5)
    shared: bool = True


def lease_claim(holder: str, now: datetime, policy: LeasePolicy) -> LeaseClaim:
    """Claim leases for ``holder`` now.

    Who may take a lease: its holder at any time (a renewal); anyone else once it
    ended more than ``skew`` ago, so a replica that died (SIGKILL, a lost machine)
    loses its work to the others after ``ttl`` at most, while a living one whose clock
    runs a little behind is not robbed. On a state with one owner (SQLite) anyone may
    take any lease: a lease there can only be left by an earlier, dead process.
    """
    free_before = now - policy.skew if policy.shared else _NEVER_EXPIRED
    return LeaseClaim(holder, now, _safe_add(now, policy.ttl), free_before)
