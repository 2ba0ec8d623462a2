"""What ``syncd sources test`` shows beyond the items themselves: per item, which of
the city's other sources already holds it, and what first activation would do with it.

Reads the state, never writes it: ``store`` is the real state when there is one
(``None`` otherwise: nothing is held yet, the source was never activated). The
decisions are ``decide``'s own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from . import decide
from .config import Config
from .identity import city_key
from .models import FetchResult
from .store import Store


@dataclass(frozen=True)
class Preview:
    #: item key → "<source id> (<its key>)" of the item that already holds it
    held_by: Mapping[str, str]
    #: item key → why first activation would skip it (only while never activated)
    first_run_skips: Mapping[str, str]


def preview(
    config: Config, store: Store | None, source_id: str, result: FetchResult, now: datetime
) -> Preview:
    city, cfg = next((c, s) for c, s in config.sources() if s.id == source_id)
    keys = [i.key for i in result.items]
    held: dict[str, str] = {}
    activated = False
    if store is not None:
        activated = any(r.id == source_id and r.activated_at for r in store.sources())
        aliases = store.aliases_by_keys(source_id, keys)
        rows = store.items_by_ids([a.item_id for a in aliases.values()])
        for key, a in aliases.items():
            if a.item_id in rows:
                held[key] = f"{rows[a.item_id].source_id} ({rows[a.item_id].key})"
        wanted = decide.city_keys(list(result.items), cfg.identity)
        holders = store.items_by_city_keys(city.id, wanted)
        for item in result.items:
            h = holders.get(city_key(item, cfg.identity) or "")
            if h is not None and h.source_id != source_id and item.key not in held:
                held[item.key] = f"{h.source_id} ({h.key})"
    skips: Mapping[str, str] = {}
    if not activated:
        s = config.sync
        skips = decide.first_activation_skips(
            list(result.items), now, s.first_run_max_age, s.first_run_max_items
        )
    return Preview(held, skips)
