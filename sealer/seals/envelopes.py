"""The seal layer's own envelopes, built from engine.crypto's recipes: the barrier key derived from the
root key, the recovery key kept under the root key, and break-glass (the root key under the recovery
key). Each key is derived for one purpose (its HKDF info), so none can stand in for another."""

from __future__ import annotations

from engine.crypto import DecryptError, decrypt, derive_key, encrypt
from sealer.seals.base import SealKeyInvalid

BARRIER_KEY_INFO = b"sealer barrier key v1"
RECOVERY_WRAP_INFO = b"sealer recovery key wrap v2"
BREAK_GLASS_INFO = b"sealer break-glass v1"


def barrier_key(root_key: bytes, installation_id: bytes) -> bytes:
    return derive_key(root_key, salt=installation_id, info=BARRIER_KEY_INFO)


def wrap_recovery_key(root_key: bytes, recovery_key: bytes, installation_id: bytes, aad: bytes) -> bytes:
    return encrypt(derive_key(root_key, salt=installation_id, info=RECOVERY_WRAP_INFO), recovery_key, aad)


def unwrap_recovery_key(root_key: bytes, blob: bytes, installation_id: bytes, aad: bytes) -> bytes:
    try:
        return decrypt(derive_key(root_key, salt=installation_id, info=RECOVERY_WRAP_INFO), blob, aad)
    except DecryptError:
        # Authenticated under the root key: failing means the store was tampered with or mixed up.
        raise SealKeyInvalid("the stored recovery key does not open with this installation's root key") from None


def wrap_break_glass(recovery_key: bytes, root_key: bytes, installation_id: bytes, aad: bytes) -> bytes:
    return encrypt(derive_key(recovery_key, salt=installation_id, info=BREAK_GLASS_INFO), root_key, aad)


def unwrap_break_glass(recovery_key: bytes, blob: bytes, installation_id: bytes, aad: bytes) -> bytes:
    try:
        return decrypt(derive_key(recovery_key, salt=installation_id, info=BREAK_GLASS_INFO), blob, aad)
    except DecryptError:
        raise SealKeyInvalid("the recovery keys do not match this installation's recovery key") from None


def wrap_shamir(unseal_key: bytes, root_key: bytes, aad: bytes) -> bytes:
    return encrypt(unseal_key, root_key, aad)


def unwrap_shamir(unseal_key: bytes, blob: bytes, aad: bytes) -> bytes:
    try:
        return decrypt(unseal_key, blob, aad)
    except DecryptError:
        raise SealKeyInvalid("the unseal key is not the one this installation was initialised with") from None
