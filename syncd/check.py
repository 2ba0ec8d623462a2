"""What ``syncd check`` reports: everything that would stop syncd from doing its job.

Reads the config; writes nothing but a probe file in each directory syncd must
write to (removed at once). Loads the translation engine to ask for missing models.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .config import Config
from .errors import ConfigError, TranslateError
from .store import Store


def _writable(path: Path) -> str | None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".syncd-check-"):
            pass
    except OSError as exc:
        return f"{path}: not writable ({exc.strerror or exc})"
    return None


def run_checks(cfg: Config, notes: list[str] | None = None) -> list[str]:
    """Everything that would stop syncd from doing its job, one line each; ``notes``
    (when given) receives what is fine but worth knowing: the translation device and
    settings chosen for this machine."""
    problems: list[str] = []
    url = cfg.storage_url()
    if url.startswith("sqlite:///"):
        p = _writable(Path(url[len("sqlite:///") :]).parent)
        if p:
            problems.append(f"storage: {p}")
    models_dir = cfg.resolve_path(cfg.models.dir)
    p = _writable(models_dir)
    if p:
        problems.append(f"models: {p}")
    for city in cfg.cities:
        opts = city.target.options
        path = getattr(opts, "path", None)
        if city.target.kind == "outbox" and path is not None:
            p = _writable(Path(path))
            if p:
                problems.append(f"target {city.id}: {p}")
        for name in ("password", "secret"):
            secret = getattr(opts, name, None)
            if secret is not None:
                try:
                    secret.resolve()
                except ConfigError as exc:
                    problems.append(f"target {city.id}: {exc}")
        for s in city.sources:
            if not s.enabled:
                continue
            secret = getattr(s.options, "secret", None)
            if secret is not None:
                try:
                    secret.resolve()
                except ConfigError as exc:
                    problems.append(f"source {s.id}: {exc}")
    try:
        from .app import default_translator
        from .translate.engine import ArgosEngine

        store = Store("sqlite://")
        engine = default_translator(cfg, store)
        try:
            for src, dst in cfg.routes():
                for line in engine.missing(src, dst):
                    problems.append(f"models {src}->{dst}: {line}")
            if isinstance(engine, ArgosEngine):
                try:
                    line = engine.describe_settings()
                    if notes is not None:
                        notes.append(f"translation on {line}")
                except TranslateError as exc:
                    problems.append(f"translation: {exc}")
        finally:
            engine.close()
            store.close()
    except ImportError as exc:  # pragma: no cover - a broken install
        problems.append(f"translation engine not importable: {exc}")
    if not cfg.partnerships:
        problems.append("no partnerships: nothing would be translated")
    return problems
