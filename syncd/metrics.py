"""Prometheus metrics: counters the pipeline bumps, and gauges read from the store
when ``/metrics`` is scraped. Only this module imports ``prometheus_client``.

Each ``App`` has its own ``Metrics`` (its own registry, no global state), so tests and
several apps in one process never share counts. In-process counters start at zero
with the process (Prometheus's ``rate()`` handles restarts); what the store knows
(deliveries, queues, last success per source, alerts) is read at scrape time and
survives restarts.

    syncd_polls_total{source,result}              polls: ok, not-modified, error, alert
    syncd_items_total{source,kind}                items in polls: seen, new, changed
    syncd_delivery_steps_total{target,outcome}    created, updated, adopted, handed-off,
                                                  failed, parked, waiting-for-models
    syncd_translation_sentences_total{model}      sentences decoded (not from memory)
    syncd_translation_seconds_total{model}        seconds spent decoding
    syncd_model_memory_bytes{model}               models held in memory
    syncd_deliveries{target,state}                deliveries by state
    syncd_queue_depth{target}                     deliveries not written yet
    syncd_queue_in_backoff{target}                … of them waiting in backoff
    syncd_queue_oldest_seconds{target}            age of the oldest of them
    syncd_source_last_success_timestamp_seconds{source}
    syncd_source_consecutive_failures{source}
    syncd_source_alerts_total{source}             alerts raised by the source
    syncd_target_up{target}                       1 usable, 0 refused or unreachable
    syncd_problems{kind}                          what needs a person now (syncd.health)
    process_*                                     the process (memory, CPU, files)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Counter, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .health import Problem

if TYPE_CHECKING:
    from .config import Config
    from .store import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ReportsUsage(Protocol):
    """What a translator may tell about its models (``ArgosEngine`` does)."""

    def usage(self) -> dict[str, tuple[int, float]]: ...

    def loaded(self) -> dict[str, int]: ...


class _StateCollector(Collector):
    """Gauges from the store and the translator, read at each scrape."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Callable[[], datetime],
        translator: Callable[[], object | None],
        problems: Callable[[], list[Problem]],
    ) -> None:
        self.config, self.store, self.clock = config, store, clock
        self.translator, self.problems = translator, problems

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        yield from self._deliveries(now)
        yield from self._sources()
        yield from self._models()
        problems = GaugeMetricFamily(
            "syncd_problems", "What needs a person now, by kind (syncd.health)", labels=["kind"]
        )
        by_kind: dict[str, int] = {}
        for p in self.problems():
            by_kind[p.kind] = by_kind.get(p.kind, 0) + 1
        for kind, n in sorted(by_kind.items()):
            problems.add_metric([kind], n)
        yield problems

    def _deliveries(self, now: datetime) -> Iterator[Metric]:
        states = GaugeMetricFamily(
            "syncd_deliveries", "Deliveries by target and state", labels=["target", "state"]
        )
        for target, counts in sorted(self.store.delivery_counts().items()):
            for state, n in sorted(counts.items()):
                states.add_metric([target, state], n)
        depth = GaugeMetricFamily(
            "syncd_queue_depth", "Deliveries not written yet", labels=["target"]
        )
        backoff = GaugeMetricFamily(
            "syncd_queue_in_backoff", "Deliveries waiting in backoff", labels=["target"]
        )
        oldest = GaugeMetricFamily(
            "syncd_queue_oldest_seconds", "Age of the oldest delivery not written yet",
            labels=["target"],
        )  # fmt: skip
        up = GaugeMetricFamily(
            "syncd_target_up", "1 when the target is usable, 0 refused or unreachable",
            labels=["target"],
        )  # fmt: skip
        queues = self.store.target_queues()
        for city in self.config.cities:
            q = queues.get(city.id)
            depth.add_metric([city.id], q.waiting if q else 0)
            backoff.add_metric([city.id], q.in_backoff if q else 0)
            age = (now - q.oldest).total_seconds() if q and q.oldest else 0.0
            oldest.add_metric([city.id], max(0.0, age))
            h = self.store.target_health(city.id)
            up.add_metric([city.id], 1 if h.healthy and h.reachable else 0)
        yield from (states, depth, backoff, oldest, up)

    def _sources(self) -> Iterator[Metric]:
        last_ok = GaugeMetricFamily(
            "syncd_source_last_success_timestamp_seconds",
            "Unix time of the source's last successful poll", labels=["source"],
        )  # fmt: skip
        failing = GaugeMetricFamily(
            "syncd_source_consecutive_failures", "Failed polls in a row", labels=["source"]
        )
        alerts = CounterMetricFamily(
            "syncd_source_alerts", "Alerts the source raised", labels=["source"]
        )
        rows = {r.id: r for r in self.store.sources()}
        counters = self.store.counters()
        for _city, s in self.config.sources():
            r = rows.get(s.id)
            if r is not None and r.last_ok_at is not None:
                last_ok.add_metric([s.id], r.last_ok_at.timestamp())
            failing.add_metric([s.id], r.consecutive_failures if r else 0)
            alerts.add_metric([s.id], counters.get(s.id, {}).get("alerts", 0))
        yield from (last_ok, failing, alerts)

    def _models(self) -> Iterator[Metric]:
        sentences = CounterMetricFamily(
            "syncd_translation_sentences", "Sentences decoded by the model", labels=["model"]
        )
        seconds = CounterMetricFamily(
            "syncd_translation_seconds", "Seconds spent decoding", labels=["model"]
        )
        memory = GaugeMetricFamily(
            "syncd_model_memory_bytes", "Models held in memory (their size)", labels=["model"]
        )
        t = self.translator()
        usage = getattr(t, "usage", None)
        loaded = getattr(t, "loaded", None)
        if callable(usage) and callable(loaded):
            for model, (n, spent) in sorted(usage().items()):
                sentences.add_metric([model], n)
                seconds.add_metric([model], spent)
            for model, size in sorted(loaded().items()):
                memory.add_metric([model], size)
        yield from (sentences, seconds, memory)


class Metrics:
    """One app's metrics. The pipeline calls ``polled``/``delivery``; ``/metrics``
    calls ``watch`` once (what to read at scrape time) and ``exposition``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._polls = Counter(
            "syncd_polls", "Polls by source and result", ["source", "result"],
            registry=self.registry,
        )  # fmt: skip
        self._items = Counter(
            "syncd_items", "Items in successful polls: seen, new, changed", ["source", "kind"],
            registry=self.registry,
        )  # fmt: skip
        self._steps = Counter(
            "syncd_delivery_steps", "Delivery steps by target and outcome", ["target", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        ProcessCollector(registry=self.registry)
        self._watching = False

    def polled(
        self, source: str, result: str, seen: int = 0, new: int = 0, changed: int = 0
    ) -> None:
        self._polls.labels(source, result).inc()
        for kind, n in (("seen", seen), ("new", new), ("changed", changed)):
            if n:
                self._items.labels(source, kind).inc(n)

    def delivery(self, target: str, outcome: str) -> None:
        self._steps.labels(target, outcome).inc()

    def watch(
        self,
        config: Config,
        store: Store,
        clock: Callable[[], datetime],
        translator: Callable[[], object | None],
        problems: Callable[[], list[Problem]],
    ) -> None:
        """Read the store's state (and the translator's usage) at every scrape."""
        if not self._watching:
            self.registry.register(_StateCollector(config, store, clock, translator, problems))
            self._watching = True

    def exposition(self) -> bytes:
        """The Prometheus text format of everything."""
        return bytes(generate_latest(self.registry))
