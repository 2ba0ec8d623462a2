"""What ``syncd status`` reports, and the verdict it shares with ``syncd sync``,
``/healthz`` and the operator's alerts. Reads the store, the config and the models
folder; judges with ``syncd.health``; decides nothing and writes nothing
(``syncd check`` is ``syncd.check``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from . import health
from .config import Config
from .health import Problem, Verdict
from .models import DeliveryState, TargetHealth, TargetQueue
from .store import Store
from .timefmt import age_seconds, both, stamp
from .translate import Translator
from .translate import packages as m


def _installed(cfg: Config) -> list[m.PackageInfo]:
    return m.installed(cfg.resolve_path(cfg.models.dir))


def missing_routes(cfg: Config, packages: list[m.PackageInfo]) -> dict[tuple[str, str], str]:
    """Routes the partnerships need without installed models → what to do about it."""
    out: dict[tuple[str, str], str] = {}
    for src, dst in cfg.routes():
        if m.code_of(src) != m.code_of(dst) and m.route(packages, src, dst) is None:
            out[(src, dst)] = (
                f"no installed model for {src}→{dst}; install it with: "
                f"{m.install_command(src, dst)}"
            )
    return out


def missing_for(cfg: Config, translator: Translator) -> dict[tuple[str, str], str]:
    """Routes the running translator cannot serve (the daemon asks its own)."""
    out: dict[tuple[str, str], str] = {}
    for route in cfg.routes():
        problems = translator.missing(*route)
        if problems:
            out[route] = "; ".join(problems)
    return out


def _waiting_by_language(cfg: Config, store: Store) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for (src_city, dst_city), n in store.waiting_by_route().items():
        try:
            key = (cfg.city(src_city).language, cfg.city(dst_city).language)
        except KeyError:  # a city removed from the config since
            continue
        out[key] = out.get(key, 0) + n
    return out


def verdict(
    cfg: Config,
    store: Store,
    now: datetime,
    missing: dict[tuple[str, str], str] | None = None,
) -> Verdict:
    """Everything that needs a person now (``syncd.health``): source alerts and stale
    sources, refused or unreachable targets, parked deliveries, missing models
    (``missing``: routes without models; default: what the models folder lacks)."""
    rows = {r.id: r for r in store.sources()}
    problems: list[Problem] = []
    for _city, s in cfg.sources():
        if s.enabled:
            problems += health.source_problems(
                s.id, s.interval, rows.get(s.id), now, cfg.health.stale_polls
            )
    counts = store.delivery_counts()
    for city in cfg.cities:
        problems += health.target_problems(store.target_health(city.id))
        problems += health.parked_problem(
            city.id, counts.get(city.id, {}).get(DeliveryState.PARKED.value, 0)
        )
    waiting = _waiting_by_language(cfg, store)
    if missing is None:
        missing = missing_routes(cfg, _installed(cfg))
    for route, problem in missing.items():
        problems += health.models_problem(route, problem, waiting.get(route, 0))
    return Verdict(tuple(problems))


def _target(
    cfg: Config, city_id: str, kind: str, h: TargetHealth, q: TargetQueue | None,
    drafts: dict[str, int], now: datetime,
) -> dict[str, Any]:  # fmt: skip
    if not h.healthy:
        state, since = "refused", h.since
    elif h.failing_since is not None:
        state, since = "unreachable", h.failing_since
    else:
        state, since = "ok", h.last_ok_at
    q = q or TargetQueue(city_id)
    return {
        "city": city_id,
        "kind": kind,
        "healthy": h.healthy and h.reachable,
        "state": state,
        "since": stamp(since),
        "reason": h.reason if not h.healthy else (h.last_error if not h.reachable else None),
        "last_ok": stamp(h.last_ok_at),
        "last_error": h.last_error,
        "last_error_at": stamp(h.last_error_at),
        "failures": h.failures,
        "drafts": drafts,
        "waiting": q.waiting,
        "oldest_waiting_since": stamp(q.oldest),
        "oldest_waiting_age_s": age_seconds(q.oldest, now),
        "in_backoff": q.in_backoff,
        "next_attempt": stamp(q.next_attempt_at),
    }


def collect(cfg: Config, store: Store, now: datetime) -> dict[str, Any]:
    """The whole report as plain data (``status --json``); ``verdict`` says whether a
    person is needed and why."""
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
                "last_poll": stamp(r.last_poll_at) if r else None,
                "last_ok": stamp(r.last_ok_at) if r else None,
                "result": (r.last_result if r and r.last_result else "never polled")
                if s.enabled
                else "disabled",
                "next_poll": stamp(r.next_poll_at) if r else None,
                "failures": r.consecutive_failures if r else 0,
                "last_error": r.last_error if r else None,
                "alert": r.alert if r else None,
                "warnings": json.loads(r.warnings) if r and r.warnings else [],
                "items_seen": r.items_seen if r else 0,
                "counters": counters.get(s.id, {}),
            }
        )
    counts, queues = store.delivery_counts(), store.target_queues()
    targets = [
        _target(cfg, c.id, c.target.kind, store.target_health(c.id), queues.get(c.id),
                counts.get(c.id, {}), now)
        for c in cfg.cities
    ]  # fmt: skip
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
    # deliveries not written yet that carry an error: a failed create (still
    # "creating": it may have happened) or update, or one waiting for its models
    waiting = [
        {
            "item": i.key,
            "target": d.target_city,
            "state": d.state.value,
            "attempts": d.attempts,
            "reason": d.last_error,
            "next_attempt": stamp(d.next_attempt_at),
        }
        for state in (DeliveryState.CREATING, DeliveryState.PENDING, DeliveryState.PUSHED)
        for d, i in store.deliveries(state)
        if d.last_error
    ]
    packages = _installed(cfg)
    missing = missing_routes(cfg, packages)
    by_language = _waiting_by_language(cfg, store)
    models = {
        "dir": str(cfg.resolve_path(cfg.models.dir)),
        "installed": [
            {"pair": f"{p.from_code}->{p.to_code}", "name": p.name, "version": p.version}
            for p in packages
        ],
        "missing": [
            {
                "route": f"{src}->{dst}",
                "problem": problem,
                "waiting": by_language.get((src, dst), 0),
            }
            for (src, dst), problem in missing.items()
        ],
    }
    v = verdict(cfg, store, now, missing)
    return {
        "now": stamp(now),
        "verdict": {"ok": v.ok, "problems": [p.as_dict() for p in v.problems]},
        "sources": sources,
        "targets": targets,
        "parked": parked,
        "changed_after_review": reviewed,
        "waiting": waiting,
        "models": models,
        "quality_flags": store.quality_flag_counts(),
    }


def _when(value: str | None, now: datetime, empty: str = "-") -> str:
    return both(datetime.fromisoformat(value), now) if value else empty


def render(report: dict[str, Any]) -> str:
    now = datetime.fromisoformat(report["now"])
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
            f"    last poll {_when(s['last_poll'], now)}, next {_when(s['next_poll'], now, 'now')}, "
            f"items seen {s['items_seen']}"
        )
        if s["last_ok"] and s["last_ok"] != s["last_poll"]:
            out.append(f"    last success {_when(s['last_ok'], now)}")
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
        if t["state"] == "ok":
            reach = "ok" + (f", answered {_when(t['last_ok'], now)}" if t["last_ok"] else "")
        else:
            reach = f"{t['state'].upper()} since {_when(t['since'], now)}: {t['reason']}"
        out.append(f"  {t['city']} ({t['kind']}): {reach}")
        out.append(f"    drafts: {drafts}")
        if t["waiting"]:
            line = (
                f"    {t['waiting']} waiting, oldest since {_when(t['oldest_waiting_since'], now)}"
            )
            if t["in_backoff"]:
                line += (
                    f"; {t['in_backoff']} in backoff, next attempt "
                    f"{_when(t['next_attempt'], now)} (`syncd retry --now` tries them now)"
                )
            out.append(line)
        if t["state"] == "ok" and t["last_error"]:
            out.append(f"    last error {_when(t['last_error_at'], now)}: {t['last_error']}")
    if report["waiting"]:
        out.append(f"FAILED OR WAITING ({len(report['waiting'])})")
        for w in report["waiting"][:20]:
            nxt = f", next attempt {_when(w['next_attempt'], now)}" if w["next_attempt"] else ""
            tries = f" after {w['attempts']} attempts" if w["attempts"] else ""
            out.append(f"  {w['item']} → {w['target']} ({w['state']}{tries}{nxt}): {w['reason']}")
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
    models = report["models"]
    out.append(f"MODELS ({models['dir']})")
    for p in models["installed"]:
        out.append(f"  {p['pair']} {p['name']} {p['version']}")
    if not models["installed"]:
        out.append("  none installed")
    for miss in models["missing"]:
        out.append(
            f"  MISSING {miss['route']}: {miss['problem']} ({miss['waiting']} items waiting)"
        )
    if report["quality_flags"]:
        out.append(
            "QUALITY FLAGS: "
            + ", ".join(f"{k} {v}" for k, v in sorted(report["quality_flags"].items()))
        )
    v = report["verdict"]
    if v["ok"]:
        out.append(f"VERDICT: ok (at {report['now']})")
    else:
        out.append(f"VERDICT: a person is needed ({len(v['problems'])})")
        for p in v["problems"]:
            out.append(f"  - {p['message']}")
    return "\n".join(out)
