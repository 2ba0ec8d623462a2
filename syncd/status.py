"""What ``syncd status`` and ``syncd check`` report. Reads the store and the config;
decides nothing and writes nothing (``check`` only probes that paths are writable)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config
from .errors import ConfigError
from .kinds import writable_problem
from .models import DeliveryState
from .store import Store

if TYPE_CHECKING:
    from .app import App


def _iso(dt: Any) -> str | None:
    return dt.isoformat(timespec="seconds") if dt else None


def collect(cfg: Config, store: Store) -> dict[str, Any]:
    rows = {r.id: r for r in store.sources()}
    counters = store.counters()
    sources = []
    for city, s in cfg.sources():
        r = rows.get(s.id)
        sources.append(
            {
                "id": s.id,
                "city": city.id,
                "kind": s.kind,
                "enabled": s.enabled,
                "last_poll": _iso(r.last_poll_at) if r else None,
                "last_ok": _iso(r.last_ok_at) if r else None,
                "result": (r.last_result if r and r.last_result else "never polled")
                if s.enabled
                else "disabled",
                "next_poll": _iso(r.next_poll_at) if r else None,
                "failures": r.consecutive_failures if r else 0,
                "last_error": r.last_error if r else None,
                "alert": r.alert if r else None,
                "warnings": json.loads(r.warnings) if r and r.warnings else [],
                "items_seen": r.items_seen if r else 0,
                "counters": counters.get(s.id, {}),
            }
        )
    counts = store.delivery_counts()
    targets = []
    for city in cfg.cities:
        healthy, reason, _cred = store.target_health(city.id)
        targets.append(
            {
                "city": city.id,
                "kind": city.target.kind,
                "healthy": healthy,
                "reason": reason,
                "drafts": counts.get(city.id, {}),
            }
        )
    parked = [
        {
            "item": i.key,
            "source": i.source_id,
            "target": d.target_city,
            "attempts": d.attempts,
            "reason": d.last_error,
        }
        for d, i in store.deliveries(DeliveryState.PARKED)
    ]
    reviewed = [
        {
            "item": i.key,
            "source": i.source_id,
            "target": d.target_city,
            "state": d.state.value,
            "note": d.note,
        }
        for d, i in store.changed_after_review()
    ]
    waiting = [
        {"item": i.key, "target": d.target_city, "reason": d.last_error}
        for d, i in store.deliveries(DeliveryState.PENDING)
        if d.last_error
    ]
    return {
        "sources": sources,
        "targets": targets,
        "parked": parked,
        "changed_after_review": reviewed,
        "waiting": waiting,
        "quality_flags": store.quality_flag_counts(),
    }


def render(report: dict[str, Any]) -> str:
    out = ["SOURCES"]
    for s in report["sources"]:
        head = f"  {s['id']} ({s['kind']}, {s['city']}): {s['result']}"
        if not s["enabled"]:
            out.append(head)
            continue
        if s["failures"]:
            head += f", {s['failures']} failures in a row"
        out.append(head)
        out.append(
            f"    last poll {s['last_poll'] or '-'}, next {s['next_poll'] or 'now'}, items seen {s['items_seen']}"
        )
        if s["alert"]:
            out.append(f"    ALERT: {s['alert']}")
        elif s["last_error"]:
            out.append(f"    error: {s['last_error']}")
        for w in s["warnings"][:5]:
            out.append(f"    note: {w}")
        if s["counters"]:
            out.append(
                "    counters: " + ", ".join(f"{k}={v}" for k, v in sorted(s["counters"].items()))
            )
    out.append("TARGETS")
    for t in report["targets"]:
        drafts = ", ".join(f"{k} {v}" for k, v in sorted(t["drafts"].items())) or "no drafts yet"
        health = "ok" if t["healthy"] else f"UNHEALTHY: {t['reason']}"
        out.append(f"  {t['city']} ({t['kind']}): {health}; {drafts}")
    if report["waiting"]:
        out.append(f"WAITING ({len(report['waiting'])})")
        for w in report["waiting"][:20]:
            out.append(f"  {w['item']} → {w['target']}: {w['reason']}")
    if report["parked"]:
        out.append(f"PARKED ({len(report['parked'])}; `syncd retry` re-queues)")
        for p in report["parked"]:
            out.append(
                f"  {p['item']} → {p['target']} after {p['attempts']} attempts: {p['reason']}"
            )
    if report["changed_after_review"]:
        out.append(f"SOURCE UPDATED AFTER REVIEW ({len(report['changed_after_review'])})")
        for r in report["changed_after_review"]:
            out.append(f"  {r['item']} → {r['target']} ({r['state']}): {r['note']}")
    if report["quality_flags"]:
        out.append(
            "QUALITY FLAGS: "
            + ", ".join(f"{k} {v}" for k, v in sorted(report["quality_flags"].items()))
        )
    return "\n".join(out)


def run_checks(app: App) -> list[str]:
    """Everything that would stop syncd from doing its job, one line each."""
    cfg, kinds = app.config, app.kinds
    problems: list[str] = []
    url = cfg.storage_url()
    if url.startswith("sqlite:///"):
        p = writable_problem(Path(url[len("sqlite:///") :]).parent)
        if p:
            problems.append(f"storage: {p}")
    models_dir = cfg.resolve_path(cfg.models.dir)
    p = writable_problem(models_dir)
    if p:
        problems.append(f"models: {p}")
    for city in cfg.cities:
        for line in kinds.target(city.target.kind).check(city.target.options):
            problems.append(f"target {city.id}: {line}")
        for s in city.sources:
            if s.enabled:
                for line in kinds.source(s.kind).check(s.options):
                    problems.append(f"source {s.id}: {line}")
    try:
        engine = app.translator
    except ConfigError as exc:  # a glossary that cannot be read
        problems.append(f"translate: {exc}")
    except ImportError as exc:  # pragma: no cover - a broken install
        problems.append(f"translation engine not importable: {exc}")
    else:
        for src, dst in cfg.routes():
            for line in engine.missing(src, dst):
                problems.append(f"models {src}->{dst}: {line}")
    if not cfg.partnerships:
        problems.append("no partnerships: nothing would be translated")
    return problems
