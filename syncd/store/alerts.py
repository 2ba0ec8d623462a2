"""Store domain: what the operator was told (``syncd.alerts``)."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..intents import OperatorAlerts
from ..models import OperatorAlertRow
from .base import wrap_exceptions
from .schema import operator_alerts_t


class AlertsMixin:
    engine: Engine

    @wrap_exceptions("reading the operator's alerts")
    def operator_alerts(self) -> dict[str, OperatorAlertRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(operator_alerts_t)).all()
        names = [f.name for f in fields(OperatorAlertRow)]
        return {r.key: OperatorAlertRow(**{n: r._mapping[n] for n in names}) for r in rows}

    @wrap_exceptions("recording the operator's alerts")
    def apply_operator_alerts(self, intent: OperatorAlerts, now: datetime) -> None:
        """Apply one check's updates in one transaction (after its message was sent)."""
        t = operator_alerts_t
        with self.engine.begin() as conn:
            for u in intent.updates:
                values: dict[str, Any] = dict(
                    kind=u.kind, subject=u.subject, message=u.message, active=u.active,
                    raise_sent=u.active and u.notify,
                )  # fmt: skip
                if u.active:
                    values["since"] = now
                if u.notify:
                    values["sent_at"] = now
                n = conn.execute(t.update().where(t.c.key == u.key).values(**values)).rowcount
                if not n:
                    conn.execute(t.insert().values(key=u.key, **values))
