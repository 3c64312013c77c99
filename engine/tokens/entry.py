"""What the store knows about one token (Vault's logical.TokenEntry), and the clock it is judged by.

The entry never holds the token itself: only `id_hash`, the salted HMAC it is stored under. Everything
here is safe to log or repr (an auth method's internal data is kept out of the repr all the same).
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from engine.json_bytes import compact_json

Clock = Callable[[], datetime]

ROOT_PATH = "auth/token/root"
SERVICE = "service"
BATCH = "batch"

# Vault's tokenRevocationPending: the token's last use has begun (or it is being revoked); it is no
# longer found by lookups, and the request that took the last use revokes it when it ends.
USED_UP = -1


def utc_now() -> datetime:
    return datetime.now(UTC)


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


# Pure and called on every KV v2 read (twice) and token lookup: the same few times recur, and strftime
# is the costly part.
@functools.lru_cache(maxsize=4096)
def rfc3339(moment: datetime) -> str:
    """Go's RFC3339Nano rendering in UTC, as Vault prints times."""
    # isoformat: the digits strftime gave at a fraction of its cost ("YYYY-MM-DDTHH:MM:SS[.ffffff]").
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "Z"


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass
class TokenEntry:
    id_hash: str
    accessor: str  # "" for batch tokens
    policies: list[str]
    path: str
    display_name: str
    creation_time: int  # unix seconds
    meta: dict[str, str] | None = None
    ttl: int = 0  # the TTL given at creation (lookup's creation_ttl); 0 never expires
    explicit_max_ttl: int = 0
    period: int = 0
    num_uses: int = 0  # 0 unlimited; USED_UP once the last one is taken
    parent_hash: str = ""  # "" for an orphan
    type: str = SERVICE
    entity_id: str = ""
    renewable: bool = False
    role: str = ""
    bound_cidrs: list[str] = field(default_factory=list)
    # The lease side (Vault keeps it in the expiration manager's lease entry).
    expires: int = 0  # unix seconds; 0 never
    lease_ttl: int = 0  # the TTL of the latest grant: a renewal without an increment asks for it again
    max_ttl: int = 0  # the auth method's cap for renewals; 0 defers to the mount
    mount_max_ttl: int = 0  # the issuing mount's max lease TTL when the token was made
    last_renewal_time: int = 0
    # Login tokens: the accessor of the auth mount that made it (stable across remounts; "" for tokens
    # the token store made) and the auth method's internal data, handed back to its renew check as
    # Vault keeps both in the token's lease (never a credential: the methods keep only names there).
    mount_accessor: str = ""
    internal_data: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def orphan(self) -> bool:
        return self.parent_hash == ""

    @property
    def is_root(self) -> bool:
        return "root" in self.policies

    @property
    def is_batch(self) -> bool:
        return self.type == BATCH

    @property
    def used_up(self) -> bool:
        return self.num_uses == USED_UP

    @property
    def has_lease(self) -> bool:
        """Vault registers a lease for every token except those made at init or generate-root; only
        leased tokens show issue_time and renewable on lookup."""
        return self.path != ROOT_PATH

    def expire_time(self) -> datetime | None:
        return None if self.expires == 0 else from_unix(self.expires)

    def remaining(self, now: datetime) -> int:
        """Seconds left before expiry (0 for a token that never expires)."""
        return 0 if self.expires == 0 else max(0, self.expires - unix(now))

    def expired(self, now: datetime) -> bool:
        return self.expires != 0 and unix(now) >= self.expires

    def allows_address(self, remote_address: str) -> bool:
        """Vault's bound CIDRs: a bound token is only good from inside one of its networks."""
        if not self.bound_cidrs:
            return True
        try:
            address = ipaddress.ip_address(remote_address)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in self.bound_cidrs)

    def to_json(self) -> bytes:
        # Shallow: the encoder walks the nested lists and dicts itself (asdict deep-copied them all first).
        values = self.__dict__
        return compact_json({name: values[name] for name in _field_order(TokenEntry)})

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TokenEntry:
        # Every request parses its token's entry: the field names are worked out once, not per call.
        known = _field_names(cls)
        return cls(**{k: v for k, v in raw.items() if k in known})

    @classmethod
    def from_json(cls, raw: bytes) -> TokenEntry:
        return cls.from_dict(json.loads(raw))


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(_field_order(cls))


@functools.cache
def _field_order(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def expiry(creation_time: int, ttl: int) -> int:
    return 0 if ttl == 0 else creation_time + ttl
