"""Finding (or creating) the two token keys, and refusing keys that could leave the token."""

from __future__ import annotations

from dataclasses import replace

from pkcs11 import Attribute, KeyType, MechanismFlag, NoSuchKey, ObjectClass, SecretKey, Session

from hsm.errors import HsmError, Where, pkcs11_errors

AES_KEY_BYTES = 32
HMAC_MIN_KEY_BYTES = 32

_NEVER_LEAVES = {
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.PRIVATE: True,
}


def aes_key(session: Session, label: str, *, generate: bool, where: Where) -> SecretKey:
    """The AES-256 key for CKM_AES_GCM."""
    key = _find_or_generate(
        session,
        label,
        KeyType.AES,
        AES_KEY_BYTES,
        MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
        generate=generate,
        where=where,
    )
    with pkcs11_errors(where.with_key(label, f"read the attributes of key '{label}'")):
        length = key[Attribute.VALUE_LEN]
    if length != AES_KEY_BYTES:
        raise HsmError(f"key '{label}' on token {where.token} is AES-{length * 8}, expected AES-256")
    return key


def hmac_key(session: Session, label: str, *, generate: bool, where: Where) -> SecretKey:
    """The GENERIC_SECRET key for CKM_SHA256_HMAC (or a CKK_SHA256_HMAC one, as tpm2-pkcs11 makes them)."""
    with pkcs11_errors(where.with_key(label, f"look up key '{label}'")):
        try:
            typed = session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.SHA256_HMAC, label=label)
        except NoSuchKey:
            typed = None
    if typed is not None:
        _refuse_exportable(typed, label, where)
    key = typed or _find_or_generate(
        session,
        label,
        KeyType.GENERIC_SECRET,
        HMAC_MIN_KEY_BYTES,
        MechanismFlag.SIGN | MechanismFlag.VERIFY,
        generate=generate,
        where=where,
    )
    with pkcs11_errors(where.with_key(label, f"read the attributes of key '{label}'")):
        length = key[Attribute.VALUE_LEN]
    if length < HMAC_MIN_KEY_BYTES:
        raise HsmError(
            f"key '{label}' on token {where.token} has {length} bytes; HMAC-SHA256 needs at least "
            f"{HMAC_MIN_KEY_BYTES}"
        )
    return key


def _find_or_generate(
    session: Session,
    label: str,
    key_type: KeyType,
    length: int,
    capabilities: MechanismFlag,
    *,
    generate: bool,
    where: Where,
) -> SecretKey:
    lookup = where.with_key(label, f"look up key '{label}'")
    with pkcs11_errors(lookup):
        try:
            key = session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=key_type, label=label)
        except NoSuchKey:
            if not generate:
                raise
            key = None
    if key is None:
        with pkcs11_errors(replace(lookup, action=f"generate key '{label}'")):
            key = session.generate_key(
                key_type,
                length * 8,
                label=label,
                store=True,
                capabilities=capabilities,
                template=_NEVER_LEAVES,
            )
    _refuse_exportable(key, label, where)
    return key


def _refuse_exportable(key: SecretKey, label: str, where: Where) -> None:
    # A key found by label may have been created by someone else: check, do not assume.
    with pkcs11_errors(where.with_key(label, f"read the attributes of key '{label}'")):
        sensitive = key[Attribute.SENSITIVE]
        extractable = key[Attribute.EXTRACTABLE]
    if not sensitive or extractable:
        raise HsmError(
            f"key '{label}' on token {where.token} can leave the token (sensitive={bool(sensitive)}, "
            f"extractable={bool(extractable)}); refusing to use it"
        )
