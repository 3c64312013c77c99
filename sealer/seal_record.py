"""The seal's record in clear storage, and the stored layout it describes.

Its presence is what "initialised" means: it is written last, in the same atomic batch as the wrapped
root key, so an interrupted init leaves an uninitialised store, never a half-initialised one.

Layout (version 1; everything here is outside the barrier, in clear storage)
----------------------------------------------------------------------------

    core/seal-config               this record (JSON)
    core/seal/root-key/<id>        the root key, once per wrapping the record lists (see below)
    core/sealed-recovery-key       the recovery key (auto-unseal seals only)
    core/seal/break-glass          the root key under a key derived from the recovery key (opt-in)
    core/keyring                   the barrier's keyring, encrypted under the barrier key

How the keys fit together:

    token AES key + token HMAC key ──> root key        one wrapping per token (below)
    unseal key (shamir shares)     ──> root key        the shamir seal's one wrapping
    root key ──HKDF(salt = installation id)──> barrier key ──> keyring ──> every stored value
    root key ──HKDF(salt = installation id)──> recovery key wrap key ──> recovery key
    recovery key ──HKDF(salt = installation id)──> break-glass key ──> root key   (opt-in)

* A pkcs11 wrapping needs BOTH of its token's keys (sealer/seals/pkcs11.py): the root key is first
  encrypted (AES-256-GCM, in this process) under HKDF(token HMAC(b"sealer/wrap-key/" + AAD)), and that
  ciphertext is then encrypted by the token's AES key (AES-256-GCM inside the token); the AAD names the
  installation. Neither key leaves the token, so nothing in storage, the configuration or the process
  environment opens a wrapping without the token, and a token whose AES key is right but whose HMAC
  key is another cannot open it either.
* The shamir wrapping is AES-256-GCM under the unseal key, which exists only as shares.
* The barrier key is HKDF(root key, salt = installation id). It depends on the root key alone, so any
  wrapping of the root key (any token, the shamir key, break-glass) reaches the same keyring, and
  moving the root key between wrappings never touches the data.
* The record lists each wrapping with what is needed to find its keys again (token label and serial,
  key labels). A wrapping may be `staged`: written by a rotation or migration that has not
  committed; it holds the same root key.
* The recovery key (auto-unseal seals) is stored encrypted under a key derived from the root key, so
  it has one copy whatever the number of tokens, and a recovery rekey is one write.
* Break-glass (opt-in): the root key encrypted under a key derived from the recovery key, so a
  threshold of recovery shares can unseal when every token is lost.

Every change is one atomic storage batch that takes the store from one state that unseals to
another: a crash at any point leaves a store that unseals with the old wrapping or the new one.
Rotation and migration are two batches: `stage` adds the new wrappings next to the old ones (the old
ones stay in force), `commit` makes the new ones active and drops the old ones.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

SEAL_RECORD_KEY = "core/seal-config"
WRAPPED_RECOVERY_KEY = "core/sealed-recovery-key"
ROOT_KEY_PREFIX = "core/seal/root-key/"
BREAK_GLASS_KEY = "core/seal/break-glass"
# Written by the barrier; listed here so an interrupted init can be cleaned away.
KEYRING_KEY = "core/keyring"

LAYOUT_VERSION = 1


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
    # pkcs11 only: the token (as it reported itself) and the key labels.
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

    def active(self, kind: str | None = None) -> list[Wrapping]:
        return [w for w in self.wrappings if not w.staged and (kind is None or w.kind == kind)]

    def staged(self) -> list[Wrapping]:
        return [w for w in self.wrappings if w.staged]

    def with_wrappings(self, wrappings: list[Wrapping] | tuple[Wrapping, ...], **changes: Any) -> SealRecord:
        return replace(self, wrappings=tuple(wrappings), **changes)

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> SealRecord:
        body: dict[str, Any] = json.loads(raw)
        wrappings = tuple(_wrapping(w) for w in body.pop("wrappings", []))
        change = body.pop("change", None)
        return cls(**body, wrappings=wrappings, change=Change(**change) if change else None)


def _wrapping(body: dict[str, Any]) -> Wrapping:
    supersedes = tuple(KeyRef(**ref) for ref in body.pop("supersedes", []))
    return Wrapping(**body, supersedes=supersedes)


__all__ = [
    "BREAK_GLASS_KEY",
    "KEYRING_KEY",
    "ROOT_KEY_PREFIX",
    "SEAL_RECORD_KEY",
    "WRAPPED_RECOVERY_KEY",
    "Change",
    "KeyRef",
    "SealRecord",
    "Wrapping",
    "now_text",
]
