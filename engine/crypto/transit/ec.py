"""ECDSA on the NIST curves, with keys held as integers (Vault stores ec_d, ec_x, ec_y as JSON numbers).

Signing and verification take a digest, as Go's ecdsa.Sign does: the hashing (or not, for prehashed
input) is the caller's choice."""

from __future__ import annotations

from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

_CURVES: dict[str, type[ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
# The hash whose size matches each curve: a digest is fitted to it as Go's hashToInt fits it to the order.
_FITTING_HASH: dict[str, type[hashes.HashAlgorithm]] = {
    "P-256": hashes.SHA256,
    "P-384": hashes.SHA384,
    "P-521": hashes.SHA512,
}
_CURVE_NAMES = {cls.name: name for name, cls in _CURVES.items()}

CURVES: frozenset[str] = frozenset(_CURVES)


def curve_bits(curve: str) -> int:
    return _CURVES[curve]().key_size


def ec_generate(curve: str) -> tuple[int, int, int]:
    """A new private key: (d, x, y)."""
    key = ec.generate_private_key(_CURVES[curve]())
    public = key.public_key().public_numbers()
    return key.private_numbers().private_value, public.x, public.y


@lru_cache(maxsize=256)
def _private_key(curve: str, d: int) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(d, _CURVES[curve]())


@lru_cache(maxsize=256)
def _public_key(curve: str, x: int, y: int) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicNumbers(x, y, _CURVES[curve]()).public_key()


def _fit(curve: str, digest: bytes) -> tuple[bytes, ec.ECDSA]:
    """The digest as the integer Go's ecdsa would use, framed for the curve's natural hash size."""
    algorithm = _FITTING_HASH[curve]()
    size = algorithm.digest_size
    if len(digest) <= size:
        digest = digest.rjust(size, b"\x00")  # leading zeros leave the integer unchanged
    elif curve != "P-521":
        digest = digest[:size]  # the leftmost bits, as hashToInt keeps them
    else:
        raise ValueError(f"a digest of {len(digest)} bytes cannot be signed with {curve}")
    return digest, ec.ECDSA(Prehashed(algorithm))


def ec_sign_digest(curve: str, d: int, digest: bytes) -> tuple[int, int]:
    fitted, algorithm = _fit(curve, digest)
    return decode_dss_signature(_private_key(curve, d).sign(fitted, algorithm))


def ec_verify_digest(curve: str, x: int, y: int, digest: bytes, r: int, s: int) -> bool:
    try:
        fitted, algorithm = _fit(curve, digest)
        _public_key(curve, x, y).verify(encode_dss_signature(r, s), fitted, algorithm)
    except (InvalidSignature, ValueError):
        return False
    return True


def ec_signature_der(r: int, s: int) -> bytes:
    """ASN.1 ECDSA-Sig-Value, as OpenSSL and X.509 use."""
    return encode_dss_signature(r, s)


def ec_signature_from_der(der: bytes) -> tuple[int, int]:
    """(r, s) from ASN.1 DER; ValueError if it does not parse or has trailing data."""
    return decode_dss_signature(der)


def ec_public_pem(curve: str, x: int, y: int) -> str:
    """SubjectPublicKeyInfo PEM, with the trailing newline Go's pem.EncodeToMemory writes."""
    pem = _public_key(curve, x, y).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def ec_private_pem(curve: str, d: int) -> str:
    """SEC 1 "EC PRIVATE KEY" PEM, as Go's x509.MarshalECPrivateKey (no trailing newline, as Vault trims it)."""
    pem = _private_key(curve, d).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return pem.decode().strip()


def ec_point_from_der(der: bytes) -> tuple[str, int, int]:
    """(curve, x, y) of a DER SubjectPublicKeyInfo holding an EC key on one of CURVES."""
    key = serialization.load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in _CURVE_NAMES:
        raise ValueError("not an EC public key on a supported curve")
    numbers = key.public_numbers()
    return _CURVE_NAMES[key.curve.name], numbers.x, numbers.y
