"""How long a token (or any lease) may live: Vault's framework.CalculateTTL, to the second, with its
warnings word for word, so a capped request says so instead of silently getting less."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import BadRequest


@dataclass(frozen=True)
class Limits:
    """The TTL settings of the mount a lease belongs to (already resolved to the system defaults)."""

    default_ttl: int
    max_ttl: int


@dataclass
class Granted:
    ttl: int
    warnings: list[str] = field(default_factory=list)


def calculate_ttl(
    limits: Limits,
    *,
    now: int,
    start: int | None = None,
    increment: int = 0,
    backend_ttl: int = 0,
    period: int = 0,
    backend_max_ttl: int = 0,
    explicit_max_ttl: int = 0,
) -> Granted:
    """The TTL to grant `now` (unix seconds) to a lease issued at `start` (default: now).

    A periodic lease gets its period again each time, bounded only by an explicit max TTL; any other
    gets the increment, else the backend's TTL, else the mount default, never past start + max TTL,
    where the max is the smallest of the mount's, the backend's and the explicit one."""
    start = now if start is None else start
    max_ttl = limits.max_ttl
    if 0 < backend_max_ttl < max_ttl:
        max_ttl = backend_max_ttl
    if 0 < explicit_max_ttl < max_ttl:
        max_ttl = explicit_max_ttl
    if max_ttl <= 0:
        raise BadRequest("max TTL must be greater than zero")

    warnings: list[str] = []
    max_valid: int | None = None
    if period > 0:
        if period > max_ttl:
            warnings.append(
                f'period of "{human_duration(period)}" exceeded the effective max_ttl of '
                f'"{human_duration(max_ttl)}"; period value is capped accordingly'
            )
            period = max_ttl
        ttl = period
        if explicit_max_ttl > 0:
            max_valid = start + explicit_max_ttl
    else:
        ttl = increment or backend_ttl or limits.default_ttl
        max_valid = start + max_ttl

    if max_valid is not None:
        left = max_valid - now
        if left <= 0:
            raise BadRequest("past the max TTL, cannot renew")
        if ttl > left:
            warnings.append(
                f'TTL of "{human_duration(ttl)}" exceeded the effective max_ttl of '
                f'"{human_duration(left)}"; TTL value is capped accordingly'
            )
            ttl = left
    return Granted(ttl, warnings)


def human_duration(seconds: int) -> str:
    """Go's time.Duration.String() without zero units, as Vault's humanDuration prints it: 3600 is
    "1h", 90 is "1m30s", 3660 is "1h1m"."""
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours}h{minutes}m{secs}s"
    elif minutes:
        text = f"{minutes}m{secs}s"
    else:
        text = f"{secs}s"
    if text.endswith("m0s"):
        text = text[:-2]
    index = text.find("h0m")
    if index > 0:
        text = text[: index + 1] + text[index + 3 :]
    return text
