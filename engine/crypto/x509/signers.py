"""Who signs certificates, CSRs and CRLs: a key held in process, or an EC key inside a PKCS#11 token.

cryptography only signs with keys it holds. For a token key the document is built and signed with a
throwaway key of the same curve (so the signatureAlgorithm is right), its to-be-signed bytes are hashed,
the token signs the digest, and the DER is re-assembled with the token's signature (asn1crypto keeps the
to-be-signed part's original encoding). Every re-assembled document is verified against the token's
public key before it is returned, so a bad assembly can never be served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from asn1crypto import crl as asn1_crl
from asn1crypto import csr as asn1_csr
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from engine.crypto.x509.keys import KeyPair, load_public_key_der, signature_hash

# A token's ECDSA over a digest: the raw r || s.
SignDigest = Callable[[bytes], Awaitable[bytes]]
Signed = TypeVar("Signed", x509.Certificate, x509.CertificateRevocationList, x509.CertificateSigningRequest)


class SignatureAssemblyError(Exception):
    """A token-made signature did not verify against the token's public key."""


class Signer(Protocol):
    @property
    def public_key(self) -> CertificatePublicKeyTypes: ...

    async def certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate: ...

    async def crl(self, builder: x509.CertificateRevocationListBuilder) -> x509.CertificateRevocationList: ...

    async def csr(self, builder: x509.CertificateSigningRequestBuilder) -> x509.CertificateSigningRequest: ...


class SoftwareSigner:
    def __init__(self, key: KeyPair) -> None:
        self._key = key

    def __repr__(self) -> str:
        return f"<SoftwareSigner {self._key.key_type}>"

    @property
    def public_key(self) -> CertificatePublicKeyTypes:
        return self._key.public_key

    def _hash(self) -> hashes.HashAlgorithm | None:
        return signature_hash(self._key.public_key)

    async def certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        return builder.sign(self._key.private, self._hash())  # type: ignore[arg-type]

    async def crl(self, builder: x509.CertificateRevocationListBuilder) -> x509.CertificateRevocationList:
        return builder.sign(self._key.private, self._hash())  # type: ignore[arg-type]

    async def csr(self, builder: x509.CertificateSigningRequestBuilder) -> x509.CertificateSigningRequest:
        return builder.sign(self._key.private, self._hash())  # type: ignore[arg-type]


class TokenSigner:
    """An EC key pair whose private half stays in a token: `sign_digest` asks the token for r || s."""

    def __init__(self, public_key_der: bytes, sign_digest: SignDigest) -> None:
        public = load_public_key_der(public_key_der)
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise ValueError("token signing is offered for EC keys only")
        self._public = public
        self._public_der = public_key_der
        self._sign_digest = sign_digest
        hash_algorithm = signature_hash(public)
        assert hash_algorithm is not None
        self._hash = hash_algorithm

    def __repr__(self) -> str:
        return f"<TokenSigner {self._public.curve.name}>"

    @property
    def public_key(self) -> CertificatePublicKeyTypes:
        return self._public

    def _throwaway(self) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(self._public.curve)

    async def _signature(self, tbs: bytes) -> bytes:
        digest = hashes.Hash(self._hash)
        digest.update(tbs)
        raw = await self._sign_digest(digest.finalize())
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def _checked(self, document: Signed, signature: bytes, tbs: bytes) -> Signed:
        try:
            self._public.verify(signature, tbs, ec.ECDSA(self._hash))
        except InvalidSignature as exc:
            raise SignatureAssemblyError("the token's signature does not verify with its public key") from exc
        return document

    async def certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        draft = builder.sign(self._throwaway(), self._hash)
        signature = await self._signature(draft.tbs_certificate_bytes)
        parsed = asn1_x509.Certificate.load(draft.public_bytes(serialization.Encoding.DER))
        parsed["signature_value"] = signature
        final = x509.load_der_x509_certificate(parsed.dump())
        return self._checked(final, final.signature, final.tbs_certificate_bytes)

    async def crl(self, builder: x509.CertificateRevocationListBuilder) -> x509.CertificateRevocationList:
        draft = builder.sign(self._throwaway(), self._hash)
        signature = await self._signature(draft.tbs_certlist_bytes)
        parsed = asn1_crl.CertificateList.load(draft.public_bytes(serialization.Encoding.DER))
        parsed["signature"] = signature
        final = x509.load_der_x509_crl(parsed.dump())
        return self._checked(final, final.signature, final.tbs_certlist_bytes)

    async def csr(self, builder: x509.CertificateSigningRequestBuilder) -> x509.CertificateSigningRequest:
        # A CSR carries the key that signed it: the throwaway's is swapped for the token's before signing.
        draft = builder.sign(self._throwaway(), self._hash)
        parsed = asn1_csr.CertificationRequest.load(draft.public_bytes(serialization.Encoding.DER))
        info = parsed["certification_request_info"]
        info["subject_pk_info"] = asn1_keys.PublicKeyInfo.load(self._public_der)
        parsed["signature"] = await self._signature(info.dump())
        final = x509.load_der_x509_csr(parsed.dump())
        return self._checked(final, final.signature, final.tbs_certrequest_bytes)


def verify_signed_by(document: x509.Certificate, issuer_public: CertificatePublicKeyTypes) -> bool:
    """Whether `issuer_public` made the certificate's signature."""
    algorithm = document.signature_hash_algorithm
    try:
        if isinstance(issuer_public, rsa.RSAPublicKey):
            assert algorithm is not None
            issuer_public.verify(document.signature, document.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(issuer_public, ec.EllipticCurvePublicKey):
            assert algorithm is not None
            issuer_public.verify(document.signature, document.tbs_certificate_bytes, ec.ECDSA(algorithm))
        elif isinstance(issuer_public, ed25519.Ed25519PublicKey):
            issuer_public.verify(document.signature, document.tbs_certificate_bytes)
        else:
            return False
    except InvalidSignature:
        return False
    return True
