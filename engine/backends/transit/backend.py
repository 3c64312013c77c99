"""The transit secrets engine (Vault's builtin/logical/transit): cryptography as a service with named keys
that never leave it, kept behind the barrier in the mount's storage, or, for the hsm-* key types, inside
the PKCS#11 token itself."""

from __future__ import annotations

from engine.backends.transit.paths_crypt import CryptPaths
from engine.backends.transit.paths_export import ExportPaths
from engine.backends.transit.paths_keys import KeyPaths
from engine.backends.transit.paths_sign import SignPaths
from engine.backends.transit.paths_tools import ToolPaths
from engine.backends.transit.store import Clock, KeyStore
from engine.backends.transit.token import TokenAccess
from engine.framework import Backend
from engine.mounts import BackendFactory, MountEntry
from engine.token_keys import TokenKeys


class TransitBackend(Backend):
    def __init__(self, mount: MountEntry, token_keys: TokenKeys | None, clock: Clock) -> None:
        self.mount = mount
        self.store = KeyStore(TokenAccess(token_keys, mount.uuid), clock)
        self.paths = [
            *KeyPaths(self.store).paths(),
            *CryptPaths(self.store).paths(),
            *SignPaths(self.store).paths(),
            *ExportPaths(self.store).paths(),
            *ToolPaths().paths(),
        ]


def transit_factory(token_keys: TokenKeys | None, clock: Clock) -> BackendFactory:
    """The mount factory, with what the core hands transit: the token for hsm-* keys (None without one)
    and its clock (key creation times, automatic rotation)."""

    def make(entry: MountEntry) -> Backend:
        return TransitBackend(entry, token_keys, clock)

    return make
