"""Store domain: the health of each city's target."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..intents import TargetHealthChange
from ..models import TargetHealth
from .base import insert_or, wrap_exceptions
from .schema import targets_t


class HealthMixin:
    engine: Engine

    @wrap_exceptions("reading a target's health")
    def target_health(self, city_id: str) -> TargetHealth:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(targets_t).where(targets_t.c.city_id == city_id)).first()
        if r is None:
            return TargetHealth(city_id)
        return TargetHealth(city_id, bool(r.healthy), r.reason, r.since, r.credential)

    @wrap_exceptions("recording a target's health")
    def apply_target_health(self, change: TargetHealthChange, now: datetime) -> None:
        values = dict(
            healthy=change.healthy, reason=change.reason, credential=change.credential, since=now
        )
        with self.engine.begin() as conn:  # replicas may record one change at once
            insert_or(
                conn,
                targets_t,
                dict(city_id=change.city_id, **values),
                keys=["city_id"],
                update=lambda new: {k: getattr(new, k) for k in values},
            )
