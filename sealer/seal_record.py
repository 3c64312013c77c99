"""The seal's record in clear storage: what kind of seal, how many shares, which installation.

Its presence is what "initialised" means: it is written last, in the same atomic batch as the wrapped
root key, so an interrupted init leaves an uninitialised store, never a half-initialised one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

SEAL_RECORD_KEY = "core/seal-config"
WRAPPED_ROOT_KEY = "core/sealed-root-key"
WRAPPED_RECOVERY_KEY = "core/sealed-recovery-key"
# Written by the barrier; listed here so an interrupted init can be cleaned away.
KEYRING_KEY = "core/keyring"


@dataclass(frozen=True)
class SealRecord:
    type: str
    installation_id: str
    secret_shares: int = 0
    secret_threshold: int = 0
    recovery_shares: int = 0
    recovery_threshold: int = 0
    version: int = 1

    @property
    def installation_bytes(self) -> bytes:
        return bytes.fromhex(self.installation_id)

    @property
    def root_key_aad(self) -> bytes:
        return b"sealer/root-key/" + self.installation_bytes

    @property
    def recovery_key_aad(self) -> bytes:
        return b"sealer/recovery-key/" + self.installation_bytes

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> SealRecord:
        return cls(**json.loads(raw))
