"""AES-GCM and HMAC-SHA256 in the token."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from softhsm import SoftHsmToken, make_token

from hsm import Hsm, HsmDecryptFailed, open_hsm


@pytest.fixture
async def hsm(softhsm_token: SoftHsmToken) -> AsyncIterator[Hsm]:
    async with open_hsm(softhsm_token.pkcs11_settings()) as opened:
        yield opened


@pytest.mark.parametrize("size", [0, 1, 32, 4096, 65536])
async def test_round_trip(hsm: Hsm, size: int) -> None:
    plaintext = bytes(range(256)) * (size // 256) + bytes(size % 256)
    blob = await hsm.encrypt(plaintext, b"sealer/root")
    assert len(blob) == 12 + size + 16  # iv || ciphertext || tag
    # A short plaintext can turn up in random bytes by chance; from 16 bytes on, finding it means it leaked.
    assert size < 16 or plaintext not in blob
    assert await hsm.decrypt(blob, b"sealer/root") == plaintext


async def test_every_encryption_has_a_fresh_iv(hsm: Hsm) -> None:
    blobs = [await hsm.encrypt(b"same plaintext", b"aad") for _ in range(20)]
    assert len({blob[:12] for blob in blobs}) == 20
    assert len(set(blobs)) == 20


async def test_wrong_aad_fails_without_reconnecting(hsm: Hsm, caplog: pytest.LogCaptureFixture) -> None:
    blob = await hsm.encrypt(b"root key", b"path/a")
    with caplog.at_level(logging.WARNING, logger="sealer.hsm"), pytest.raises(HsmDecryptFailed):
        await hsm.decrypt(blob, b"path/b")
    # A failed tag check must not cost a module re-initialise (tampered input could churn it).
    assert not [r for r in caplog.records if r.name == "sealer.hsm"]
    assert await hsm.decrypt(blob, b"path/a") == b"root key"


@pytest.mark.parametrize(
    "position", [0, 11, 12, 20, -16, -1], ids=["iv0", "iv11", "ct0", "ct8", "tag0", "tag15"]
)
async def test_any_flipped_bit_fails(hsm: Hsm, position: int) -> None:
    blob = bytearray(await hsm.encrypt(b"0123456789abcdef", b"aad"))
    blob[position] ^= 0x01
    with pytest.raises(HsmDecryptFailed):
        await hsm.decrypt(bytes(blob), b"aad")


@pytest.mark.parametrize("cut", [0, 1, 27, 28])
async def test_truncated_blobs_fail(hsm: Hsm, cut: int) -> None:
    blob = await hsm.encrypt(b"0123456789abcdef", b"aad")
    with pytest.raises(HsmDecryptFailed):
        await hsm.decrypt(blob[:cut], b"aad")


async def test_a_blob_from_another_token_fails(hsm: Hsm, softhsm_token: SoftHsmToken) -> None:
    other = make_token(softhsm_token.directory, softhsm_token.label + "-other", "1111", "2222")
    async with open_hsm(other.pkcs11_settings()) as other_hsm:
        blob = await other_hsm.encrypt(b"not yours", b"aad")
    with pytest.raises(HsmDecryptFailed):
        await hsm.decrypt(blob, b"aad")


async def test_hmac_is_deterministic_and_32_bytes(hsm: Hsm) -> None:
    first = await hsm.hmac(b"derive: barrier")
    assert len(first) == 32
    assert await hsm.hmac(b"derive: barrier") == first
    assert await hsm.hmac(b"derive: audit") != first
    assert len(await hsm.hmac(b"")) == 32


async def test_hmac_differs_per_key(softhsm_token: SoftHsmToken) -> None:
    async with (
        open_hsm(softhsm_token.pkcs11_settings()) as default_key,
        open_hsm(
            softhsm_token.pkcs11_settings(hmac_key_label="second-hmac", key_label="second-wrap")
        ) as other,
    ):
        assert await default_key.hmac(b"same input") != await other.hmac(b"same input")
