"""syncd's exceptions. Contains no business logic.

Expected failures from the outside world are mapped, at one boundary each, to the most
specific class below, with the original exception chained (``raise ... from exc``).
Bugs (``TypeError``, ``KeyError``, …) are never wrapped: they stay loud.

    SyncdError
    ├── ConfigError(path, key)              bad or missing configuration
    ├── StoreError                          database unusable or schema too new
    │   ├── StoreBusy                       another process owns this state
    │   └── LeaseLost                       another replica took this work over
    ├── NetError(who, url)                  the net layer (syncd.net): network, HTTP
    │   │                                   status, size cap, refused address; its
    │   │                                   caller maps it at its own boundary (a
    │   │                                   source to FetchError, a target to a
    │   │                                   TargetError, the installer to ModelError)
    │   ├── RetryAfter(who, url, delay)     429/503 with Retry-After
    │   ├── NetOffline(who, url)            network unreachable, name not resolved:
    │   │                                   syncd's side, not the server's
    │   └── NetCancelled(who, url)          the client was stopped (shutdown)
    ├── SourceError(source_id)              one source failed as a whole
    │   ├── FetchError(url)                 network, HTTP status, size cap
    │   │   ├── RetryLater(url, delay)      429/503 with Retry-After
    │   │   ├── FetchOffline(url)           syncd is offline (no backoff)
    │   │   └── FetchCancelled(url)         syncd is stopping: not the source's fault
    │   ├── ParseError(url)                 the document could not be read
    │   └── SourceAlert(source_id, reason)  it answered, but not with news
    │                                       (layout changed, challenge page, login wall)
    ├── TranslateError                      a text could not be translated
    │   └── ModelMissing(from_code, to_code)
    ├── ModelError                          a model file is broken or unsafe
    ├── AlertError(channel)                 an operator alert could not be sent
    └── TargetError(target_id)              a push failed
        ├── TargetRetryable(delay)          timeout, 5xx, 429: try again later
        ├── TargetRejected                  the server refused this item (400): park it
        │   └── TargetGone(status)          an editor took the draft over meanwhile
        └── TargetAuthError                 401/403: stop using the target until fixed
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from .redact import redact_text, redact_url

if TYPE_CHECKING:
    from .models import RemoteStatus


class SyncdError(Exception):
    """Base of every error syncd raises on purpose."""


class ConfigError(SyncdError):
    def __init__(self, path: object, key: str, reason: str) -> None:
        self.path = str(path)
        self.key = key
        self.reason = reason
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {reason}")


class StoreError(SyncdError):
    pass


class LeaseLost(StoreError):
    """This process's lease on a row ended and another replica holds it now: the work
    is left to that replica (nothing is written)."""


class StoreBusy(StoreError):
    """Another process owns this state (one process per state, promise 10)."""


class NetError(SyncdError):
    """A request made through ``syncd.net`` failed. ``who`` names on whose behalf (a
    source or target id), ``reason`` says what went wrong without the URL."""

    def __init__(self, who: str, url: str, reason: str) -> None:
        self.who = who
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class NetOffline(NetError):
    """The network is unreachable or the name does not resolve: syncd itself is
    offline (or its DNS is), which says nothing about the server."""


class NetCancelled(NetError):
    """The client was stopped while the request ran (shutdown): nobody's fault."""


class RetryAfter(NetError):
    """The server answered 429/503 with a Retry-After: come back after ``delay``."""

    def __init__(self, who: str, url: str, reason: str, delay: timedelta) -> None:
        self.delay = delay
        super().__init__(who, url, reason)


class SourceError(SyncdError):
    """A source's failure. Its text reaches ``syncd sync``, ``status`` and the stored last
    error, so a URL in it never shows inline credentials (issue 9, item 13)."""

    def __init__(self, source_id: str, message: str) -> None:
        self.source_id = source_id
        super().__init__(redact_text(message))


class FetchError(SourceError):
    def __init__(self, source_id: str, url: str, message: str) -> None:
        self.url = redact_url(url)
        super().__init__(source_id, f"{url}: {message}")


class RetryLater(FetchError):
    def __init__(self, source_id: str, url: str, message: str, delay: timedelta) -> None:
        self.delay = delay
        super().__init__(source_id, url, message)


class FetchOffline(FetchError):
    """syncd could not reach the network (``NetOffline``): tried again at the source's
    interval, not backed off."""


class FetchCancelled(FetchError):
    """The HTTP client was stopped while the request ran (shutdown): record no failure."""


class ParseError(SourceError):
    def __init__(self, source_id: str, url: str, message: str) -> None:
        self.url = redact_url(url)
        super().__init__(source_id, f"{url}: {message}")


class SourceAlert(SourceError):
    """The source answered, but what it gave is not news: a human must look."""

    def __init__(self, source_id: str, reason: str, url: str | None = None) -> None:
        self.reason = redact_text(reason)  # shown as the source's alert
        self.url = redact_url(url) if url else url
        super().__init__(source_id, f"{reason}" + (f" ({url})" if url else ""))


class TranslateError(SyncdError):
    pass


class ModelMissing(TranslateError):
    def __init__(self, from_code: str, to_code: str, hint: str = "") -> None:
        self.from_code = from_code
        self.to_code = to_code
        msg = f"no installed model for {from_code}→{to_code}"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)


class ModelError(SyncdError):
    pass


class AlertError(SyncdError):
    """An operator alert could not be sent by ``channel`` (e-mail, webhook)."""

    def __init__(self, channel: str, reason: str) -> None:
        self.channel = channel
        super().__init__(f"alert by {channel}: {reason}")


class TargetError(SyncdError):
    def __init__(self, target_id: str, message: str) -> None:
        self.target_id = target_id
        super().__init__(f"{target_id}: {message}")


class TargetRetryable(TargetError):
    def __init__(self, target_id: str, message: str, delay: timedelta | None = None) -> None:
        self.delay = delay
        super().__init__(target_id, message)


class TargetRejected(TargetError):
    pass


class TargetAuthError(TargetError):
    pass


class TargetGone(TargetRejected):
    """The draft was taken over meanwhile (deleted, published, edited): hands off."""

    def __init__(self, target_id: str, message: str, status: RemoteStatus) -> None:
        self.status = status
        super().__init__(target_id, message)
