"""The frozen dataclass of each top-level section of the config file (``[http]``,
``[storage]``, ``[models]``, …), with the value types their keys use (``Duration``,
``Secret``). Contains no business logic; ``syncd.config`` parses a file into these and
re-exports them.

Every key is explained by a comment in config/syncd.toml (tests/test_docs.py checks it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from .errors import ConfigError

DEFAULT_INDEX_URL = "https://raw.githubusercontent.com/argosopentech/argospm-index/main/"
_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class Duration(timedelta):
    """A timedelta written as ``"15m"``, ``"1h30m"``, ``"2d"``, ``"45s"``."""


def parse_duration(text: str) -> timedelta:
    m = _DURATION_RE.match(text.strip()) if isinstance(text, str) else None
    if not m or not any(m.groups()):
        raise ValueError(f'expected a duration like "15m", "1h30m", "2d", got {text!r}')
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


@dataclass(frozen=True)
class Secret:
    """A reference to a secret; ``resolve()`` reads it. ``repr`` never shows a value."""

    env: str | None = None
    file: Path | None = None
    where: str = ""

    def resolve(self) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError(self.where, "", f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                self.where, "", f"cannot read secret file {self.file}: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return f"Secret(env={self.env!r})" if self.env else f"Secret(file={str(self.file)!r})"


@dataclass(frozen=True)
class HttpConfig:
    contact: str = "https://github.com/syncd/syncd"
    timeout: Duration = field(default_factory=lambda: Duration(seconds=30))
    #: total time for one request (connect, headers, body, redirects), however slowly
    #: the server answers
    deadline: Duration = field(default_factory=lambda: Duration(seconds=60))
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    #: allow requests to loopback/private addresses (tests, intranet sources)
    allow_private: bool = False
    #: minimum delay between two requests to one site (host and port, not address)
    host_delay: Duration = field(default_factory=lambda: Duration(seconds=1))
    respect_robots: bool = True


@dataclass(frozen=True)
class StorageConfig:
    url: str = "sqlite:///state/syncd.db"
    #: how long a write waits for another writer before "locked by another process"
    busy_timeout: Duration = field(default_factory=lambda: Duration(seconds=10))
    #: how long a replica's claim on a source or delivery holds unless renewed (it is
    #: renewed every third of this while the replica lives); a replica that dies loses
    #: its work to the others after this long (PostgreSQL; docs/scaling.md)
    lease: Duration = field(default_factory=lambda: Duration(minutes=2))
    #: the database password by reference, put into ``url`` when the store is opened
    #: (PostgreSQL; never written into the URL in this file; unused with SQLite)
    password: Secret | None = None


@dataclass(frozen=True)
class ModelsConfig:
    dir: Path = Path("models")
    index_url: str = DEFAULT_INDEX_URL
    beam_size: int = 2
    #: "auto" (CUDA when CTranslate2 finds a GPU, else CPU), "cpu" or "cuda"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    #: "auto" or a CTranslate2 compute type; auto: chosen for the device
    #: (syncd/translate/settings.py)
    compute_type: str = "auto"
    #: batches decoded in parallel and threads per batch; 0: chosen for the machine
    inter_threads: int = 0
    intra_threads: int = 0
    max_batch_tokens: int = 768


@dataclass(frozen=True)
class SyncConfig:
    first_run_max_age: Duration = field(default_factory=lambda: Duration(days=14))
    first_run_max_items: int = 20
    max_hash_updates: int = 24
    max_attempts: int = 8
    retry_base: Duration = field(default_factory=lambda: Duration(minutes=1))
    retry_cap: Duration = field(default_factory=lambda: Duration(hours=6))
    max_poll_delay: Duration = field(default_factory=lambda: Duration(days=31))
    #: threads the daemon polls on: sources never wait for each other
    workers: int = 4


@dataclass(frozen=True)
class EngineConfig:
    """What translates: the installed Argos models (``local``), or a LibreTranslate
    (compatible) server pool (``libretranslate``) while segmentation, glossary
    masking, memory and checks stay in syncd (docs/scaling.md)."""

    kind: Literal["local", "libretranslate"] = "local"
    #: the server's base URL (libretranslate): "http://libretranslate:5000"
    url: str = ""
    #: its API key, when the server asks for one
    api_key: Secret | None = None
    #: total time for one request (a batch of sentences of one language leg)
    timeout: Duration = field(default_factory=lambda: Duration(seconds=120))


#: the ``[translate] engine`` kinds, and whether each talks to a server at ``url``
ENGINE_NEEDS_URL: Mapping[str, bool] = {"local": False, "libretranslate": True}


@dataclass(frozen=True)
class TranslateConfig:
    glossary: Path | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)


@dataclass(frozen=True)
class WebConfig:
    #: "host:port" of the daemon's web front door (desk, inbound pushes, /healthz,
    #: /metrics); empty: no listener
    listen: str = ""
    #: path prefix a reverse proxy serves syncd under (e.g. "/syncd")
    root_path: str = ""
    #: addresses whose X-Forwarded-For/-Proto headers are trusted (the proxy's)
    forwarded_allow_ips: str = "127.0.0.1"


@dataclass(frozen=True)
class HealthConfig:
    #: a source with no successful poll within this many of its intervals (and
    #: failing) makes `syncd status` and /healthz say so
    stale_polls: int = 3


@dataclass(frozen=True)
class AlertsConfig:
    """Operator alerts (``syncd.alerts``): e-mail over SMTP, a signed webhook, or both;
    every key is explained in config/syncd.toml."""

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_user: str = ""
    smtp_password: Secret | None = None
    mail_from: str = "syncd@localhost"
    mail_to: tuple[str, ...] = ()
    webhook_url: str = ""
    webhook_secret: Secret | None = None
    min_interval: Duration = field(default_factory=lambda: Duration(minutes=5))
    repeat_after: Duration = field(default_factory=lambda: Duration(hours=6))
    timeout: Duration = field(default_factory=lambda: Duration(seconds=30))

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_host or self.webhook_url)


@dataclass(frozen=True)
class DeskConfig:
    """The editors' desk on the web front door (``/desk``)."""

    #: how long a sign-in lasts; the editor signs in again after it
    session_lifetime: Duration = field(default_factory=lambda: Duration(hours=8))
    #: failed sign-ins allowed for one editor name within ``throttle_window``
    max_failures_per_account: int = 5
    #: failed sign-ins allowed from one address within ``throttle_window``
    max_failures_per_address: int = 20
    #: how long failed sign-ins count
    throttle_window: Duration = field(default_factory=lambda: Duration(minutes=15))
    #: drafts on one page of the queue
    page_size: int = 50
    #: the desk's address for links in e-mails ("https://…/desk"); "": from [web] listen
    url: str = ""
    #: at most one e-mail digest per editor per this period
    digest_every: Duration = field(default_factory=lambda: Duration(hours=24))


@dataclass(frozen=True)
class SmtpConfig:
    """Where the desk's e-mail digests go out."""

    #: the mail server; empty: no digests are sent
    host: str = ""
    #: 587 with ``starttls``, 465 with ``tls``, 25 for a local relay
    port: int = 587
    #: upgrade the connection with STARTTLS (refuse to send if the server cannot)
    starttls: bool = True
    #: implicit TLS from the first byte (port 465)
    tls: bool = False
    #: the account to sign in with; empty: no sign-in (a local relay)
    username: str = ""
    #: its password by reference, never inline
    password: Secret | None = None
    #: the From address of digests
    sender: str = "syncd@localhost"
    #: seconds a connection may take
    timeout: Duration = field(default_factory=lambda: Duration(seconds=30))


@dataclass(frozen=True)
class LogConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"
