"""The PKI secrets engine (Vault's builtin/logical/pki, one issuer per mount): a CA whose key is held in
process or inside the PKCS#11 token (key_type hsm), roles, certificates issued for a role (leased with
generate_lease), revocation with a CRL, and tidy."""

from __future__ import annotations

from engine.backends.pki import certstore
from engine.backends.pki.ca_keys import CaKeys
from engine.backends.pki.context import Pki
from engine.backends.pki.paths_ca import CaPaths
from engine.backends.pki.paths_config import ConfigPaths
from engine.backends.pki.paths_fetch import UNAUTHENTICATED, FetchPaths
from engine.backends.pki.paths_intermediate import IntermediatePaths
from engine.backends.pki.paths_issue import IssuePaths
from engine.backends.pki.paths_revoke import RevokePaths
from engine.backends.pki.paths_roles import RolePaths
from engine.backends.pki.revocation import Revoker
from engine.errors import BadRequest
from engine.framework import Backend, SecretLease, SpecialPaths
from engine.mounts import BackendFactory, MountEntry
from engine.storage.base import Storage
from engine.token_keys import TokenKeys
from engine.tokens import Clock


class PkiBackend(Backend):
    special_paths = SpecialPaths(unauthenticated=UNAUTHENTICATED)

    def __init__(self, mount: MountEntry, token_keys: TokenKeys | None, clock: Clock) -> None:
        keys = CaKeys(token_keys, mount.uuid)
        self.pki = Pki(mount, keys, Revoker(keys, clock), clock)
        self.paths = [
            *CaPaths(self.pki).paths(),
            *IntermediatePaths(self.pki).paths(),
            *RolePaths().paths(),
            *IssuePaths(self.pki).paths(),
            *FetchPaths(self.pki).paths(),
            *RevokePaths(self.pki).paths(),
            *ConfigPaths(self.pki).paths(),
        ]

    async def revoke_secret(self, lease: SecretLease, storage: Storage) -> None:
        """A leased certificate's lease ended or was revoked: the certificate is revoked (on the CRL)."""
        serial = lease.internal_data.get("serial_number")
        if not isinstance(serial, str):
            raise BadRequest("could not find serial in internal secret data")
        if await certstore.load_cert(storage, serial) is None:
            return  # tidied away or never stored (no_store): nothing left to revoke
        await self.pki.revoker.revoke(storage, serial)


def pki_factory(token_keys: TokenKeys | None, clock: Clock) -> BackendFactory:
    """The mount factory, with the token for key_type hsm CAs (None without one) and the core's clock."""

    def make(entry: MountEntry) -> Backend:
        return PkiBackend(entry, token_keys, clock)

    return make
