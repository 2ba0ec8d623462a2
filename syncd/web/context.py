"""What the web front door's routes may use of the running daemon. Contains no
business logic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..app import App


def _unknown() -> str:
    return "unknown"


def _alive() -> bool:
    return True


@dataclass
class WebContext:
    """The wired parts (``app``: config, store, clock, kinds, …) and the daemon's state.

    ``run_state`` answers the daemon's run state (``starting``, ``started``,
    ``stopping``, ``stopped``); ``scheduler_alive`` whether its scheduler still runs.
    Outside a daemon (tests, tools) they default to "unknown" and alive.
    """

    app: App
    run_state: Callable[[], str] = field(default=_unknown)
    scheduler_alive: Callable[[], bool] = field(default=_alive)
