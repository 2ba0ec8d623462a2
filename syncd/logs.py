"""Structured logging: one event per line, an event word plus key=value fields.

Contains no business logic. ``get(name).info("pushed", item=…, target=…)`` writes
``2026-11-26T10:00:00Z INFO syncd.sync pushed item=… target=…`` (text) or one JSON
object per line (``log.format = "json"``). URLs have their user-info removed and
values of keys that look secret are never written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from .redact import redact_text

_SECRET_KEYS = re.compile(r"pass|secret|token|auth|key$", re.I)


def _clean(key: str, value: Any) -> Any:
    if _SECRET_KEYS.search(key) and key not in ("item_key", "source_key", "key"):
        return "***"
    if isinstance(value, str):
        return redact_text(value)
    return value


class EventLogger:
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def _log(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if self._logger.isEnabledFor(level):
            clean = {k: _clean(k, v) for k, v in fields.items()}
            self._logger.log(level, event, extra={"syncd_fields": clean})

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        clean = {k: _clean(k, v) for k, v in fields.items()}
        self._logger.exception(event, extra={"syncd_fields": clean})


def get(name: str) -> EventLogger:
    return EventLogger(logging.getLogger(name))


def _fmt_value(v: Any) -> str:
    s = str(v)
    if not s or any(c.isspace() for c in s) or '"' in s or "=" in s:
        return json.dumps(s, ensure_ascii=False)
    return s


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "syncd_fields", {})
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        parts = [stamp, record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={_fmt_value(v)}" for k, v in fields.items()]
        line = " ".join(parts)
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info), ensure_ascii=False)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        doc.update(getattr(record, "syncd_fields", {}))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def setup(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger("syncd")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # apscheduler and httpx are chatty at INFO; their warnings still show.
    for noisy in ("apscheduler", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
