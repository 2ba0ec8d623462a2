"""Pure: what a poll means (new / changed / capped items, partners' deliveries, echo and
first-activation skips, one item per article and city, the next poll).

Part of ``syncd.decide`` (see its docstring): no I/O, no clock, no randomness of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..identity import city_key, enrich
from ..intents import (
    ChangedItem,
    NewAlias,
    NewDelivery,
    NewItem,
    PollIntent,
    SourcePolled,
)
from ..models import (
    MARKER_RE,
    SLUG_RE,
    AliasRow,
    FetchResult,
    Item,
    ItemRow,
    SourceRow,
)
from .timing import next_poll


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
