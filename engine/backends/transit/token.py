"""The PKCS#11 token as the hsm-* key types use it: labels, and the token's failures reported as engine
errors (the token's own exception types stay unknown here, see engine/token_keys.py)."""

from __future__ import annotations

from engine.backends.transit.errors import TransitError
from engine.backends.transit.keytypes import KeyType
from engine.token_keys import TokenKeys, calling_token

LABEL_PREFIX = "sealer-transit"


class TokenAccess:
    def __init__(self, keys: TokenKeys | None, mount_uuid: str) -> None:
        self._keys = keys
        self._mount_uuid = mount_uuid

    @property
    def available(self) -> bool:
        return self._keys is not None

    def label(self, name: str, version: int) -> str:
        """Unique per mount (its UUID survives remounts), key name and version."""
        return f"{LABEL_PREFIX}/{self._mount_uuid}/{name}/{version}"

    def require(self, key_type: KeyType) -> TokenKeys:
        if self._keys is None:
            raise TransitError(
                f"key type {key_type} keeps its key in a PKCS#11 token, and this server's seal has no token"
            )
        return self._keys

    async def generate_aes(self, key_type: KeyType, label: str) -> None:
        await calling_token("generate a key", self.require(key_type).generate_aes_key(label))

    async def generate_ec(self, key_type: KeyType, label: str) -> bytes:
        return await calling_token("generate a key pair", self.require(key_type).generate_ec_key(label, key_type.curve))

    async def encrypt(self, key_type: KeyType, label: str, plaintext: bytes, aad: bytes) -> bytes:
        return await calling_token("encrypt", self.require(key_type).aes_gcm_encrypt(label, plaintext, aad))

    async def decrypt(self, key_type: KeyType, label: str, blob: bytes, aad: bytes) -> bytes | None:
        return await calling_token("decrypt", self.require(key_type).aes_gcm_decrypt(label, blob, aad))

    async def sign(self, key_type: KeyType, label: str, digest: bytes) -> bytes:
        return await calling_token("sign", self.require(key_type).ec_sign(label, digest))

    async def destroy(self, key_type: KeyType, label: str) -> None:
        await calling_token("destroy a key", self.require(key_type).destroy(label))
