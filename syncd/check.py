"""What ``syncd check`` reports: everything that would stop syncd from doing its job.

Read-only: it creates no folder, file or database. It looks at the store without
opening it for writing (``store.probe``), asks each source and target kind for its
problems (secrets, folders), and asks the translation engine which models are missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConfigError, SyncdError, TranslateError
from .kinds import secret_problems, writable_problem
from .store import probe

if TYPE_CHECKING:
    from .app import App


def run_checks(app: App) -> tuple[list[str], list[str]]:
    """(problems, notes): what would stop syncd, one line each; and what is fine but
    worth saying (a store not created yet, a schema the next run upgrades)."""
    cfg, kinds = app.config, app.kinds
    problems, notes = probe(cfg.storage_url(), cfg.storage.busy_timeout.total_seconds())
    p = writable_problem(cfg.resolve_path(cfg.models.dir))
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
        try:
            notes.append(f"translation on {engine.describe_settings()}")
        except TranslateError as exc:  # e.g. device = "cuda" without a GPU
            problems.append(f"translation: {exc}")
    a = cfg.alerts
    used = [a.smtp_password if a.smtp_host and a.smtp_user else None,
            a.webhook_secret if a.webhook_url else None]  # fmt: skip
    for line in secret_problems({str(i): s for i, s in enumerate(used) if s is not None}):
        problems.append(f"alerts: {line}")
    if not cfg.partnerships:
        problems.append("no partnerships: nothing would be translated")
    return problems, notes


def run_live(app: App) -> list[tuple[str, str | None]]:
    """``syncd check --live``: contact every target with its credentials (a target
    kind that can be probed: WordPress) and fetch every enabled source once; records
    nothing. Every check as (what, problem or None)."""
    from .sources import SourceState

    out: list[tuple[str, str | None]] = []
    for city in app.config.cities:
        name = f"target {city.id} ({city.target.kind})"
        try:
            target = app.target(city.id)
        except SyncdError as exc:
            out.append((name, str(exc)))
            continue
        probe = getattr(target, "probe", None)
        if probe is None:
            out.append((f"{name}: nothing to contact", None))
            continue
        out += [(f"{name}: {what}", problem) for what, problem in probe()]
    for _city, s in app.config.sources():
        if not s.enabled or app.kinds.source(s.kind).pushed:
            continue
        try:
            result = app.source(s.id).fetch(SourceState())
        except SyncdError as exc:
            out.append((f"source {s.id}: fetch", str(exc)))
        else:
            out.append((f"source {s.id}: fetch ({len(result.items)} items)", None))
    return out
