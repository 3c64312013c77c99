"""What reading a key shows (Vault's formatKeyPolicy), and the key material export hands out
(Vault's getExportKey)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.backends.transit import b64, keytypes
from engine.backends.transit.errors import TransitError, TransitInternalError
from engine.backends.transit.keyring import Keyring
from engine.backends.transit.keytypes import Family
from engine.backends.transit.policy import KDF_HKDF_SHA256, KDF_HMAC_SHA256_COUNTER, KeyEntry, Policy, go_time
from engine.crypto import transit as crypto

EXPORT_TYPES = ("encryption-key", "signing-key", "hmac-key", "public-key")


def key_info(keyring: Keyring, context: bytes = b"") -> dict[str, Any]:
    p = keyring.policy
    data: dict[str, Any] = {
        "name": p.name,
        "type": p.type.name,
        "derived": p.derived,
        "deletion_allowed": p.deletion_allowed,
        "min_available_version": p.min_available_version,
        "min_decryption_version": p.min_decryption_version,
        "min_encryption_version": p.min_encryption_version,
        "latest_version": p.latest_version,
        "exportable": p.exportable,
        "allow_plaintext_backup": p.allow_plaintext_backup,
        "supports_encryption": p.type.encryption_supported,
        "supports_decryption": p.type.encryption_supported,
        "supports_signing": p.type.signing_supported,
        "supports_derivation": p.type.derivation_supported,
        "auto_rotate_period": p.auto_rotate_period,
        "imported_key": p.imported,
    }
    if p.key_size:
        data["key_size"] = p.key_size
    if p.imported:
        data["imported_key_allow_rotation"] = p.allow_imported_key_rotation
    if p.backup_info is not None:
        data["backup_info"] = p.backup_info.to_json()
    if p.restore_info is not None:
        data["restore_info"] = p.restore_info.to_json()
    if p.derived:
        if p.kdf == KDF_HMAC_SHA256_COUNTER:
            data["kdf"] = data["kdf_mode"] = "hmac-sha256-counter"
        elif p.kdf == KDF_HKDF_SHA256:
            data["kdf"] = "hkdf_sha256"
        data["convergent_encryption"] = p.convergent_encryption
        if p.convergent_encryption:
            data["convergent_encryption_version"] = p.convergent_version
    if p.type.family is Family.AEAD:
        data["keys"] = {str(v): e.creation_unix for v, e in sorted(p.keys.items())}
    elif p.type.family is not Family.HMAC:  # Vault lists no versions for hmac keys
        data["keys"] = {str(v): _public_version(keyring, v, e, context) for v, e in sorted(p.keys.items())}
    return data


def _public_version(keyring: Keyring, version: int, entry: KeyEntry, context: bytes) -> dict[str, Any]:
    p = keyring.policy
    public = entry.public_key
    if p.type.family is Family.ECDSA:
        name = p.type.curve
    elif p.type.family is Family.ED25519:
        name = "ed25519"
        if p.derived:
            public = b64.encode(crypto.ed25519_public(keyring.derive(context, version, 32))) if context else ""
    else:
        name = p.type.name
        public = crypto.rsa_public_pem(entry.rsa.n, entry.rsa.e) if entry.rsa is not None else ""
    created = entry.created if entry.created.year > 1 else None
    return {
        "name": name,
        "public_key": public,
        "certificate_chain": "",
        "creation_time": go_time(created) if created else _unix_time(entry.creation_unix),
    }


def _unix_time(seconds: int) -> str:
    return go_time(datetime.fromtimestamp(seconds, UTC))


def export_key(policy: Policy, entry: KeyEntry, export_type: str) -> str:
    t = policy.type
    if export_type == "hmac-key":
        material = entry.key if t is keytypes.HMAC else entry.hmac_key
        return b64.encode(material or b"")
    if export_type == "encryption-key":
        if t.family is Family.AEAD and entry.key is not None:
            return b64.encode(entry.key)
        if t.family is Family.RSA and entry.rsa is not None:
            return crypto.rsa_private_pem(entry.rsa)
    elif export_type == "signing-key":
        if t.family is Family.ECDSA and entry.ec_d is not None:
            return crypto.ec_private_pem(t.curve, entry.ec_d)
        if t.family is Family.ED25519:
            return b64.encode(entry.key or b"")
        if t.family is Family.RSA and entry.rsa is not None:
            return crypto.rsa_private_pem(entry.rsa)
    elif export_type == "public-key":
        if t.family is Family.ECDSA and entry.ec_x is not None and entry.ec_y is not None:
            return crypto.ec_public_pem(t.curve, entry.ec_x, entry.ec_y).strip()
        if t.family is Family.ED25519:
            return entry.public_key.strip()
        if t.family is Family.RSA and entry.rsa is not None:
            return crypto.rsa_public_pem(entry.rsa.n, entry.rsa.e)
        raise TransitError(f"unknown key type {t} for export type {export_type}")
    raise TransitInternalError(f"unknown key type {t} for export type {export_type}")
