"""Pure decisions of the editors' desk: what an editor may do with a draft, and when.

Part of ``syncd.decide``'s transition policy, kept in its own module for size; like
it, this module does no I/O and keeps no clock. It gets the stored delivery row and
returns an intent (``syncd.intents.ReviewIntent``) that the store applies whole,
together with the audit entry, or a ``ReviewRefused`` naming why not.

    held ──approve──► approved ──(next delivery step)──► creating ─► pushed
      │ ▲                 │                                             │
      │ └──retranslate─┐  └──reject──► rejected ◄──reject── held        │
      │                │                 │                              │
      └─(source changed: held again)     └─(source changed: noted)      │
                                                     source changed ◄───┘
                                                     (held again in the desk)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from .intents import ReviewApproved, ReviewIntent, ReviewRejected, ReviewReopened
from .models import DeliveryRow, DeliveryState, ItemRow, Translation


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    RETRANSLATE = "retranslate"


@dataclass(frozen=True)
class ReviewRefused:
    """An editor's decision that cannot be taken in the draft's state. ``reason`` is
    a code the desk shows in the editor's language: ``not-in-desk``,
    ``changed-meanwhile`` (the source changed since the page was loaded),
    ``reason-required`` (a rejection needs a reason)."""

    reason: str


def editable(d: DeliveryRow, version: int) -> ReviewRefused | None:
    """Whether an editor may edit the text of ``version`` now (it is in the desk)."""
    if d.state is not DeliveryState.HELD or d.review_version is None:
        return ReviewRefused("not-in-desk")
    if d.review_version != version:
        return ReviewRefused("changed-meanwhile")
    return None


def review_decision(
    d: DeliveryRow,
    item: ItemRow,
    decision: Decision,
    version: int,
    editor: str,
    language: str,
    reason: str = "",
) -> ReviewIntent | ReviewRefused:
    """An editor's decision on the draft of ``version`` (the one their page showed).

    Approve: only a held draft, and only the version held (a source change meanwhile
    is refused: the editor sees the new version first). Reject: a held or approved
    draft not yet handed to the target, with a reason. Re-translate: a held draft or
    one rejected in the desk; the current version is translated again.
    """
    if decision is Decision.RETRANSLATE:
        desk_rejected = d.state is DeliveryState.REJECTED and d.written_version is None
        if d.state is not DeliveryState.HELD and not desk_rejected:
            return ReviewRefused("not-in-desk")
        return ReviewReopened(d.item_id, d.target_city, item.current_version, language, editor)
    if d.review_version != version:
        return ReviewRefused("changed-meanwhile")
    if decision is Decision.APPROVE:
        if d.state is not DeliveryState.HELD:
            return ReviewRefused("not-in-desk")
        return ReviewApproved(d.item_id, d.target_city, version, editor)
    if d.state not in (DeliveryState.HELD, DeliveryState.APPROVED):
        return ReviewRefused("not-in-desk")
    if not reason.strip():
        return ReviewRefused("reason-required")
    return ReviewRejected(d.item_id, d.target_city, version, editor, reason.strip())


def approved_translation(machine: Translation, edited: tuple[str, str, str] | None) -> Translation:
    """What the target receives for an approved draft: the editor's title, summary
    and body when they edited it (else the machine translation), without quality
    flags: an editor has looked, so no "please check" note goes with it."""
    if edited is None:
        return replace(machine, flags=())
    title, summary, body_html = edited
    return replace(machine, title=title, summary=summary, body_html=body_html, flags=())
