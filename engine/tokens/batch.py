"""Batch tokens: the token is its own entry, sealed with AES-256-GCM under a key kept behind the barrier.
Nothing is written to storage per token, so a batch token cannot be renewed, revoked on its own or
have children; it dies with its TTL, or with its parent service token.

Format: "hvb." + base64url(nonce | ciphertext | tag), no padding. The plaintext is the JSON entry
(policies, path, times, parent hash...). A blob that does not open is simply not a token: callers
cannot tell a forged, truncated or foreign token from an unknown one.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from engine.crypto import DecryptError, decrypt, encrypt
from engine.tokens.entry import BATCH, TokenEntry

BATCH_PREFIX = "hvb."  # Vault 1.10+ batch tokens
_AAD = b"sealer batch token v1"
_VERSION = 1

# What a batch token carries; the rest of TokenEntry is fixed for batch tokens (no accessor, no
# uses count, not renewable) or derived (the hash is the token's own).
_CARRIED = (
    "policies",
    "path",
    "display_name",
    "creation_time",
    "meta",
    "ttl",
    "parent_hash",
    "entity_id",
    "role",
    "bound_cidrs",
    "expires",
)


def is_batch_token(token: str) -> bool:
    return token.startswith(BATCH_PREFIX)


@dataclass
class BatchCodec:
    key: bytes = field(repr=False)

    def seal(self, entry: TokenEntry) -> str:
        body: dict[str, Any] = {"v": _VERSION, **{name: getattr(entry, name) for name in _CARRIED}}
        blob = encrypt(self.key, json.dumps(body, separators=(",", ":")).encode(), _AAD)
        return BATCH_PREFIX + base64.urlsafe_b64encode(blob).rstrip(b"=").decode()

    def open(self, token: str, id_hash: str) -> TokenEntry | None:
        """The entry sealed in `token`, or None when it is not one of ours (whatever the reason)."""
        if not is_batch_token(token):
            return None
        text = token[len(BATCH_PREFIX) :]
        try:
            blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            body = json.loads(decrypt(self.key, blob, _AAD))
        except (binascii.Error, ValueError, DecryptError):
            return None
        if not isinstance(body, dict) or body.get("v") != _VERSION:
            return None
        carried = {name: body[name] for name in _CARRIED if name in body}
        return TokenEntry.from_dict({**carried, "id_hash": id_hash, "accessor": "", "type": BATCH})
