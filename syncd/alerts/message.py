"""What an operator alert says, and the ``Channel`` protocol that sends it. Contains
no business logic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ..intents import AlertUpdate
from ..redact import redact_text


@dataclass(frozen=True)
class Message:
    """One alert message: what was raised and what recovered, at ``at``."""

    raised: tuple[AlertUpdate, ...]
    recovered: tuple[AlertUpdate, ...]
    at: datetime

    @property
    def subject(self) -> str:
        parts = []
        if self.raised:
            parts.append(f"{len(self.raised)} need a person")
        if self.recovered:
            parts.append(f"{len(self.recovered)} recovered")
        first = (self.raised or self.recovered)[0].message
        return redact_text(f"syncd: {', '.join(parts)}: {first}")[:200]

    def text(self) -> str:
        lines = [f"syncd at {self.at.isoformat(timespec='seconds')}", ""]
        if self.raised:
            lines.append("Needs a person:")
            lines += [f"  - {u.message}" for u in self.raised]
        if self.recovered:
            lines.append("Recovered:")
            lines += [f"  - {u.message}" for u in self.recovered]
        lines += ["", "`syncd status` tells the whole state."]
        return redact_text("\n".join(lines)) + "\n"

    def document(self) -> dict[str, object]:
        def one(u: AlertUpdate) -> dict[str, str]:
            return {"kind": u.kind, "subject": u.subject, "message": redact_text(u.message)}

        return {
            "type": "syncd.alert",
            "timestamp": self.at.isoformat(timespec="seconds"),
            "data": {
                "raised": [one(u) for u in self.raised],
                "recovered": [one(u) for u in self.recovered],
                "summary": self.subject,
            },
        }


class Channel(Protocol):
    """Sends one message; raises ``AlertError`` (``syncd.errors``) when it cannot."""

    name: str

    def send(self, message: Message) -> None: ...
