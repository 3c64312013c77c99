"""Times and durations as KV v2 shows them: Go's RFC 3339 rendering ("" for no time) and Go's
time.Duration String() ("0s", "1h0m0s", "-1s")."""

from __future__ import annotations

from datetime import datetime

from engine.tokens.entry import rfc3339


def show_time(moment: datetime | None) -> str:
    return "" if moment is None else rfc3339(moment)


def load_time(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


def go_duration(seconds: int) -> str:
    """Whole seconds rendered as Go renders a time.Duration."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"
