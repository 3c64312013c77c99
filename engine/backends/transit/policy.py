"""A named transit key and its versions (Vault's keysutil.Policy and KeyEntry), in Vault's JSON form.

The stored form is Vault's policy JSON with every available version in "keys" (Vault moves the versions
below min_decryption_version to a separate archive; here the archive is only built for backups, whose
format is Vault's KeyData, so that backups travel between Vault and this engine both ways).
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from engine.backends.transit import keytypes
from engine.backends.transit.errors import TransitError
from engine.backends.transit.keytypes import KeyType
from engine.crypto.transit import RsaKey

KDF_HMAC_SHA256_COUNTER = 0
KDF_HKDF_SHA256 = 1
NANOSECONDS = 1_000_000_000
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"


# --- Go's JSON conventions --------------------------------------------------------------------------


def go_time(moment: datetime) -> str:
    """Go's time.Time JSON (RFC 3339 with nanoseconds, trailing zeros dropped, Z for UTC)."""
    text = moment.isoformat()
    if "." in text:
        head, _, rest = text.partition(".")
        digits = rest[:6]
        zone = rest[6:]
        digits = digits.rstrip("0")
        text = f"{head}.{digits}{zone}" if digits else f"{head}{zone}"
    return text.replace("+00:00", "Z")


def parse_go_time(text: str | None) -> datetime:
    if not text:
        return datetime(1, 1, 1, tzinfo=UTC)
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise TransitError(f"invalid time {text!r} in key data") from exc


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise TransitError("invalid base64 key material in key data") from exc


def _rsa_to_json(key: RsaKey) -> dict[str, Any]:
    dp, dq, qinv = key.crt()
    return {
        "N": key.n,
        "E": key.e,
        "D": key.d,
        "Primes": [key.p, key.q],
        "Precomputed": {"Dp": dp, "Dq": dq, "Qinv": qinv, "CRTValues": []},
    }


def _rsa_from_json(raw: dict[str, Any] | None) -> RsaKey | None:
    if raw is None:
        return None
    try:
        p, q = raw["Primes"][:2]
        return RsaKey(n=int(raw["N"]), e=int(raw["E"]), d=int(raw["D"]), p=int(p), q=int(q))
    except (KeyError, TypeError, ValueError) as exc:
        raise TransitError("invalid RSA key in key data") from exc


# --- versions and keys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyEntry:
    """One version of a key. Exactly the fields its type uses are set."""

    created: datetime
    creation_unix: int  # Vault's deprecated creation_time, still what reads show for symmetric keys
    key: bytes | None = field(default=None, repr=False)  # AEAD or HMAC key, or Go's 64-byte ed25519 key
    hmac_key: bytes | None = field(default=None, repr=False)
    ec_x: int | None = None
    ec_y: int | None = None
    ec_d: int | None = field(default=None, repr=False)
    rsa: RsaKey | None = field(default=None, repr=False)
    public_key: str = ""  # PEM (ECDSA) or base64 (ed25519), as Vault formats it
    convergent_version: int = 0
    token_label: str = ""  # hsm-* types: the key's label in the PKCS#11 token (this project's own field)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # fields of newer Vaults, kept as they were

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            **self.extra,
            "key": _b64(self.key),
            "hmac_key": _b64(self.hmac_key),
            "time": go_time(self.created),
            "ec_x": self.ec_x,
            "ec_y": self.ec_y,
            "ec_d": self.ec_d,
            "rsa_key": None if self.rsa is None else _rsa_to_json(self.rsa),
            "public_key": self.public_key,
            "convergent_version": self.convergent_version,
            "creation_time": self.creation_unix,
        }
        if self.token_label:
            body["token_label"] = self.token_label
        return body

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> KeyEntry:
        known = {"key", "hmac_key", "time", "ec_x", "ec_y", "ec_d", "rsa_key", "public_key",
                 "convergent_version", "creation_time", "token_label"}  # fmt: skip
        return cls(
            created=parse_go_time(raw.get("time")),
            creation_unix=int(raw.get("creation_time") or 0),
            key=_unb64(raw.get("key")),
            hmac_key=_unb64(raw.get("hmac_key")),
            ec_x=raw.get("ec_x"),
            ec_y=raw.get("ec_y"),
            ec_d=raw.get("ec_d"),
            rsa=_rsa_from_json(raw.get("rsa_key")),
            public_key=raw.get("public_key") or "",
            convergent_version=int(raw.get("convergent_version") or 0),
            token_label=raw.get("token_label") or "",
            extra={k: v for k, v in raw.items() if k not in known},
        )

    @classmethod
    def placeholder(cls) -> KeyEntry:
        """Version 0 of an archive that was never trimmed: Go's zero KeyEntry."""
        return cls(created=parse_go_time(_GO_ZERO_TIME), creation_unix=0)


