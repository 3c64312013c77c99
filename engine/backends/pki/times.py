"""Times as Vault's PKI answers show them."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
