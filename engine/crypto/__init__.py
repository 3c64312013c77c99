"""The only package that touches cryptographic primitives. Everything else calls these recipes."""

# The transit engine's recipes are a package of their own: `from engine.crypto import transit`.
from engine.crypto import transit
from engine.crypto.aead import Cipher, DecryptError, decrypt, encrypt
from engine.crypto.hashing import HmacSha256, constant_time_equal, hmac_sha256
from engine.crypto.kdf import derive_key
from engine.crypto.keys import new_key, random_base62, random_bytes
from engine.crypto.shamir import ShamirError, combine, split

__all__ = [
    "Cipher",
    "DecryptError",
    "HmacSha256",
    "ShamirError",
    "combine",
    "constant_time_equal",
    "decrypt",
    "derive_key",
    "encrypt",
    "hmac_sha256",
    "new_key",
    "random_base62",
    "random_bytes",
    "split",
    "transit",
]
