"""A token's wrapping of the root key needs both of that token's keys: the AES key (inside the token)
and the HMAC key (from which the inner layer's key is derived). Either one alone, even on the right
token, opens nothing."""

from __future__ import annotations

import pytest

from engine.crypto import new_key
from engine.storage.memory import MemoryStorage
from sealer.seal_manager import InitRequest, SealManager
from sealer.seals.base import SealKeyInvalid, SealUnavailable
from sealer.seals.pkcs11 import Pkcs11Seal
from tests.softhsm import SoftHsmToken

AAD = b"sealer/root-key/test-installation"


async def opened(token: SoftHsmToken, key_label: str, hmac_key_label: str) -> Pkcs11Seal:
    seal = Pkcs11Seal(token.pkcs11_settings(key_label=key_label, hmac_key_label=hmac_key_label), name="hsm")
    await seal.open()
    return seal


async def test_the_wrapping_opens_with_the_same_two_keys_and_needs_the_hmac_layer(softhsm_token) -> None:
    secret = new_key()
    seal = await opened(softhsm_token, "wrap-a", "hmac-a")
    try:
        blob = await seal.wrap(secret, AAD)
        assert secret not in blob
        assert await seal.unwrap(blob, AAD) == secret
        # The token's AES layer alone gives back only the inner layer, never the secret.
        assert seal.hsm is not None
        inner = await seal.hsm.decrypt(blob, AAD)
        assert secret not in inner and len(inner) > len(secret)
        with pytest.raises(SealKeyInvalid):
            await seal.unwrap(blob, b"sealer/root-key/another-installation")
    finally:
        await seal.close()


async def test_the_right_aes_key_with_another_hmac_key_cannot_unwrap(softhsm_token) -> None:
    secret = new_key()
    seal = await opened(softhsm_token, "wrap-a", "hmac-a")
    other_hmac = await opened(softhsm_token, "wrap-a", "hmac-b")
    try:
        blob = await seal.wrap(secret, AAD)
        with pytest.raises(SealKeyInvalid, match="HMAC key 'hmac-b'"):
            await other_hmac.unwrap(blob, AAD)
    finally:
        await seal.close()
        await other_hmac.close()


async def test_the_right_hmac_key_with_another_aes_key_cannot_unwrap(softhsm_token) -> None:
    seal = await opened(softhsm_token, "wrap-a", "hmac-a")
    other_aes = await opened(softhsm_token, "wrap-b", "hmac-a")
    try:
        blob = await seal.wrap(new_key(), AAD)
        with pytest.raises(SealKeyInvalid, match="key 'wrap-b'"):
            await other_aes.unwrap(blob, AAD)
    finally:
        await seal.close()
        await other_aes.close()


async def test_a_store_does_not_unseal_with_another_hmac_key_on_the_same_token(softhsm_token) -> None:
    storage = MemoryStorage()
    first = SealManager(storage, Pkcs11Seal(softhsm_token.pkcs11_settings(key_label="wrap-a", hmac_key_label="hmac-a"),
                                            name="hsm"))
    init = await first.initialize(InitRequest(recovery_shares=1, recovery_threshold=1))
    await first.seal.close()

    swapped = SealManager(storage, Pkcs11Seal(
        softhsm_token.pkcs11_settings(key_label="wrap-a", hmac_key_label="hmac-b"), name="hsm"))
    try:
        with pytest.raises(SealUnavailable, match="HMAC key 'hmac-b'"):
            await swapped.auto_unseal()
        assert swapped.sealed
    finally:
        await swapped.seal.close()

    again = SealManager(storage, Pkcs11Seal(
        softhsm_token.pkcs11_settings(key_label="wrap-a", hmac_key_label="hmac-a"), name="hsm"))
    try:
        assert await again.auto_unseal() and await again.core.is_root_token(init.root_token)
    finally:
        await again.seal.close()
