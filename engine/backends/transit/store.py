"""A transit mount's keys (Vault's keysutil.LockManager): kept at "policy/<name>" in the mount's storage
view (behind the barrier), cached once loaded, and changed one at a time per key name.

Policies are immutable values: a change builds a new one, persists it, and only then replaces the cached
one, so a failed write leaves the key as it was. Automatic rotation happens when a key is next used after
its period has passed (Vault rotates from a periodic job; the effect for clients is the same).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from engine.backends.transit import b64, keytypes
from engine.backends.transit.errors import ERR_IN_TOKEN, TransitError
from engine.backends.transit.keyring import Keyring, new_version
from engine.backends.transit.keytypes import Family, KeyType
from engine.backends.transit.policy import KDF_HKDF_SHA256, Policy, Stamp
from engine.backends.transit.token import TokenAccess
from engine.crypto import random_bytes
from engine.storage.base import Storage

log = logging.getLogger("sealer.transit")

POLICY_PREFIX = "policy/"
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class NewKey:
    """What creating a key asks for (Vault's PolicyRequest with upsert)."""

    name: str
    type: KeyType
    derived: bool = False
    convergent: bool = False
    exportable: bool = False
    allow_plaintext_backup: bool = False
    auto_rotate_period: int = 0
    key_size: int = 0


class KeyStore:
    def __init__(self, token: TokenAccess, clock: Clock) -> None:
        self.token = token
        self._clock = clock
        self._cache: dict[str, Policy] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def lock(self, name: str) -> asyncio.Lock:
        """Held by every change to the key `name`."""
        return self._locks[name]

    def keyring(self, policy: Policy) -> Keyring:
        return Keyring(policy, self.token)

    def now(self) -> datetime:
        return self._clock()

    # -- reading ----------------------------------------------------------------------------------

    async def load(self, storage: Storage, name: str) -> Policy | None:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        raw = await storage.get(POLICY_PREFIX + name)
        if raw is None:
            return None
        policy = Policy.from_bytes(raw)
        self._cache[name] = policy
        return policy

    async def get(self, storage: Storage, name: str) -> Policy | None:
        """The key, rotated first if its automatic rotation is due."""
        policy = await self.load(storage, name)
        if policy is None or not self._rotation_due(policy):
            return policy
        async with self.lock(name):
            policy = await self.load(storage, name)
            if policy is not None and self._rotation_due(policy):
                log.info("rotating transit key %s: its auto_rotate_period has passed", name)
                policy = await self.rotate(storage, policy)
            return policy

    def _rotation_due(self, policy: Policy) -> bool:
        if policy.auto_rotate_period <= 0 or policy.latest_version not in policy.keys:
            return False
        due = policy.latest_entry().created + timedelta(seconds=policy.auto_rotate_period)
        return self.now() >= due

    async def names(self, storage: Storage) -> list[str]:
        return [name for name in await storage.list(POLICY_PREFIX) if not name.endswith("/")]

    # -- changing (callers hold lock(name)) ---------------------------------------------------------

    async def put(self, storage: Storage, policy: Policy) -> Policy:
        await storage.put(POLICY_PREFIX + policy.name, policy.to_bytes())
        self._cache[policy.name] = policy
        return policy

    async def create(self, storage: Storage, request: NewKey) -> tuple[Policy, bool]:
        """The key `request.name`, made now unless it exists: (policy, whether it was made)."""
        existing = await self.load(storage, request.name)
        if existing is not None:
            return existing, False
        _check_new_key(request, self.token)
        policy = Policy(
            name=request.name,
            type=request.type,
            derived=request.derived,
            exportable=request.exportable,
            allow_plaintext_backup=request.allow_plaintext_backup,
            auto_rotate_period=request.auto_rotate_period,
            key_size=request.key_size,
        )
        if request.derived:
            policy = replace(policy, kdf=KDF_HKDF_SHA256)
            if request.convergent:
                # From convergent version 3 on each key version records its own; -1 marks the policy's unused.
                policy = replace(policy, convergent_encryption=True, convergent_version=-1)
        return await self.rotate(storage, policy), True

    async def rotate(self, storage: Storage, policy: Policy) -> Policy:
        if policy.imported and not policy.allow_imported_key_rotation:
            raise TransitError(f"imported key {policy.name} does not allow rotation within Vault")
        version = policy.latest_version + 1
        entry = await new_version(policy, version, self.now(), self.token, policy.name)
        rotated = replace(
            policy.with_entry(version, entry),
            latest_version=version,
            min_decryption_version=policy.min_decryption_version or 1,
            imported=False,
        )
        return await self.put(storage, rotated)

    async def delete(self, storage: Storage, name: str) -> None:
        policy = await self.load(storage, name)
        if policy is None:
            raise TransitError(f"error deleting policy {name}: could not delete key; not found")
        if not policy.deletion_allowed:
            raise TransitError(f"error deleting policy {name}: deletion is not allowed for this key")
        await storage.delete(POLICY_PREFIX + name)
        self._cache.pop(name, None)
        await self.destroy_in_token(policy, policy.keys)

    async def destroy_in_token(self, policy: Policy, versions: dict[int, object]) -> None:
        """Remove the token objects of versions transit no longer has. A failure leaves an orphan object,
        which is logged; its label is reused (and the object replaced) only by a new key of the same name."""
        if not policy.type.in_token:
            return
        for version in sorted(versions):
            label = policy.keys[version].token_label
            try:
                await self.token.destroy(policy.type, label)
            except Exception as exc:  # the key is already gone from transit: report, do not fail
                log.warning("could not remove %s from the PKCS#11 token: %s", label, exc)

    # -- backup and restore ------------------------------------------------------------------------

    async def backup(self, storage: Storage, name: str) -> str:
        async with self.lock(name):
            policy = await self.load(storage, name)
            if policy is None:
                raise TransitError(f'key "{name}" not found')
            if policy.type.in_token:
                raise TransitError(ERR_IN_TOKEN)
            if not policy.exportable:
                raise TransitError("exporting is disallowed on the policy")
            if not policy.allow_plaintext_backup:
                raise TransitError("plaintext backup is disallowed on the policy")
            policy = await self.put(storage, replace(policy, backup_info=Stamp(self.now(), policy.latest_version)))
        # As Go's json.Encoder writes it, with the trailing newline.
        body = json.dumps(policy.key_data(), separators=(",", ":")) + "\n"
        return base64.b64encode(body.encode()).decode()

    async def restore(self, storage: Storage, backup: str, name: str, force: bool) -> None:
        try:
            raw = json.loads(b64.decode(backup))
        except b64.Base64Error as exc:
            raise TransitError(str(exc)) from None
        except ValueError as exc:
            raise TransitError(f"invalid backup: {exc}") from None
        if not isinstance(raw, dict):
            raise TransitError("backup data does not contain a valid policy")
        policy = Policy.from_key_data(raw)
        if name:
            policy = replace(policy, name=name)
        if not policy.name or "/" in policy.name:
            raise TransitError("key names cannot be paths")
        if policy.type.in_token:
            raise TransitError(f"keys of type {policy.type} cannot be restored: {ERR_IN_TOKEN}")
        policy = _upgraded(policy)
        async with self.lock(policy.name):
            replaced = await self.load(storage, policy.name)
            if replaced is not None and not force:
                raise TransitError(f'key "{policy.name}" already exists')
            await self.put(storage, replace(policy, restore_info=Stamp(self.now(), policy.latest_version)))
            if replaced is not None:
                await self.destroy_in_token(replaced, replaced.keys)


def _check_new_key(request: NewKey, token: TokenAccess) -> None:
    """Vault's per-type checks before making a key (LockManager.GetPolicy on upsert)."""
    key_type = request.type
    if key_type.in_token:
        token.require(key_type)
        if request.derived or request.convergent:
            raise TransitError(f"key derivation and convergent encryption not supported for keys of type {key_type}")
        if request.exportable or request.allow_plaintext_backup:
            raise TransitError(ERR_IN_TOKEN)
    elif key_type.family is Family.AEAD:
        if request.convergent and not request.derived:
            raise TransitError("convergent encryption requires derivation to be enabled")
    elif key_type.family is Family.ED25519:
        if request.convergent:
            raise TransitError(f"convergent encryption not supported for keys of type {key_type}")
    elif request.derived or request.convergent:
        raise TransitError(f"key derivation and convergent encryption not supported for keys of type {key_type}")


def _upgraded(policy: Policy) -> Policy:
    """Vault's Policy.Upgrade, for keys restored from old backups."""
    if policy.latest_version == 0 and policy.keys:
        policy = replace(policy, latest_version=len(policy.keys))
    if policy.min_decryption_version == 0:
        policy = replace(policy, min_decryption_version=1)
    if policy.convergent_encryption and policy.convergent_version == 0:
        policy = replace(policy, convergent_version=1)
    first = max(1, policy.min_available_version)
    missing = [v for v in range(first, policy.latest_version + 1) if v not in policy.keys]
    if missing or policy.latest_version == 0:
        raise TransitError(f"backup data is missing key versions {missing}" if missing else "backup data has no keys")
    latest = policy.latest_entry()
    if latest.hmac_key is None and policy.type is not keytypes.HMAC:
        policy = policy.with_entry(policy.latest_version, replace(latest, hmac_key=random_bytes(32)))
    return policy
