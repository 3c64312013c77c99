"""Vault's rekey `backup`: the PGP-encrypted new shares kept in clear storage (they are encrypted to
their holders already), so a holder who loses the message can fetch it again. Only ever written when
the shares were PGP-encrypted."""

from __future__ import annotations

import json
from typing import Any

from engine.storage.base import Storage

# Vault's paths, outside the barrier as in Vault.
_PATHS = {"barrier": "core/unseal-keys-backup", "recovery": "core/recovery-keys-backup"}


class KeyBackup:
    def __init__(self, storage: Storage, target: str) -> None:
        self._storage = storage
        self.path = _PATHS[target]

    async def store(self, nonce: str, fingerprints: list[str], messages: list[bytes]) -> None:
        keys: dict[str, list[str]] = {}
        for fingerprint, message in zip(fingerprints, messages, strict=True):
            keys.setdefault(fingerprint, []).append(message.hex())
        # Vault's RekeyBackup struct has no JSON tags: its fields are stored capitalised.
        await self._storage.put(self.path, json.dumps({"Nonce": nonce, "Keys": keys}).encode())

    async def read(self) -> dict[str, Any] | None:
        raw = await self._storage.get(self.path)
        if raw is None:
            return None
        stored = json.loads(raw)
        return {"nonce": stored.get("Nonce", ""), "keys": stored.get("Keys") or {}}

    async def delete(self) -> None:
        await self._storage.delete(self.path)