@dataclass(frozen=True)
class Stamp:
    """Vault's BackupInfo / RestoreInfo: when, and the latest version at that moment."""

    time: datetime
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"time": go_time(self.time), "version": self.version}

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> Stamp | None:
        return None if raw is None else cls(parse_go_time(raw.get("time")), int(raw.get("version") or 0))


_POLICY_FIELDS = {
    "name", "key", "key_size", "keys", "derived", "kdf", "convergent_encryption", "exportable",
    "min_decryption_version", "min_encryption_version", "latest_version", "archive_version",
    "archive_min_version", "min_available_version", "deletion_allowed", "convergent_version", "type",
    "backup_info", "restore_info", "allow_plaintext_backup", "version_template", "storage_prefix",
    "auto_rotate_period", "Imported", "AllowImportedKeyRotation",
}  # fmt: skip


@dataclass(frozen=True)
class Policy:
    """Immutable: every change makes a new Policy (dataclasses.replace), persisted before it is used."""

    name: str
    type: KeyType
    keys: dict[int, KeyEntry] = field(default_factory=dict, repr=False)
    latest_version: int = 0
    min_decryption_version: int = 0
    min_encryption_version: int = 0
    min_available_version: int = 0
    derived: bool = False
    kdf: int = KDF_HMAC_SHA256_COUNTER
    convergent_encryption: bool = False
    convergent_version: int = 0
    exportable: bool = False
    allow_plaintext_backup: bool = False
    deletion_allowed: bool = False
    key_size: int = 0
    auto_rotate_period: int = 0  # seconds (Vault stores nanoseconds)
    backup_info: Stamp | None = None
    restore_info: Stamp | None = None
    version_template: str = ""
    imported: bool = False
    allow_imported_key_rotation: bool = False
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- what Vault derives from the fields ------------------------------------------------------

    def convergent_version_of(self, version: int) -> int:
        """Vault's convergentVersion: 0 unless convergent; the version's own, else the policy's."""
        if not self.convergent_encryption:
            return 0
        result = self.convergent_version or 1
        entry = self.keys.get(version)
        if entry is not None and entry.convergent_version:
            result = entry.convergent_version
        return result

    def latest_entry(self) -> KeyEntry:
        return self.keys[self.latest_version]

    def with_entry(self, version: int, entry: KeyEntry) -> Policy:
        return replace(self, keys={**self.keys, version: entry})

    # -- the stored form ------------------------------------------------------------------------

    def to_json(self, versions: dict[int, KeyEntry] | None = None) -> dict[str, Any]:
        keys = self.keys if versions is None else versions
        body: dict[str, Any] = {**self.extra, "name": self.name}
        if self.key_size:
            body["key_size"] = self.key_size
        body.update(
            {
                "keys": {str(v): e.to_json() for v, e in sorted(keys.items())},
                "derived": self.derived,
                "kdf": self.kdf,
                "convergent_encryption": self.convergent_encryption,
                "exportable": self.exportable,
                "min_decryption_version": self.min_decryption_version,
                "min_encryption_version": self.min_encryption_version,
                "latest_version": self.latest_version,
                "archive_version": self.latest_version,
                "archive_min_version": self.min_available_version,
                "min_available_version": self.min_available_version,
                "deletion_allowed": self.deletion_allowed,
                "convergent_version": self.convergent_version,
                "type": self.type.code,
                "backup_info": None if self.backup_info is None else self.backup_info.to_json(),
                "restore_info": None if self.restore_info is None else self.restore_info.to_json(),
                "allow_plaintext_backup": self.allow_plaintext_backup,
                "version_template": self.version_template,
                "storage_prefix": "",
                "auto_rotate_period": self.auto_rotate_period * NANOSECONDS,
                "Imported": self.imported,
                "AllowImportedKeyRotation": self.allow_imported_key_rotation,
            }
        )
        return body

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Policy:
        try:
            key_type = keytypes.BY_CODE[int(raw.get("type") or 0)]
        except (KeyError, ValueError, TypeError):
            raise TransitError(f"unsupported key type {raw.get('type')!r} in key data") from None
        keys: dict[int, KeyEntry] = {}
        for version, entry in (raw.get("keys") or {}).items():
            try:
                keys[int(version)] = KeyEntry.from_json(entry)
            except (ValueError, TypeError, AttributeError):
                raise TransitError(f"invalid key version {version!r} in key data") from None
        return cls(
            name=str(raw.get("name") or ""),
            type=key_type,
            keys=keys,
            latest_version=int(raw.get("latest_version") or 0),
            min_decryption_version=int(raw.get("min_decryption_version") or 0),
            min_encryption_version=int(raw.get("min_encryption_version") or 0),
            min_available_version=int(raw.get("min_available_version") or 0),
            derived=bool(raw.get("derived")),
            kdf=int(raw.get("kdf") or 0),
            convergent_encryption=bool(raw.get("convergent_encryption")),
            convergent_version=int(raw.get("convergent_version") or 0),
            exportable=bool(raw.get("exportable")),
            allow_plaintext_backup=bool(raw.get("allow_plaintext_backup")),
            deletion_allowed=bool(raw.get("deletion_allowed")),
            key_size=int(raw.get("key_size") or 0),
            auto_rotate_period=int(raw.get("auto_rotate_period") or 0) // NANOSECONDS,
            backup_info=Stamp.from_json(raw.get("backup_info")),
            restore_info=Stamp.from_json(raw.get("restore_info")),
            version_template=str(raw.get("version_template") or ""),
            imported=bool(raw.get("Imported")),
            allow_imported_key_rotation=bool(raw.get("AllowImportedKeyRotation")),
            extra={k: copy.deepcopy(v) for k, v in raw.items() if k not in _POLICY_FIELDS},
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Policy:
        return cls.from_json(json.loads(data))

    # -- Vault's KeyData (backup and restore) ---------------------------------------------------

    def key_data(self) -> dict[str, Any]:
        """The backup body: the policy with the versions Vault keeps in it (from min_decryption_version
        up), and the archive of every available version, indexed from min_available_version."""
        in_policy = {v: e for v, e in self.keys.items() if v >= self.min_decryption_version}
        first = self.min_available_version
        archive = [self.keys.get(v) or KeyEntry.placeholder() for v in range(first, self.latest_version + 1)]
        return {"policy": self.to_json(in_policy), "archived_keys": {"keys": [e.to_json() for e in archive]}}

    @classmethod
    def from_key_data(cls, raw: dict[str, Any]) -> Policy:
        """A backup (Vault's or ours) as one policy holding every available version."""
        body = raw.get("policy")
        if not isinstance(body, dict):
            raise TransitError("backup data does not contain a valid policy")
        policy = cls.from_json(body)
        archived = (raw.get("archived_keys") or {}).get("keys") or []
        base = policy.min_available_version
        versions: dict[int, KeyEntry] = {}
        for index, entry in enumerate(archived):
            version = base + index
            if version >= 1 and isinstance(entry, dict):
                versions[version] = KeyEntry.from_json(entry)
        versions.update(policy.keys)
        return replace(policy, keys=versions)
