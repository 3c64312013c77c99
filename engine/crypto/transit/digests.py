"""Hashes and HMACs by Vault's algorithm names (transit's hash, hmac, sign and verify endpoints)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac

_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha2-224": hashes.SHA224,
    "sha2-256": hashes.SHA256,
    "sha2-384": hashes.SHA384,
    "sha2-512": hashes.SHA512,
    "sha3-224": hashes.SHA3_224,
    "sha3-256": hashes.SHA3_256,
    "sha3-384": hashes.SHA3_384,
    "sha3-512": hashes.SHA3_512,
}

HASH_ALGORITHMS: frozenset[str] = frozenset(_ALGORITHMS)


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """The cryptography object for a Vault hash name; KeyError for an unknown one."""
    return _ALGORITHMS[name]()


def digest(algorithm: str, data: bytes) -> bytes:
    h = hashes.Hash(hash_algorithm(algorithm))
    h.update(data)
    return h.finalize()


def digest_size(algorithm: str) -> int:
    return hash_algorithm(algorithm).digest_size


def hmac_digest(algorithm: str, key: bytes, data: bytes) -> bytes:
    mac = hmac.HMAC(key, hash_algorithm(algorithm))
    mac.update(data)
    return mac.finalize()
