"""Where drafts go: one module per target kind behind the ``Target`` protocol.

A kind module (``outbox``, ``wordpress``, ``webhook``) provides:

- ``Options``: a frozen dataclass of the kind's own config keys;
- ``make(city: CityConfig, http: httpx.Client | None, clock) -> Target``.

Only ``syncd.net``, this package and ``syncd.sources`` touch httpx; nothing here
imports ``syncd.sources``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from ..models import Draft, Remote, RemoteStatus

if TYPE_CHECKING:
    import httpx

    from ..config import CityConfig

KINDS: dict[str, str] = {
    "outbox": "syncd.targets.outbox",
    "webhook": "syncd.targets.webhook",
    "wordpress": "syncd.targets.wordpress",
}


def kind_module(kind: str) -> ModuleType:
    return importlib.import_module(KINDS[kind])


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


def make_target(
    city: CityConfig, http: httpx.Client | None, clock: Callable[[], datetime]
) -> Target:
    module = kind_module(city.target.kind)
    result: Target = module.make(city, http, clock)
    return result
