"""One lease as the expiration manager persists it behind the barrier (Vault's leaseEntry).

A lease is either a secret's (issued by a backend, revoked through it) or a token's (revoked by
revoking the token tree). Tokens appear only as their salted hash and accessor: never in clear.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.errors import BadRequest
from engine.json_bytes import compact_json
from engine.tokens.entry import rfc3339

SECRET = "secret"
TOKEN = "token"

# Vault keeps at most this much of a revocation error (it is stored and shown).
MAX_ERROR_LENGTH = 240



@dataclass
class LeaseEntry:
    lease_id: str
    kind: str  # SECRET or TOKEN
    path: str  # the full request path that issued it ("db/creds/app", "auth/userpass/login/alice")
    issue_time: float  # unix seconds
    expire_time: float
    ttl: int  # the TTL granted at issue or at the last renewal
    max_ttl: int = 0  # the backend's own cap (0: the mount's), measured from issue_time
    renewable: bool = False
    last_renewal_time: float | None = None
    # Whatever the backend needs to renew or revoke the secret; never shown to clients.
    internal_data: dict[str, Any] = field(default_factory=dict, repr=False)
    token_hash: str = ""  # the issuing token (secret leases) or the token itself (token leases)
    token_accessor: str = ""
    token_type: str = "service"
    # Failed revocations: retried with backoff, never dropped.
    revoke_attempts: int = 0
    next_revoke_time: float | None = None
    revoke_error: str = ""
    irrevocable: bool = False
    # The store's bookkeeping: the name of this lease's entry in the due index (see store.py).
    due_key: str = ""

    @property
    def due(self) -> float:
        """When the manager should next try to revoke it."""
        return self.next_revoke_time if self.next_revoke_time is not None else self.expire_time

    def expired(self, now: datetime) -> bool:
        return now.timestamp() >= self.expire_time

    def remaining(self, now: datetime) -> int:
        """Vault's lease ttl(): whole seconds left, against the clock rounded to the second."""
        return max(0, int(self.expire_time - round(now.timestamp())))

    def check_renewable(self, now: datetime) -> None:
        """Vault's leaseEntry.renewable(), with its messages."""
        if self.irrevocable:
            raise BadRequest("lease is expired and has failed previous revocation attempts")
        if self.token_type == "batch":
            raise BadRequest("batch tokens cannot be renewed")
        if self.expired(now):
            raise BadRequest("lease expired")
        if not self.renewable:
            raise BadRequest("lease is not renewable")

    def is_renewable(self, now: datetime) -> bool:
        try:
            self.check_renewable(now)
        except BadRequest:
            return False
        return True

    def describe(self, now: datetime) -> dict[str, Any]:
        """Vault's sys/leases/lookup answer; a lease whose revocation failed also shows why."""
        answer: dict[str, Any] = {
            "id": self.lease_id,
            "issue_time": rfc3339(from_unix(self.issue_time)),
            "expire_time": rfc3339(from_unix(self.expire_time)),
            "last_renewal": None if self.last_renewal_time is None else rfc3339(from_unix(self.last_renewal_time)),
            "renewable": self.is_renewable(now),
            "ttl": self.remaining(now),
        }
        if self.revoke_attempts:
            answer["revoke_attempts"] = self.revoke_attempts
            answer["revoke_error"] = self.revoke_error
            answer["irrevocable"] = self.irrevocable
            if self.next_revoke_time is not None:
                answer["next_revoke_attempt"] = rfc3339(from_unix(self.next_revoke_time))
        return answer

    def to_json(self) -> bytes:
        # vars(), not asdict(): asdict deep-copies every value, a cost paid per lease at issue.
        return compact_json(vars(self))

    @classmethod
    def from_json(cls, raw: bytes) -> LeaseEntry:
        return cls(**json.loads(raw))


def from_unix(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
