"""What the approle method stores: roles and the secret IDs issued against them."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.backends.token_params import TokenParams
from engine.errors import BadRequest
from engine.tokens import rfc3339

# Go's zero time.Time, which Vault shows for a secret ID that never expires.
ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass
class RoleEntry(TokenParams):
    role_id: str = ""
    # Keys the HMACs under which this role's secret IDs are stored; never leaves the backend.
    hmac_key: str = field(default="", repr=False)
    bind_secret_id: bool = True
    secret_id_bound_cidrs: list[str] = field(default_factory=list)
    secret_id_num_uses: int = 0
    secret_id_ttl: int = 0
    local_secret_ids: bool = False
    # Deprecated twins of token_policies and token_period, shown as Vault does when set.
    policies: list[str] = field(default_factory=list)
    period: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> RoleEntry:
        return cls(**json.loads(raw))

    def has_constraint(self) -> bool:
        """Vault's validateRoleConstraints: a login must prove something."""
        return self.bind_secret_id or bool(self.secret_id_bound_cidrs) or bool(self.token_bound_cidrs)

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "bind_secret_id": self.bind_secret_id,
            "secret_id_bound_cidrs": list(self.secret_id_bound_cidrs),
            "secret_id_num_uses": self.secret_id_num_uses,
            "secret_id_ttl": self.secret_id_ttl,
            "local_secret_ids": self.local_secret_ids,
            **self.token_data(),
        }
        if self.period:
            data["period"] = self.period
        if self.policies:
            data["policies"] = list(self.policies)
        return data


@dataclass
class SecretIdEntry:
    secret_id_accessor: str
    secret_id_num_uses: int
    secret_id_ttl: int
    creation_time: float  # unix seconds
    last_updated_time: float
    expiration_time: float = 0.0  # 0: never expires
    metadata: dict[str, str] = field(default_factory=dict)
    cidr_list: list[str] = field(default_factory=list)
    token_bound_cidrs: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> SecretIdEntry:
        return cls(**json.loads(raw))

    def expired(self, now: float) -> bool:
        return bool(self.expiration_time) and now >= self.expiration_time

    def describe(self) -> dict[str, Any]:
        return {
            "secret_id_accessor": self.secret_id_accessor,
            "secret_id_num_uses": self.secret_id_num_uses,
            "secret_id_ttl": self.secret_id_ttl,
            "creation_time": _time(self.creation_time),
            "expiration_time": _time(self.expiration_time) if self.expiration_time else ZERO_TIME,
            "last_updated_time": _time(self.last_updated_time),
            "metadata": dict(self.metadata),
            "cidr_list": list(self.cidr_list),
            "token_bound_cidrs": list(self.token_bound_cidrs),
        }


def _time(unix: float) -> str:
    return rfc3339(datetime.fromtimestamp(unix, UTC))


def parse_metadata(text: str) -> dict[str, str]:
    """Vault's strutil.ParseArbitraryKeyValues: a JSON object of strings (optionally base64-encoded), or
    "k1=v1,k2=v2"."""
    text = text.strip()
    if not text:
        return {}
    try:
        decoded = base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = text
    try:
        parsed: Any = json.loads(decoded)
    except json.JSONDecodeError:
        parsed = _key_values(decoded)
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise BadRequest("failed to parse metadata: the metadata must be a map of strings")
    for key, value in parsed.items():
        if key and not value:
            raise BadRequest(f'failed to parse metadata: invalid value for key "{key}"')
    return {str(k): v for k, v in parsed.items()}


def _key_values(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key.strip():
            raise BadRequest(
                f'failed to parse metadata: failed to parse the input: invalid key/value pair "{item.strip()}": '
                "format must be key=value"
            )
        pairs[key.strip()] = value.strip()
    return pairs


def go_duration(seconds: int) -> str:
    """Go's time.Duration.String() for whole seconds: "768h0m0s", "1m30s", "5s"."""
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
