"""Vault's rate limit quotas: named rules of `rate` requests per `interval` for each client address,
on the whole API (path ""), one mount ("secret/") or a path below a mount ("secret/app", or
"secret/app/*" for everything under it). The most specific rule that covers a request applies, and
only that one: path below a mount > mount > global.

Each rule keeps a bucket per client address that refills completely at the start of every interval
(Vault's go-limiter memorystore does the same); a client that empties it is refused until the next
interval, or for `block_interval` when the rule has one. The rules and the config live behind the
barrier; the buckets are in memory only (a restart gives everyone a full bucket, as in Vault).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from engine.errors import BadRequest
from engine.storage.base import Storage
from engine.tokens import Clock, utc_now

RULES_PREFIX = "core/quotas/rate-limit/"
CONFIG_KEY = "core/quotas/config"
QUOTA_TYPE = "rate-limit"
# Vault's default rate_limit_exempt_paths: what an operator needs to bring a node back.
DEFAULT_EXEMPT_PATHS = (
    "sys/generate-recovery-token/attempt",
    "sys/generate-recovery-token/update",
    "sys/generate-root/attempt",
    "sys/generate-root/update",
    "sys/health",
    "sys/seal-status",
    "sys/unseal",
)
# Buckets untouched for a whole interval are full again, so they can go; swept past this many.
_SWEEP_ABOVE = 10_000

# The mount point a request path is under ("secret/"), or None when no mount serves it.
MountOf = Callable[[str], str | None]


@dataclass(frozen=True)
class RateLimitQuota:
    name: str
    path: str  # "" (global), a mount point ("secret/"), or a mount point and a path ("secret/app", "secret/a/*")
    rate: float
    interval: int = 1  # seconds
    block_interval: int = 0  # seconds; 0: refused only until the bucket refills
    mount: str = ""  # the mount point the path is in ("" for a global rule)

    @property
    def capacity(self) -> int:
        # As Vault: the bucket holds the rate rounded to whole requests (at least one).
        return max(1, round(self.rate))

    def describe(self) -> dict[str, Any]:
        """Vault's read shape."""
        return {
            "name": self.name,
            "path": self.path,
            "type": QUOTA_TYPE,
            "rate": self.rate,
            "interval": self.interval,
            "block_interval": self.block_interval,
            "role": "",
            "inheritable": False,
        }

    def covers(self, path: str, mount: str | None) -> bool:
        if not self.path:
            return True
        if mount != self.mount:
            return False
        if self.path == self.mount:
            return True
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path or path == self.path.rstrip("/")

    def specificity(self) -> tuple[int, int]:
        """Higher wins: a path below a mount (longer first), then a mount, then global."""
        if not self.path:
            return (0, 0)
        if self.path == self.mount:
            return (1, 0)
        return (2, len(self.path))


@dataclass(frozen=True)
class QuotaConfig:
    rate_limit_exempt_paths: tuple[str, ...] = DEFAULT_EXEMPT_PATHS
    enable_rate_limit_audit_logging: bool = False
    enable_rate_limit_response_headers: bool = False

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "rate_limit_exempt_paths": list(self.rate_limit_exempt_paths)}

    def exempt(self, path: str) -> bool:
        return any(
            path.startswith(rule[:-1]) if rule.endswith("*") else path == rule
            for rule in self.rate_limit_exempt_paths
        )


@dataclass(frozen=True)
class Verdict:
    """The outcome for one request under the rule that applies to it."""

    allowed: bool
    path: str
    quota: str
    limit: int
    remaining: int
    reset: float  # unix time when the client may send again (the bucket refills, or the block ends)


@dataclass
class _Bucket:
    window: int
    tokens: int
    blocked_until: float = 0.0


