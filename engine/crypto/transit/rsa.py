"""RSA for transit: PSS and PKCS#1 v1.5 signatures over a digest, OAEP-SHA256 encryption, and the key as
its integers (Vault stores Go's rsa.PrivateKey as JSON numbers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from engine.crypto.transit.digests import hash_algorithm

PUBLIC_EXPONENT = 65537
# Go's rsa.PSSSaltLengthAuto and PSSSaltLengthEqualsHash, as Vault's salt_length parameter uses them.
SALT_LENGTH_AUTO = 0
SALT_LENGTH_EQUALS_HASH = -1


class RsaDecryptFailed(Exception):
    def __init__(self) -> None:
        super().__init__("crypto/rsa: decryption error")


@dataclass(frozen=True)
class RsaKey:
    n: int
    e: int
    d: int = field(repr=False)
    p: int = field(repr=False)
    q: int = field(repr=False)

    @property
    def size(self) -> int:
        """The modulus size in bytes."""
        return (self.n.bit_length() + 7) // 8

    def crt(self) -> tuple[int, int, int]:
        """(dp, dq, qinv), Go's Precomputed values."""
        return rsa.rsa_crt_dmp1(self.d, self.p), rsa.rsa_crt_dmq1(self.d, self.q), rsa.rsa_crt_iqmp(self.p, self.q)


def rsa_generate(bits: int) -> RsaKey:
    key = rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)
    numbers = key.private_numbers()
    return RsaKey(numbers.public_numbers.n, numbers.public_numbers.e, numbers.d, numbers.p, numbers.q)


@lru_cache(maxsize=64)
def _private_key(key: RsaKey) -> rsa.RSAPrivateKey:
    dp, dq, qinv = key.crt()
    public = rsa.RSAPublicNumbers(key.e, key.n)
    return rsa.RSAPrivateNumbers(key.p, key.q, key.d, dp, dq, qinv, public).private_key()


@lru_cache(maxsize=256)
def _public_key(n: int, e: int) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(e, n).public_key()


def rsa_public_pem(n: int, e: int) -> str:
    """SubjectPublicKeyInfo PEM with its trailing newline, as Vault returns it."""
    pem = _public_key(n, e).public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode()


def rsa_private_pem(key: RsaKey) -> str:
    """PKCS#1 "RSA PRIVATE KEY" PEM, as Go's x509.MarshalPKCS1PrivateKey (Vault keeps the newline)."""
    pem = _private_key(key).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return pem.decode()


def pss_max_salt_length(n: int, algorithm: str) -> int:
    return (n.bit_length() - 1 + 7) // 8 - 2 - hash_algorithm(algorithm).digest_size


def pss_salt_length_valid(n: int, algorithm: str, salt_length: int) -> bool:
    """Vault's validRSAPSSSaltLength: from "equals hash" (-1) up to the maximum the key allows."""
    return SALT_LENGTH_EQUALS_HASH <= salt_length <= pss_max_salt_length(n, algorithm)


def _padding(scheme: str, algorithm: str, salt_length: int, *, signing: bool) -> padding.AsymmetricPadding:
    if scheme == "pkcs1v15":
        return padding.PKCS1v15()
    mgf = padding.MGF1(hash_algorithm(algorithm))
    if salt_length == SALT_LENGTH_AUTO:
        # Go signs "auto" with the longest salt and detects the length when verifying.
        return padding.PSS(mgf=mgf, salt_length=padding.PSS.MAX_LENGTH if signing else padding.PSS.AUTO)
    if salt_length == SALT_LENGTH_EQUALS_HASH:
        return padding.PSS(mgf=mgf, salt_length=padding.PSS.DIGEST_LENGTH)
    return padding.PSS(mgf=mgf, salt_length=salt_length)


def rsa_sign_digest(key: RsaKey, digest: bytes, algorithm: str, scheme: str, salt_length: int) -> bytes:
    """Sign a digest made with `algorithm`; scheme "pss" or "pkcs1v15". ValueError if the digest does not
    have the algorithm's size."""
    return _private_key(key).sign(
        digest, _padding(scheme, algorithm, salt_length, signing=True), Prehashed(hash_algorithm(algorithm))
    )


def rsa_verify_digest(
    n: int, e: int, digest: bytes, signature: bytes, algorithm: str, scheme: str, salt_length: int
) -> bool:
    try:
        _public_key(n, e).verify(
            signature,
            digest,
            _padding(scheme, algorithm, salt_length, signing=False),
            Prehashed(hash_algorithm(algorithm)),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def rsa_oaep_encrypt(n: int, e: int, plaintext: bytes) -> bytes:
    """RSA-OAEP with SHA-256 and no label, as Vault's rsa.EncryptOAEP(sha256.New(), ...). ValueError if the
    plaintext is too long for the key."""
    return _public_key(n, e).encrypt(plaintext, _oaep())


def rsa_oaep_decrypt(key: RsaKey, ciphertext: bytes) -> bytes:
    try:
        return _private_key(key).decrypt(ciphertext, _oaep())
    except ValueError as exc:
        raise RsaDecryptFailed() from exc
