"""What ``syncd check`` reports: everything that would stop syncd from doing its job.

Read-only: it creates no folder, file or database. It looks at the store without
opening it for writing (``store.probe``), asks each source and target kind for its
problems (secrets, folders), and asks the translation engine which models are missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConfigError
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
    a = cfg.alerts
    used = [a.smtp_password if a.smtp_host and a.smtp_user else None,
            a.webhook_secret if a.webhook_url else None]  # fmt: skip
    for line in secret_problems({str(i): s for i, s in enumerate(used) if s is not None}):
        problems.append(f"alerts: {line}")
    if not cfg.partnerships:
        problems.append("no partnerships: nothing would be translated")
    return problems, notes
