"""engine.crypto recipes: AES-256-GCM, HKDF-SHA256, HMAC-SHA256, randomness. Published test vectors
where they exist, so a wrong mode, framing or parameter order fails here and not in production."""

from __future__ import annotations

import pytest

import engine.crypto
from engine.crypto import (
    DecryptError,
    HmacSha256,
    constant_time_equal,
    decrypt,
    derive_key,
    encrypt,
    hmac_sha256,
    new_key,
    random_bytes,
)

KEY = bytes(range(32))
_SUBMODULES = {"aead", "hashing", "kdf", "keys", "shamir", "x509"}


def test_encrypt_round_trip_and_framing() -> None:
    for plaintext in [b"", b"x", bytes(range(256)) * 40]:
        blob = encrypt(KEY, plaintext, b"aad")
        assert len(blob) == 12 + len(plaintext) + 16
        assert decrypt(KEY, blob, b"aad") == plaintext


def test_each_encryption_uses_a_fresh_nonce() -> None:
    blobs = {encrypt(KEY, b"same", b"aad") for _ in range(50)}
    assert len(blobs) == 50
    assert len({blob[:12] for blob in blobs}) == 50


def test_decrypts_a_published_aes_256_gcm_vector() -> None:
    # McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (256-bit key, AAD, 96-bit IV).
    key = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    iv = bytes.fromhex("cafebabefacedbaddecaf888")
    aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    ciphertext = bytes.fromhex(
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
    )
    tag = bytes.fromhex("76fc6ece0f4e1768cddf8853bb2d551b")
    plaintext = bytes.fromhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    )
    assert decrypt(key, iv + ciphertext + tag, aad) == plaintext


def test_any_flipped_bit_fails_to_decrypt() -> None:
    blob = encrypt(KEY, b"attack at dawn", b"aad")
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(DecryptError):
            decrypt(KEY, bytes(tampered), b"aad")


def test_wrong_key_aad_or_short_blob_fail_alike() -> None:
    blob = encrypt(KEY, b"secret", b"aad")
    failures = [
        (bytes(32), blob, b"aad"),
        (KEY, blob, b"other aad"),
        (KEY, blob, b""),
        (KEY[:16], blob, b"aad"),
        (KEY, blob[:-1], b"aad"),
        (KEY, blob + b"\x00", b"aad"),
        *[(KEY, blob[:n], b"aad") for n in range(28)],
    ]
    messages = set()
    for key, candidate, aad in failures:
        with pytest.raises(DecryptError) as caught:
            decrypt(key, candidate, aad)
        messages.add(str(caught.value))
    assert messages == {"message authentication failed"}


def test_encrypt_refuses_a_key_that_is_not_256_bits() -> None:
    for size in (0, 16, 24, 31, 33):
        with pytest.raises(ValueError, match="32-byte key"):
            encrypt(bytes(size), b"x", b"")


def test_hkdf_rfc5869_test_cases() -> None:
    ikm = bytes([0x0B]) * 22
    # Test case 1: salt and info.
    okm = derive_key(ikm, salt=bytes(range(13)), info=bytes(range(0xF0, 0xFA)), length=42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    # Test case 3: no salt, no info.
    okm = derive_key(ikm, info=b"", length=42)
    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_hkdf_separates_purposes_and_defaults_to_32_bytes() -> None:
    first = derive_key(KEY, info=b"purpose one")
    assert len(first) == 32
    assert first != derive_key(KEY, info=b"purpose two")
    assert first != derive_key(KEY, info=b"purpose one", salt=b"salt")
    assert first == derive_key(KEY, info=b"purpose one")


def test_hmac_sha256_rfc4231_test_case_2() -> None:
    mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert mac.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_a_keyed_hmac_gives_the_same_macs_call_after_call() -> None:
    keyed = HmacSha256(b"Jefe")
    for _ in range(2):  # each MAC starts from the keyed state, not from the last message
        assert keyed.digest(b"what do ya want for nothing?") == hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert keyed.digest(b"") == hmac_sha256(b"Jefe", b"")
    assert "Jefe" not in repr(keyed)


def test_constant_time_equal() -> None:
    assert constant_time_equal(b"abc", b"abc")
    assert not constant_time_equal(b"abc", b"abd")
    assert not constant_time_equal(b"abc", b"abcd")
    assert constant_time_equal(b"", b"")


def test_random_material() -> None:
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    assert {len(key) for key in keys} == {32}
    assert [len(random_bytes(n)) for n in (0, 1, 12, 1000)] == [0, 1, 12, 1000]
    assert random_bytes(16) != random_bytes(16)
    with pytest.raises(ValueError):
        random_bytes(-1)


def test_exported_members() -> None:
    assert sorted(engine.crypto.__all__) == sorted(
        name for name in vars(engine.crypto) if not name.startswith("_") and name not in _SUBMODULES
    )
    for name in engine.crypto.__all__:
        assert getattr(engine.crypto, name) is not None
