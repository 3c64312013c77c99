"""config/crl: how long a CRL is valid (its nextUpdate, Vault's "expiry", 72h by default) and whether
revocations are listed at all ("disable": the CRL is still published, empty, as Vault does)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from engine.storage.base import Storage

CRL_CONFIG_KEY = "config/crl"


@dataclass(frozen=True)
class CrlConfig:
    expiry: str = "72h"
    disable: bool = False

    def to_json(self) -> dict[str, object]:
        return asdict(self)


async def load_crl_config(storage: Storage) -> CrlConfig:
    raw = await storage.get(CRL_CONFIG_KEY)
    return CrlConfig() if raw is None else CrlConfig(**json.loads(raw))


async def save_crl_config(storage: Storage, config: CrlConfig) -> None:
    await storage.put(CRL_CONFIG_KEY, json.dumps(config.to_json()).encode())
