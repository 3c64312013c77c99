"""Transit's key types: their names, the numbers Vault stores for them, and what each can do.

The hsm-* types are this project's own (Vault's numbers end at 11 in the open-source edition, so they
take numbers far above): their key material is generated and used inside the PKCS#11 token.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Family(enum.Enum):
    AEAD = "aead"
    ECDSA = "ecdsa"
    ED25519 = "ed25519"
    RSA = "rsa"
    HMAC = "hmac"


@dataclass(frozen=True)
class KeyType:
    name: str
    code: int  # Vault's keysutil.KeyType value, as stored in policies and backups
    family: Family
    key_bytes: int = 0  # AEAD key size
    curve: str = ""  # ECDSA curve
    rsa_bits: int = 0
    in_token: bool = False

    def __str__(self) -> str:
        return self.name

    @property
    def encryption_supported(self) -> bool:
        return self.family in (Family.AEAD, Family.RSA)

    @property
    def signing_supported(self) -> bool:
        return self.family in (Family.ECDSA, Family.ED25519, Family.RSA)

    @property
    def derivation_supported(self) -> bool:
        return (self.family is Family.AEAD and not self.in_token) or self.family is Family.ED25519

    @property
    def associated_data_supported(self) -> bool:
        return self.family is Family.AEAD

    @property
    def hashes_signature_input(self) -> bool:
        return self.family in (Family.ECDSA, Family.RSA)

    @property
    def hmac_supported(self) -> bool:
        """Token keys have no software HMAC key beside them: nothing of theirs exists outside the token."""
        return not self.in_token


AES128_GCM96 = KeyType("aes128-gcm96", 8, Family.AEAD, key_bytes=16)
AES256_GCM96 = KeyType("aes256-gcm96", 0, Family.AEAD, key_bytes=32)
CHACHA20_POLY1305 = KeyType("chacha20-poly1305", 5, Family.AEAD, key_bytes=32)
ED25519 = KeyType("ed25519", 2, Family.ED25519)
ECDSA_P256 = KeyType("ecdsa-p256", 1, Family.ECDSA, curve="P-256")
ECDSA_P384 = KeyType("ecdsa-p384", 6, Family.ECDSA, curve="P-384")
ECDSA_P521 = KeyType("ecdsa-p521", 7, Family.ECDSA, curve="P-521")
RSA2048 = KeyType("rsa-2048", 3, Family.RSA, rsa_bits=2048)
RSA3072 = KeyType("rsa-3072", 9, Family.RSA, rsa_bits=3072)
RSA4096 = KeyType("rsa-4096", 4, Family.RSA, rsa_bits=4096)
HMAC = KeyType("hmac", 11, Family.HMAC)
HSM_AES256_GCM96 = KeyType("hsm-aes256-gcm96", 1000, Family.AEAD, key_bytes=32, in_token=True)
HSM_ECDSA_P256 = KeyType("hsm-ecdsa-p256", 1001, Family.ECDSA, curve="P-256", in_token=True)

ALL = (
    AES128_GCM96,
    AES256_GCM96,
    CHACHA20_POLY1305,
    ED25519,
    ECDSA_P256,
    ECDSA_P384,
    ECDSA_P521,
    RSA2048,
    RSA3072,
    RSA4096,
    HMAC,
    HSM_AES256_GCM96,
    HSM_ECDSA_P256,
)
BY_NAME = {t.name: t for t in ALL}
BY_CODE = {t.code: t for t in ALL}

# Types the encrypt endpoint may create on first use (Vault's upsert).
UPSERTABLE = (AES128_GCM96, AES256_GCM96, CHACHA20_POLY1305, RSA2048, RSA3072, RSA4096)

HMAC_MIN_KEY_BYTES = 32
HMAC_MAX_KEY_BYTES = 512
HMAC_DEFAULT_KEY_BYTES = 32
