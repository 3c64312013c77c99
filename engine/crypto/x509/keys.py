"""Key pairs for certificates: generated in process (rsa, ec, ed25519) and written out as Vault writes
them (PKCS#1 for RSA, SEC 1 for EC, PKCS#8 for Ed25519, or PKCS#8 for all when asked)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes, PrivateKeyTypes

# A public key a certificate may carry, as the engine passes it around without looking inside.
PublicKey = CertificatePublicKeyTypes

RSA_BITS = (2048, 3072, 4096, 8192)
EC_CURVES: dict[int, type[ec.EllipticCurve]] = {
    224: ec.SECP224R1,
    256: ec.SECP256R1,
    384: ec.SECP384R1,
    521: ec.SECP521R1,
}
DEFAULT_BITS = {"rsa": 2048, "ec": 256, "ed25519": 0}
KEY_TYPES = tuple(DEFAULT_BITS)


class KeySpecError(ValueError):
    """A key type or size this engine does not make; the message is meant for the caller."""


def checked_bits(key_type: str, key_bits: int) -> int:
    """The size to use for `key_type` (0: its default); KeySpecError for an unsupported pair."""
    if key_type not in DEFAULT_BITS:
        raise KeySpecError(f"unknown key type {key_type}")
    bits = key_bits or DEFAULT_BITS[key_type]
    if key_type == "rsa" and bits not in RSA_BITS:
        raise KeySpecError(f"unsupported bit length for RSA key: {bits}")
    if key_type == "ec" and bits not in EC_CURVES:
        raise KeySpecError(f"unsupported bit length for EC key: {bits}")
    if key_type == "ed25519":
        bits = 0
    return bits


@dataclass(frozen=True)
class KeyPair:
    """A private key held in process. Its repr names the type only."""

    key_type: str
    key_bits: int
    private: PrivateKeyTypes = field(repr=False)

    @property
    def public_key(self) -> CertificatePublicKeyTypes:
        public = self.private.public_key()
        assert isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey)
        return public

    def pem(self, pkcs8: bool = False) -> str:
        traditional = self.key_type != "ed25519" and not pkcs8
        encoding = serialization.PrivateFormat.TraditionalOpenSSL if traditional else serialization.PrivateFormat.PKCS8
        return self.private.private_bytes(serialization.Encoding.PEM, encoding, serialization.NoEncryption()).decode()


def generate_key(key_type: str, key_bits: int = 0) -> KeyPair:
    bits = checked_bits(key_type, key_bits)
    private: PrivateKeyTypes
    if key_type == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    elif key_type == "ec":
        private = ec.generate_private_key(EC_CURVES[bits]())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    return KeyPair(key_type, bits, private)


def load_key(pem: str) -> KeyPair:
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    key_type, bits = describe_public_key(private.public_key())  # type: ignore[arg-type]
    return KeyPair(key_type, bits, private)


def describe_public_key(public: object) -> tuple[str, int]:
    """("rsa" | "ec" | "ed25519", bits) of a public key; KeySpecError for any other kind."""
    if isinstance(public, rsa.RSAPublicKey):
        return "rsa", public.key_size
    if isinstance(public, ec.EllipticCurvePublicKey):
        return "ec", public.curve.key_size
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "ed25519", 0
    raise KeySpecError(f"unsupported public key type {type(public).__name__}")


def signature_hash(public: object) -> hashes.HashAlgorithm | None:
    """The digest a key signs with, as Vault picks it: SHA-256 for RSA, the curve's size for EC (P-224 and
    P-256 use SHA-256), none for Ed25519."""
    if isinstance(public, ec.EllipticCurvePublicKey):
        size = public.curve.key_size
        return hashes.SHA512() if size > 384 else hashes.SHA384() if size > 256 else hashes.SHA256()
    if isinstance(public, ed25519.Ed25519PublicKey):
        return None
    return hashes.SHA256()


def load_public_key_der(der: bytes) -> CertificatePublicKeyTypes:
    public = serialization.load_der_public_key(der)
    assert isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey)
    return public


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)


def split_pem_bundle(text: str) -> tuple[str | None, list[str]]:
    """(the private key's PEM block or None, the certificates' PEM blocks in order) of a PEM bundle."""
    key, certs = None, []
    for block in _PEM_BLOCK.finditer(text):
        kind = block.group(1)
        if kind.endswith("PRIVATE KEY"):
            key = block.group(0)
        elif kind == "CERTIFICATE":
            certs.append(block.group(0))
    return key, certs
