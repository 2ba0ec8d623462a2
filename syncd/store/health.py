"""Store domain: the health of each city's target: whether it is used (refused
credentials) and what passes saw of it (last success, last error, failing since)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..intents import TargetContact, TargetHealthChange
from ..models import TargetHealth
from .base import insert_or, wrap_exceptions
from .schema import schema_version, target_contacts_t, targets_t


class HealthMixin:
    engine: Engine

    @wrap_exceptions("reading a target's health")
    def target_health(self, city_id: str) -> TargetHealth:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(targets_t).where(targets_t.c.city_id == city_id)).first()
            c = conn.execute(
                sa.select(target_contacts_t).where(target_contacts_t.c.city_id == city_id)
            ).first()
        health = TargetHealth(city_id)
        if r is not None:
            health = TargetHealth(city_id, bool(r.healthy), r.reason, r.since, r.credential)
        if c is None:
            return health
        return TargetHealth(
            city_id,
            health.healthy,
            health.reason,
            health.since,
            health.credential,
            last_ok_at=c.last_ok_at,
            last_error=c.last_error,
            last_error_at=c.last_error_at,
            failing_since=c.failing_since,
            failures=c.failures,
        )

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

    @wrap_exceptions("recording a contact with a target")
    def apply_target_contact(self, contact: TargetContact, now: datetime) -> None:
        """A success stamps ``last_ok_at`` and ends a failing streak; a failure keeps
        the error, counts it and starts ``failing_since`` if it is not set."""
        t = target_contacts_t
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.city_id == contact.city_id)).first()
            if row is None:
                conn.execute(t.insert().values(city_id=contact.city_id, failures=0))
                since = None
            else:
                since = row.failing_since
            values: dict[str, Any]
            if contact.ok:
                values = dict(last_ok_at=now, failing_since=None, failures=0)
            else:
                values = dict(
                    last_error=contact.error,
                    last_error_at=now,
                    failing_since=since or now,
                    failures=t.c.failures + 1,
                )
            conn.execute(t.update().where(t.c.city_id == contact.city_id).values(**values))

    @wrap_exceptions("checking that the store is writable")
    def check_writable(self) -> None:
        """Take the write lock and write nothing new (``/healthz``): raises
        ``StoreError`` when the store is read-only, locked beyond the busy timeout,
        full or gone."""
        with self.engine.begin() as conn:
            conn.execute(schema_version.update().values(version=schema_version.c.version))
