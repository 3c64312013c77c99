"""The `rsa-oaep` mechanism: for tokens without AES-GCM or key wrap (a TPM through tpm2-pkcs11), the
token's RSA key pair stands in for its AES key.

RSA-OAEP has no associated data, so the AAD is bound inside the plaintext: the token encrypts
SHA-256(AAD_LABEL + aad) || plaintext, and decrypt refuses a blob whose prefix is not that digest. OAEP
uses SHA-1 with MGF1-SHA-1, the one variant SoftHSM 2.6 has too (tpm2-pkcs11 has it and SHA-256); OAEP's
security does not rest on the hash's collision resistance. A 2048-bit key takes 214 bytes, room for the
32-byte digest and the seal's 60-byte inner layer.

Decrypting runs in a session of its own, closed afterwards: after a failed operation tpm2-pkcs11 leaves a
session stuck (OperationActive), and a wrong blob must not break the daemon's main session.
"""

from __future__ import annotations

import hashlib
import hmac
from contextlib import suppress

from pkcs11 import (
    MGF,
    Attribute,
    KeyType,
    Mechanism,
    MechanismFlag,
    NoSuchKey,
    ObjectClass,
    PublicKey,
    Session,
    Token,
)
from pkcs11 import exceptions as p11

from hsm.errors import HsmDecryptFailed, HsmError, Where, pkcs11_errors, translate

AAD_LABEL = b"sealer/rsa-oaep-aad/"
DIGEST_BYTES = 32
KEY_BITS = 2048
OAEP_PARAMS = (Mechanism.SHA_1, MGF.SHA1, None)
_NEVER_LEAVES = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True}
_BAD_CIPHERTEXT = (p11.EncryptedDataInvalid, p11.EncryptedDataLenRange, p11.DataLenRange, p11.DataInvalid,
                   p11.GeneralError)


def _bound(aad: bytes) -> bytes:
    return hashlib.sha256(AAD_LABEL + aad).digest()


def encrypt(public: PublicKey, plaintext: bytes, aad: bytes, where: Where) -> bytes:
    with pkcs11_errors(where.with_key(where.key or "", "encrypt with RSA-OAEP")):
        return bytes(public.encrypt(_bound(aad) + plaintext, mechanism=Mechanism.RSA_PKCS_OAEP,
                                    mechanism_param=OAEP_PARAMS))


def decrypt(token: Token, label: str, blob: bytes, aad: bytes, where: Where) -> bytes:
    """The inverse of encrypt, in a session of its own; HsmDecryptFailed on another key, AAD or tampering."""
    with pkcs11_errors(where.with_key(label, "open a session to decrypt with RSA-OAEP")):
        session = token.open()
    try:
        with pkcs11_errors(where.with_key(label, f"look up key '{label}'")):
            private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.RSA, label=label)
        try:
            plain = bytes(private.decrypt(blob, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=OAEP_PARAMS))
        except _BAD_CIPHERTEXT as exc:
            raise HsmDecryptFailed() from exc
        except p11.PKCS11Error as exc:
            raise translate(exc, where.with_key(label, "decrypt with RSA-OAEP")) from exc
    finally:
        with suppress(p11.PKCS11Error):
            session.close()
    if len(plain) < DIGEST_BYTES or not hmac.compare_digest(plain[:DIGEST_BYTES], _bound(aad)):
        raise HsmDecryptFailed()
    return plain[DIGEST_BYTES:]


def key_pair(session: Session, label: str, *, generate: bool, where: Where) -> PublicKey:
    """The RSA key pair labelled `label` (generated if missing and allowed); its public half. The private
    half must never leave the token."""
    lookup = where.with_key(label, f"look up RSA key pair '{label}'")
    with pkcs11_errors(lookup):
        try:
            public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, key_type=KeyType.RSA, label=label)
            private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.RSA, label=label)
        except NoSuchKey:
            if not generate:
                raise
            public, private = session.generate_keypair(
                KeyType.RSA, KEY_BITS, label=label, store=True,
                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT, private_template=_NEVER_LEAVES)
        sensitive, extractable = private[Attribute.SENSITIVE], private[Attribute.EXTRACTABLE]
    if not sensitive or extractable:
        raise HsmError(f"RSA key '{label}' on token {where.token} can leave the token (sensitive={bool(sensitive)}, "
                       f"extractable={bool(extractable)}); refusing to use it")
    return public
