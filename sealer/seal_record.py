"""The seal's record in clear storage, and the stored layout it describes.

Its presence is what "initialised" means: it is written last, in the same atomic batch as the wrapped
root key, so an interrupted init leaves an uninitialised store, never a half-initialised one.

Layout (version 2; everything here is outside the barrier, in clear storage)
----------------------------------------------------------------------------

    core/seal-config               this record (JSON)
    core/seal/root-key/<id>        the root key, once per wrapping the record lists (see below)
    core/sealed-root-key           the one wrapping of a version 1 store (kept at its old path)
    core/sealed-recovery-key       the recovery key (auto-unseal seals only)
    core/seal/break-glass          the root key under a key derived from the recovery key (opt-in)
    core/keyring                   the barrier's keyring, encrypted under the barrier key

* The barrier key is HKDF(root key, salt = installation id). It depends on the root key alone, so any
  wrapping of the root key (any token, the shamir key, break-glass) reaches the same keyring, and
  moving the root key between wrappings never touches the data.
* A wrapping is one copy of the root key: AES-256-GCM inside a PKCS#11 token (one per token, under
  that token's key label), or AES-256-GCM under the shamir unseal key. The record lists them with
  what is needed to find their key again (token label and serial, key labels). A wrapping may be
  `staged`: written by a rotation or migration that has not committed; it holds the same root key.
* The recovery key (auto-unseal seals) is stored encrypted under a key derived from the root key, so
  it has one copy whatever the number of tokens, and a recovery rekey is one write.
* Break-glass (opt-in): the root key encrypted under a key derived from the recovery key, so a
  threshold of recovery shares can unseal when every token is lost.

Every change is one atomic storage batch that takes the store from one state that unseals to
another: a crash at any point leaves a store that unseals with the old wrapping or the new one.
Rotation and migration are two batches: `stage` adds the new wrappings next to the old ones (the old
ones stay in force), `commit` makes the new ones active and drops the old ones.

Version 1 (before issue 4): one wrapping at core/sealed-root-key, no labels recorded, the recovery
key wrapped by the token, and for the pkcs11 seal a barrier key derived with the token's HMAC key.
A version 1 record is read as version 2 with `barrier_key_source="token-hmac"` and
`recovery_key_wrap="token"`; the first unseal upgrades it in one batch (keyring re-encrypted under the
version 2 barrier key together with the new record).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

SEAL_RECORD_KEY = "core/seal-config"
WRAPPED_ROOT_KEY = "core/sealed-root-key"  # version 1's single wrapping
WRAPPED_RECOVERY_KEY = "core/sealed-recovery-key"
ROOT_KEY_PREFIX = "core/seal/root-key/"
BREAK_GLASS_KEY = "core/seal/break-glass"
# Written by the barrier; listed here so an interrupted init can be cleaned away.
KEYRING_KEY = "core/keyring"

LAYOUT_VERSION = 2
LEGACY_WRAPPING_ID = "legacy"

# barrier_key_source
ROOT_KEY_SOURCE = "root-key"
TOKEN_HMAC_SOURCE = "token-hmac"  # version 1 pkcs11 stores until their first unseal
# recovery_key_wrap
RECOVERY_UNDER_ROOT = "root-key"
RECOVERY_UNDER_TOKEN = "token"  # version 1


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class KeyRef:
    """A token key as a configuration names it: what a rotated wrapping still answers to."""

    token_label: str | None
    token_serial: str | None
    key_label: str


@dataclass(frozen=True)
class Wrapping:
    id: str
    kind: str  # "shamir" or "pkcs11"
    path: str
    staged: bool = False
    created: str = ""
    # pkcs11 only: the token (as it reported itself) and the key labels. All None for version 1's
    # wrapping, whose token and labels were never recorded: any configured token may try it.
    token_label: str | None = None
    token_serial: str | None = None
    key_label: str | None = None
    hmac_key_label: str | None = None
    # Token keys this wrapping replaced (HSM key rotation): a configuration that still names one of them
    # reaches this wrapping, so a forgotten config edit never leaves a daemon that cannot unseal.
    supersedes: tuple[KeyRef, ...] = ()

    @classmethod
    def new(cls, kind: str, *, staged: bool = False, **token: Any) -> Wrapping:
        wrapping_id = "w-" + secrets.token_hex(6)
        return cls(id=wrapping_id, kind=kind, path=ROOT_KEY_PREFIX + wrapping_id, staged=staged,
                   created=now_text(), **token)

    @property
    def identified(self) -> bool:
        return self.token_label is not None or self.token_serial is not None

    @property
    def ref(self) -> KeyRef:
        return KeyRef(self.token_label, self.token_serial, self.key_label or "")

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"id": self.id, "kind": self.kind, "staged": self.staged, "created": self.created}
        if self.kind == "pkcs11":
            info.update(token_label=self.token_label, token_serial=self.token_serial,
                        key_label=self.key_label, hmac_key_label=self.hmac_key_label)
            if self.supersedes:
                info["supersedes"] = [asdict(ref) for ref in self.supersedes]
        return info


@dataclass(frozen=True)
class Change:
    """A two-batch change in progress: its wrappings are staged, the commit has not happened."""

    op: str  # "migrate" or "rewrap"
    target: str  # migrate: the seal type migrated to; rewrap: the token's configured name
    started: str = ""


@dataclass(frozen=True)
class SealRecord:
    type: str  # the seal in force: "shamir" or "pkcs11"
    installation_id: str
    secret_shares: int = 0
    secret_threshold: int = 0
    recovery_shares: int = 0
    recovery_threshold: int = 0
    version: int = LAYOUT_VERSION
    wrappings: tuple[Wrapping, ...] = ()
    barrier_key_source: str = ROOT_KEY_SOURCE
    recovery_key_wrap: str = ""  # "" when the seal has no recovery key (shamir)
    break_glass: bool = False  # BREAK_GLASS_KEY holds the root key under the recovery key
    break_glass_last_used: str = ""
    change: Change | None = None

    @property
    def installation_bytes(self) -> bytes:
        return bytes.fromhex(self.installation_id)

    @property
    def root_key_aad(self) -> bytes:
        return b"sealer/root-key/" + self.installation_bytes

    @property
    def recovery_key_aad(self) -> bytes:
        return b"sealer/recovery-key/" + self.installation_bytes

    @property
    def break_glass_aad(self) -> bytes:
        return b"sealer/break-glass/" + self.installation_bytes

    @property
    def auto_unseal(self) -> bool:
        return self.type != "shamir"

    @property
    def legacy(self) -> bool:
        """Something version 1 left that the first unseal rewrites (see the module docstring)."""
        return (
            self.version < LAYOUT_VERSION
            or self.barrier_key_source != ROOT_KEY_SOURCE
            or self.recovery_key_wrap == RECOVERY_UNDER_TOKEN
            or any(w.kind == "pkcs11" and not w.identified for w in self.wrappings)
        )

    def active(self, kind: str | None = None) -> list[Wrapping]:
        return [w for w in self.wrappings if not w.staged and (kind is None or w.kind == kind)]

    def staged(self) -> list[Wrapping]:
        return [w for w in self.wrappings if w.staged]

    def with_wrappings(self, wrappings: list[Wrapping] | tuple[Wrapping, ...], **changes: Any) -> SealRecord:
        return replace(self, wrappings=tuple(wrappings), **changes)

    def to_bytes(self) -> bytes:
        # Always the version 2 format: what is still legacy is said by the fields, not the version.
        body = asdict(self)
        body["version"] = LAYOUT_VERSION
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> SealRecord:
        body: dict[str, Any] = json.loads(raw)
        if body.get("version", 1) < LAYOUT_VERSION:
            return _from_version_1(body)
        wrappings = tuple(_wrapping(w) for w in body.pop("wrappings", []))
        change = body.pop("change", None)
        return cls(**body, wrappings=wrappings, change=Change(**change) if change else None)


def _wrapping(body: dict[str, Any]) -> Wrapping:
    supersedes = tuple(KeyRef(**ref) for ref in body.pop("supersedes", []))
    return Wrapping(**body, supersedes=supersedes)


def _from_version_1(body: dict[str, Any]) -> SealRecord:
    kind = body["type"]
    legacy = Wrapping(id=LEGACY_WRAPPING_ID, kind=kind, path=WRAPPED_ROOT_KEY)
    pkcs11 = kind != "shamir"
    return SealRecord(
        type=kind,
        installation_id=body["installation_id"],
        secret_shares=body.get("secret_shares", 0),
        secret_threshold=body.get("secret_threshold", 0),
        recovery_shares=body.get("recovery_shares", 0),
        recovery_threshold=body.get("recovery_threshold", 0),
        version=1,
        wrappings=(legacy,),
        barrier_key_source=TOKEN_HMAC_SOURCE if pkcs11 else ROOT_KEY_SOURCE,
        recovery_key_wrap=RECOVERY_UNDER_TOKEN if pkcs11 else "",
    )


__all__ = [
    "BREAK_GLASS_KEY",
    "KEYRING_KEY",
    "ROOT_KEY_PREFIX",
    "SEAL_RECORD_KEY",
    "WRAPPED_RECOVERY_KEY",
    "WRAPPED_ROOT_KEY",
    "Change",
    "KeyRef",
    "SealRecord",
    "Wrapping",
    "now_text",
]
