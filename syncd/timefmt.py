"""Times for people: a UTC stamp with a relative phrase beside it. Contains no
business logic."""

from __future__ import annotations

from datetime import datetime


def stamp(dt: datetime | None) -> str | None:
    """ISO 8601 UTC to the second (``2026-11-25T12:00:00+00:00``), or None."""
    return dt.isoformat(timespec="seconds") if dt else None


def relative(dt: datetime, now: datetime) -> str:
    """``"in 42 min"``, ``"3 h ago"``, ``"just now"``: rounded to the largest unit."""
    seconds = (dt - now).total_seconds()
    span = abs(seconds)
    if span < 45:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if span >= size * 0.95 or unit == "min":
            n = max(1, round(span / size))
            if unit == "min" and n >= 60:
                n, unit = 1, "h"
            text = f"{n} {unit}"
            break
    return f"in {text}" if seconds > 0 else f"{text} ago"


def both(dt: datetime | None, now: datetime, empty: str = "-") -> str:
    """``"2026-11-25T12:42:00+00:00 (in 42 min)"``; ``empty`` for None."""
    if dt is None:
        return empty
    return f"{stamp(dt)} ({relative(dt, now)})"


def age_seconds(dt: datetime | None, now: datetime) -> int | None:
    return None if dt is None else max(0, int((now - dt).total_seconds()))
