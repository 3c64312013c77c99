"""Keys of the transit engine kept as token objects, found by label (once per connection: key_handles.py):
generated in the token, never extractable, used in place. Synchronous: these run on the module's worker
thread (Hsm.in_session)."""

from __future__ import annotations

import os
from typing import Any

from pkcs11 import (
    Attribute,
    GCMParams,
    GeneralError,
    KeyType,
    Mechanism,
    MechanismFlag,
    ObjectClass,
    PrivateKey,
    PublicKey,
    SecretKey,
    Session,
)
from pkcs11 import exceptions as p11
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from hsm.errors import HsmDecryptFailed, HsmError, Where, pkcs11_errors
from hsm.key_handles import KeyHandles

IV_BYTES = 12
TAG_BITS = 128
AES_KEY_BITS = 256
# The curves engines may keep in a token (transit P-256, PKI CAs P-256 and P-384), by the engine's name ->
# the OID name python-pkcs11 encodes.
CURVES = {"P-256": "secp256r1", "P-384": "secp384r1"}

# Objects that must never leave the token, whatever the token's defaults.
_SECRET = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.MODIFIABLE: False,
}
_PUBLIC = {Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.MODIFIABLE: False}

_REPORTED = {
    "token": Attribute.TOKEN,
    "private": Attribute.PRIVATE,
    "sensitive": Attribute.SENSITIVE,
    "extractable": Attribute.EXTRACTABLE,
    "always_sensitive": Attribute.ALWAYS_SENSITIVE,
    "never_extractable": Attribute.NEVER_EXTRACTABLE,
    "modifiable": Attribute.MODIFIABLE,
}


def _where(where: Where, label: str, action: str) -> Where:
    return where.with_key(label, f"{action} key '{label}'")


def destroy(session: Session, where: Where, handles: KeyHandles, *, label: str) -> None:
    """Every object labelled `label` (a key, or both halves of a pair). Needs a read-write session."""
    handles.forget(label)
    with pkcs11_errors(_where(where, label, "destroy")):
        for found in list(session.get_objects({Attribute.LABEL: label})):
            found.destroy()


def generate_aes(session: Session, where: Where, handles: KeyHandles, *, label: str) -> None:
    # An orphan of an interrupted create: its label is ours to reuse.
    destroy(session, where, handles, label=label)
    with pkcs11_errors(_where(where, label, "generate")):
        session.generate_key(
            KeyType.AES,
            AES_KEY_BITS,
            label=label,
            store=True,
            capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            template=_SECRET,
        )


def generate_ec(session: Session, where: Where, handles: KeyHandles, *, label: str, curve: str) -> bytes:
    """A key pair on `curve`; returns the public key as DER SubjectPublicKeyInfo."""
    if curve not in CURVES:
        raise HsmError(f"curve {curve} is not offered for token keys (only {', '.join(CURVES)})")
    destroy(session, where, handles, label=label)
    with pkcs11_errors(_where(where, label, "generate")):
        parameters = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(CURVES[curve])}, local=True
        )
        public, _private = parameters.generate_keypair(
            label=label,
            store=True,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            public_template=_PUBLIC,
            private_template=_SECRET,
        )
        return bytes(encode_ec_public_key(public))


def _secret(session: Session, handles: KeyHandles, label: str, where: Where) -> SecretKey:
    with pkcs11_errors(_where(where, label, "look up")):
        key = handles.key(session, ObjectClass.SECRET_KEY, KeyType.AES, label)
    assert isinstance(key, SecretKey)
    return key


def _private(session: Session, handles: KeyHandles, label: str, where: Where) -> PrivateKey:
    with pkcs11_errors(_where(where, label, "look up")):
        key = handles.key(session, ObjectClass.PRIVATE_KEY, KeyType.EC, label)
    assert isinstance(key, PrivateKey)
    return key


def _gcm(iv: bytes, aad: bytes) -> dict[str, Any]:
    return {"mechanism": Mechanism.AES_GCM, "mechanism_param": GCMParams(iv, aad, TAG_BITS)}


def aes_gcm_encrypt(
    session: Session, where: Where, handles: KeyHandles, *, label: str, plaintext: bytes, aad: bytes
) -> bytes:
    """iv(12) || ciphertext || tag(16), the IV fresh from the OS for every message."""
    key = _secret(session, handles, label, where)
    iv = os.urandom(IV_BYTES)
    with pkcs11_errors(_where(where, label, "encrypt with")):
        return iv + bytes(key.encrypt(plaintext, **_gcm(iv, aad)))


def aes_gcm_decrypt(
    session: Session, where: Where, handles: KeyHandles, *, label: str, blob: bytes, aad: bytes
) -> bytes:
    """The inverse of aes_gcm_encrypt; HsmDecryptFailed when the blob does not authenticate."""
    key = _secret(session, handles, label, where)
    if len(blob) < IV_BYTES + TAG_BITS // 8:
        raise HsmDecryptFailed()
    iv, sealed = blob[:IV_BYTES], blob[IV_BYTES:]
    try:
        return bytes(key.decrypt(sealed, **_gcm(iv, aad)))
    except GeneralError as exc:
        # SoftHSM reports a failed tag and a lost session alike: if the key still encrypts, the data
        # was bad (and no reconnect is started for it).
        with pkcs11_errors(_where(where, label, "decrypt with")):
            key.encrypt(b"", **_gcm(os.urandom(IV_BYTES), b""))
        raise HsmDecryptFailed() from exc
    except p11.PKCS11Error as exc:
        if isinstance(exc, p11.EncryptedDataInvalid | p11.EncryptedDataLenRange | p11.DataLenRange):
            raise HsmDecryptFailed() from exc
        with pkcs11_errors(_where(where, label, "decrypt with")):
            raise


def ec_sign(session: Session, where: Where, handles: KeyHandles, *, label: str, digest: bytes) -> bytes:
    """CKM_ECDSA over the digest: r || s."""
    key = _private(session, handles, label, where)
    with pkcs11_errors(_where(where, label, "sign with")):
        return bytes(key.sign(digest, mechanism=Mechanism.ECDSA))


def ec_public_key(session: Session, where: Where, handles: KeyHandles, *, label: str) -> bytes:
    with pkcs11_errors(_where(where, label, "look up")):
        key = handles.key(session, ObjectClass.PUBLIC_KEY, KeyType.EC, label)
        assert isinstance(key, PublicKey)
        return bytes(encode_ec_public_key(key))


def attributes(session: Session, where: Where, handles: KeyHandles, *, label: str) -> dict[str, Any]:
    """What the token says of the secret or private key labelled `label`."""
    with pkcs11_errors(_where(where, label, "look up")):
        found = [
            obj
            for obj in session.get_objects({Attribute.LABEL: label})
            if obj.object_class in (ObjectClass.SECRET_KEY, ObjectClass.PRIVATE_KEY)
        ]
    if len(found) != 1:
        raise HsmError(
            f"expected one secret or private key labelled '{label}' on token {where.token}, found {len(found)}"
        )
    key = found[0]
    with pkcs11_errors(_where(where, label, "read the attributes of")):
        report: dict[str, Any] = {
            "label": label,
            "class": key.object_class.name,
            "key_type": key[Attribute.KEY_TYPE].name,
        }
        report.update({name: bool(key[attribute]) for name, attribute in _REPORTED.items()})
    try:
        key[Attribute.VALUE]
        report["value_readable"] = True
    except (p11.AttributeSensitive, p11.AttributeTypeInvalid):
        report["value_readable"] = False
    return report