@dataclass
class _Limiter:
    quota: RateLimitQuota
    started: float
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, client: str, now: float, path: str) -> Verdict:
        quota = self.quota
        window = int((now - self.started) // quota.interval)
        next_refill = self.started + (window + 1) * quota.interval
        bucket = self.buckets.get(client)
        if bucket is None or (bucket.window != window and bucket.blocked_until <= now):
            if len(self.buckets) > _SWEEP_ABOVE:
                self._sweep(window, now)
            bucket = self.buckets[client] = _Bucket(window, quota.capacity)
        if bucket.blocked_until > now:
            return Verdict(False, path, quota.name, quota.capacity, 0, bucket.blocked_until)
        if bucket.tokens <= 0:
            reset = next_refill
            if quota.block_interval:
                bucket.blocked_until = reset = now + quota.block_interval
            return Verdict(False, path, quota.name, quota.capacity, 0, reset)
        bucket.tokens -= 1
        return Verdict(True, path, quota.name, quota.capacity, bucket.tokens, next_refill)

    def _sweep(self, window: int, now: float) -> None:
        stale = [c for c, b in self.buckets.items() if b.window != window and b.blocked_until <= now]
        for client in stale:
            del self.buckets[client]


class QuotaManager:
    """The rules, the config and the buckets. `mount_of` finds a path's mount point (the router's)."""

    def __init__(self, storage: Storage, mount_of: MountOf, clock: Clock = utc_now) -> None:
        self._storage = storage
        self._mount_of = mount_of
        self._clock = clock
        self._limiters: dict[str, _Limiter] = {}
        self.config = QuotaConfig()

    async def load(self) -> None:
        raw = await self._storage.get(CONFIG_KEY)
        if raw is not None:
            stored = json.loads(raw)
            stored["rate_limit_exempt_paths"] = tuple(stored["rate_limit_exempt_paths"])
            self.config = QuotaConfig(**stored)
        now = self._now()
        for name in await self._storage.list(RULES_PREFIX):
            raw = await self._storage.get(RULES_PREFIX + name)
            if raw is not None:
                quota = RateLimitQuota(**json.loads(raw))
                self._limiters[quota.name] = _Limiter(quota, now)

    # -- rules and config ---------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._limiters)

    def get(self, name: str) -> RateLimitQuota | None:
        limiter = self._limiters.get(name)
        return None if limiter is None else limiter.quota

    async def put(self, quota: RateLimitQuota) -> RateLimitQuota:
        """Create or replace a rule; BadRequest (nothing changed) for a bad one. Returns it as stored,
        with its path normalised and its mount found."""
        quota = self._validated(quota)
        await self._storage.put(RULES_PREFIX + quota.name, json.dumps(asdict(quota)).encode())
        # A changed rule starts with full buckets, as in Vault.
        self._limiters[quota.name] = _Limiter(quota, self._now())
        return quota

    async def delete(self, name: str) -> None:
        await self._storage.delete(RULES_PREFIX + name)
        self._limiters.pop(name, None)

    async def set_config(self, config: QuotaConfig) -> None:
        await self._storage.put(CONFIG_KEY, json.dumps(asdict(config)).encode())
        self.config = config

    # -- enforcement --------------------------------------------------------------------------

    @property
    def has_rules(self) -> bool:
        return bool(self._limiters)

    def check(self, path: str, client: str) -> Verdict | None:
        """Count one request for `path` (normalised, no leading "/") from `client`; None when no rule
        applies (or the path is exempt), else whether it may go on."""
        if not self._limiters or self.config.exempt(path):
            return None
        mount = self._mount_of(path)
        rules = [lim for lim in self._limiters.values() if lim.quota.covers(path, mount)]
        if not rules:
            return None
        limiter = max(rules, key=lambda lim: lim.quota.specificity())
        return limiter.take(client, self._now(), path)

    def _now(self) -> float:
        return self._clock().timestamp()

    def _validated(self, quota: RateLimitQuota) -> RateLimitQuota:
        if not quota.name:
            raise BadRequest("missing quota name")
        if not math.isfinite(quota.rate) or quota.rate <= 0:
            raise BadRequest(f"'rate' is invalid: {quota.rate:g}; it must be a positive number of requests")
        if quota.interval < 0:
            raise BadRequest("'interval' is invalid: it must not be negative")
        if quota.block_interval < 0:
            raise BadRequest("'block' is invalid: block_interval must not be negative")
        path = quota.path.lstrip("/")
        mount = ""
        if path:
            found = self._mount_of(path) or self._mount_of(path + "/")
            if found is None:
                raise BadRequest(f'invalid mount path "{quota.path}": no mount serves it')
            mount = found
            if path + "/" == mount:
                path = mount
        for other in self._limiters.values():
            if other.quota.name != quota.name and other.quota.path == path:
                raise BadRequest(f'quota rule with similar properties exists under the name "{other.quota.name}"')
        return replace(quota, path=path, mount=mount, interval=quota.interval or 1)
