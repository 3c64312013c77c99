"""The token store. Tokens are kept only as a salted HMAC of their value, never in clear, not even behind
the barrier: whoever reads storage (or a backup of it) after unsealing still cannot use a token.

Layout behind the barrier:
    core/token-salt                    32 random bytes, created once
    sys/token/id/<hmac(salt, token)>   TokenEntry (JSON)
    sys/token/accessor/<accessor>      {"id_hash": ...}: revoke or look up by accessor without the token

A lookup hashes the presented token and reads one key; no secret is ever compared byte by byte.
This is the minimal store (root tokens, plain children); policies, renewals, use counts and
revocation of children arrive with the full token store.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from engine.crypto.hashing import hmac_sha256
from engine.crypto.keys import random_bytes
from engine.storage.base import Delete, Put, Storage

SALT_KEY = "core/token-salt"
ID_PREFIX = "sys/token/id/"
ACCESSOR_PREFIX = "sys/token/accessor/"
ROOT_PATH = "auth/token/root"

TOKEN_PREFIX = "hvs."  # Vault 1.10+ service tokens
TOKEN_RANDOM_CHARS = 24
ACCESSOR_CHARS = 24
SALT_SIZE = 32

_BASE62 = string.ascii_uppercase + string.ascii_lowercase + string.digits

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def random_base62(length: int) -> str:
    # secrets.choice draws without modulo bias.
    return "".join(secrets.choice(_BASE62) for _ in range(length))


@dataclass
class TokenEntry:
    id_hash: str
    accessor: str
    policies: list[str]
    path: str
    display_name: str
    creation_time: int  # unix seconds
    meta: dict[str, str] | None = None
    ttl: int = 0  # seconds from creation; 0 never expires
    explicit_max_ttl: int = 0
    num_uses: int = 0
    parent_hash: str = ""  # "" for an orphan
    type: str = "service"
    entity_id: str = ""
    renewable: bool = False

    @property
    def orphan(self) -> bool:
        return self.parent_hash == ""

    @property
    def is_root(self) -> bool:
        return "root" in self.policies

    def expire_time(self) -> datetime | None:
        if self.ttl == 0:
            return None
        return datetime.fromtimestamp(self.creation_time, UTC) + timedelta(seconds=self.ttl)

    def remaining(self, now: datetime) -> int:
        """Seconds left before expiry (0 for a token that never expires)."""
        expires = self.expire_time()
        return 0 if expires is None else max(0, int((expires - now).total_seconds()))

    def expired(self, now: datetime) -> bool:
        expires = self.expire_time()
        return expires is not None and now >= expires

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> TokenEntry:
        return cls(**json.loads(raw))


@dataclass
class TokenStore:
    storage: Storage  # the barrier
    clock: Clock = utc_now
    _salt: bytes | None = field(default=None, init=False, repr=False)

    async def setup(self) -> None:
        salt = await self.storage.get(SALT_KEY)
        if salt is None:
            salt = random_bytes(SALT_SIZE)
            await self.storage.put(SALT_KEY, salt)
        self._salt = salt

    def hash_token(self, token: str) -> str:
        if self._salt is None:
            raise RuntimeError("the token store is not set up")
        return hmac_sha256(self._salt, token.encode()).hex()

    async def create(
        self,
        *,
        policies: list[str],
        path: str,
        display_name: str,
        meta: dict[str, str] | None = None,
        ttl: int = 0,
        explicit_max_ttl: int = 0,
        renewable: bool = False,
        parent: TokenEntry | None = None,
        token: str | None = None,
    ) -> tuple[str, TokenEntry]:
        """Create and persist a token; return its value (shown once, to the caller) and its entry.
        `token` lets a root caller choose the value, as Vault's `id` parameter does."""
        token = token if token is not None else TOKEN_PREFIX + random_base62(TOKEN_RANDOM_CHARS)
        if explicit_max_ttl and (ttl == 0 or ttl > explicit_max_ttl):
            ttl = explicit_max_ttl
        entry = TokenEntry(
            id_hash=self.hash_token(token),
            accessor=random_base62(ACCESSOR_CHARS),
            policies=list(policies),
            path=path,
            display_name=display_name,
            creation_time=int(self.clock().timestamp()),
            meta=meta,
            ttl=ttl,
            explicit_max_ttl=explicit_max_ttl,
            parent_hash=parent.id_hash if parent is not None else "",
            renewable=renewable and ttl > 0,
        )
        await self.storage.batch(
            [
                Put(ID_PREFIX + entry.id_hash, entry.to_json()),
                Put(ACCESSOR_PREFIX + entry.accessor, json.dumps({"id_hash": entry.id_hash}).encode()),
            ]
        )
        return token, entry

    async def create_root_token(self, token: str | None = None) -> str:
        """A root token: random, or `token` when the operator chose one (dev mode's root token id)."""
        token, _ = await self.create(policies=["root"], path=ROOT_PATH, display_name="root", token=token)
        return token

    async def exists(self, token: str) -> bool:
        return await self.storage.get(ID_PREFIX + self.hash_token(token)) is not None

    async def lookup(self, token: str) -> TokenEntry | None:
        """The live entry for `token`; None when unknown or expired."""
        if not token:
            return None
        return await self._lookup_hash(self.hash_token(token))

    async def lookup_accessor(self, accessor: str) -> TokenEntry | None:
        if not accessor or ".." in accessor or "/" in accessor:
            return None
        raw = await self.storage.get(ACCESSOR_PREFIX + accessor)
        if raw is None:
            return None
        return await self._lookup_hash(json.loads(raw)["id_hash"])

    async def _lookup_hash(self, id_hash: str) -> TokenEntry | None:
        raw = await self.storage.get(ID_PREFIX + id_hash)
        if raw is None:
            return None
        entry = TokenEntry.from_json(raw)
        # Expiry is enforced here, whatever the expiration manager has or has not revoked yet.
        return None if entry.expired(self.clock()) else entry

    async def revoke(self, token: str) -> None:
        """Revoke `token`. Revoking an unknown token is not an error."""
        raw = await self.storage.get(ID_PREFIX + self.hash_token(token))
        if raw is not None:
            await self.revoke_entry(TokenEntry.from_json(raw))

    async def revoke_entry(self, entry: TokenEntry) -> None:
        await self.storage.batch(
            [Delete(ID_PREFIX + entry.id_hash), Delete(ACCESSOR_PREFIX + entry.accessor)]
        )


def rfc3339(moment: datetime) -> str:
    """Go's RFC3339Nano rendering in UTC, as Vault prints times."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"
