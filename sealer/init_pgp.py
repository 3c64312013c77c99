"""PGP on sys/init, by Vault's rules: which keys encrypt which shares, checked before init starts and
applied before it commits.

- `pgp_keys`: one key per unseal share (shamir seal only);
- `recovery_pgp_keys`: one key per recovery share (auto-unseal seals only);
- `root_token_pgp_key`: the root token comes back encrypted (any seal).
Each encrypted share is returned where the share would be (`keys`: hex, `keys_base64`: base64 of the
OpenPGP message), the root token as base64 of its OpenPGP message, exactly as Vault answers.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, replace
from typing import Any

from engine.errors import BadRequest
from sealer.pgp import check_key_async, check_keys_async, encrypt_shares_async, encrypt_token_async
from sealer.seal_manager import InitResult

log = logging.getLogger("sealer.seal")


@dataclass(frozen=True)
class InitPgp:
    share_keys: list[str]
    share_field: str          # "pgp_keys" or "recovery_pgp_keys"
    mismatch: str             # Vault's message when the key count differs from the share count
    root_token_key: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any], *, auto_unseal: bool, seal_type: str,
                  shares: int | None) -> InitPgp | None:
        """Read and check the PGP fields of an init request (no key parsing yet: see `check`).

        `shares` is the number of shares the request asks for, None when it leaves the default."""
        pgp_keys = _key_list(body, "pgp_keys")
        recovery_pgp_keys = _key_list(body, "recovery_pgp_keys")
        root_token_key = body.get("root_token_pgp_key") or None
        if root_token_key is not None and not isinstance(root_token_key, str):
            raise BadRequest("field 'root_token_pgp_key': expected a base64-encoded PGP public key")
        misplaced = "pgp_keys" if auto_unseal and pgp_keys else (
            "recovery_pgp_keys" if not auto_unseal and recovery_pgp_keys else None)
        if misplaced:
            raise BadRequest(f"parameters {misplaced} not applicable to seal type {seal_type}")
        if auto_unseal:
            share_keys, field = recovery_pgp_keys, "recovery_pgp_keys"
            mismatch = "incorrect number of PGP keys for recovery"
        else:
            share_keys, field, mismatch = pgp_keys, "pgp_keys", "incorrect number of PGP keys"
        if not share_keys and root_token_key is None:
            return None
        if share_keys and shares is not None and len(share_keys) != shares:
            raise BadRequest(mismatch)
        return cls(share_keys=share_keys, share_field=field, mismatch=mismatch, root_token_key=root_token_key)

    async def check(self) -> None:
        """Parse every key and prove it takes encryption, before anything is written."""
        if self.share_keys:
            await check_keys_async(self.share_keys, self.share_field)
        if self.root_token_key is not None:
            await check_key_async(self.root_token_key)

    async def protect(self, result: InitResult) -> InitResult:
        """InitRequest.protect: encrypt the people's shares and the root token before init commits."""
        recovery = self.share_field == "recovery_pgp_keys"
        keys, recovery_keys, root_token = result.keys, result.recovery_keys, result.root_token
        if self.share_keys:
            encrypted, fingerprints = await encrypt_shares_async(
                self.share_keys, recovery_keys if recovery else keys, self.share_field, self.mismatch)
            messages = [base64.b64decode(message) for message in encrypted]
            if recovery:
                recovery_keys = messages
            else:
                keys = messages
            log.info("init: %s shares encrypted to PGP keys %s", "recovery" if recovery else "unseal",
                     ", ".join(fingerprints))
        if self.root_token_key is not None:
            root_token, fingerprint = await encrypt_token_async(self.root_token_key, root_token)
            log.info("init: root token encrypted to PGP key %s", fingerprint)
        return replace(result, keys=keys, recovery_keys=recovery_keys, root_token=root_token)


def _key_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
        raise BadRequest(f"field '{name}': expected a list of base64-encoded PGP public keys")
    return value
