"""Ed25519 with keys in Go's form: the 64-byte private key is seed || public key."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SEED_SIZE = 32
PUBLIC_SIZE = 32


def ed25519_from_seed(seed: bytes) -> bytes:
    """Go's ed25519.NewKeyFromSeed: seed || public key."""
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return seed + public


def ed25519_generate() -> bytes:
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return ed25519_from_seed(seed)


def ed25519_public(private: bytes) -> bytes:
    return ed25519_from_seed(private[:SEED_SIZE])[SEED_SIZE:]


def ed25519_sign(private: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(private[:SEED_SIZE]).sign(message)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
