"""Where drafts go: one module per target kind behind the ``Target`` protocol.

A kind module (``outbox``, ``wordpress``, ``webhook``) provides ``Options``, a frozen
dataclass of the kind's own config keys, and ``make(city, http: httpx.Client | None,
clock) -> Target``; its entry in ``syncd.kinds.TABLE`` says what it needs.

Only ``syncd.net``, this package and ``syncd.sources`` touch httpx; nothing here
imports ``syncd.sources``.
"""

from __future__ import annotations

from typing import Protocol

from ..models import Draft, Remote, RemoteStatus


class Target(Protocol):
    """A partner city's platform that receives drafts.

    Contract (tests/targets/test_contract.py runs it against every kind):

    - ``create(draft)`` makes a new draft and returns where it is and the fingerprint
      of what was written. It never publishes.
    - ``find(draft)`` looks the draft up by its marker (``draft.marker``): used after a
      crash between the remote create and the local record, so that the post is
      adopted instead of created twice. ``None`` when there is none.
    - ``inspect(remote)`` tells whether the remote copy is still exactly what syncd
      last wrote (``OURS``) or an editor touched, published or deleted it.
    - ``update(remote, draft)`` rewrites a draft that ``inspect`` reported as ``OURS``.

    All raise ``syncd.errors.TargetError`` subclasses for expected failures
    (``TargetRetryable``, ``TargetRejected``, ``TargetAuthError``). Nothing here ever
    deletes remote content.
    """

    id: str
    #: False for fire-and-forget targets (webhook) that cannot see editors' work.
    inspectable: bool

    def create(self, draft: Draft) -> Remote: ...

    def find(self, draft: Draft) -> Remote | None: ...

    def inspect(self, remote: Remote) -> RemoteStatus: ...

    def update(self, remote: Remote, draft: Draft) -> Remote: ...

    def close(self) -> None: ...


#: one live check: what was checked, and the problem (None: ok)
Probe = tuple[str, str | None]


class Probeable(Protocol):
    """A target that ``syncd check --live`` can contact with its credentials."""

    def probe(self) -> list[Probe]:
        """Every live check, ok or not; raises nothing for the target's own faults."""
        ...
