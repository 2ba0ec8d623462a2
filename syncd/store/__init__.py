"""The store: the only package that speaks SQL (SQLAlchemy Core; SQLite by default).

Split by domain, after lemon24/reader's ``Storage(FeedsMixin, EntriesMixin, …)``;
add new methods to the module of their domain:

- ``schema``        tables, ``UTCDateTime``, migrations
- ``base``          the engine, opening and migrating, ``wrap_exceptions``, ``probe``
- ``owner``         one process per state: the SQLite owner lock
- ``sources``       source rows, poll outcomes, counters
- ``items``         items and versions; ``apply_poll`` records a whole poll
- ``aliases``       one item per article and city; other sources' aliases of it
- ``deliveries``    delivery rows; ``apply_delivery`` records one step
- ``translations``  translations and the translation memory
- ``inbound``       the queue of pushed items
- ``pages``         what page sources remember of article pages
- ``health``        target health
- ``leases``        row leases: several replicas share one PostgreSQL state
- ``alerts``        what the operator was told
- ``backup``        an online copy of a SQLite store
- ``editors``       the desk's editors, their sessions, the audit log
- ``desk``          the desk's queue, drafts, editors' texts, decisions, corrections

Contract: all datetimes in and out are timezone-aware UTC. Each public method is one
transaction, so a crash (or SIGKILL) between two calls leaves every row written whole
or not at all (SQLite in WAL mode, ``synchronous=NORMAL``). Every public method raises
``StoreError`` (naming the store and what was being done) for any database failure: a
locked database, a full disk, a corrupt file; nothing else escapes but bugs. Intents
come from ``syncd.decide``; the store applies them and decides nothing.
"""

from __future__ import annotations

from ..models import DeliveryRow, ItemRow, SourceRow, TargetHealth
from .alerts import AlertsMixin
from .aliases import AliasesMixin
from .backup import BackupMixin
from .base import StoreBase, display_url, probe, wrap_exceptions
from .deliveries import DeliveriesMixin
from .desk import DeskMixin
from .editors import EditorsMixin
from .health import HealthMixin
from .inbound import InboundMixin
from .items import ItemsMixin
from .leases import LeasesMixin
from .pages import PagesMixin
from .schema import SCHEMA_VERSION
from .sources import SourcesMixin
from .translations import TranslationsMixin

__all__ = [
    "SCHEMA_VERSION",
    "DeliveryRow",
    "ItemRow",
    "SourceRow",
    "Store",
    "TargetHealth",
    "display_url",
    "probe",
    "wrap_exceptions",
]


class Store(
    SourcesMixin,
    ItemsMixin,
    AliasesMixin,
    DeliveriesMixin,
    TranslationsMixin,
    InboundMixin,
    PagesMixin,
    HealthMixin,
    LeasesMixin,
    AlertsMixin,
    BackupMixin,
    EditorsMixin,
    DeskMixin,
    StoreBase,
):
    """SQL storage for sources, items, versions, translations and deliveries."""
