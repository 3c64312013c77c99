"""The security barrier: a Storage that encrypts every value on its way to an untrusted backend.

Each stored value is

    term (4 bytes, big-endian) | version (1 byte) | nonce (12) | AES-256-GCM ciphertext | tag (16)

with the storage key as AAD, so a value moved to another path no longer decrypts. The keyring is
stored at "core/keyring" in the same framing under term 0, which stands for the root key.

The barrier holds the root key and the keyring only while unsealed. Keyring changes (initialize,
unseal, rotate, rekey_root) are serialised by one lock and persisted before they take effect.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from engine import crypto
from engine.barrier.keyring import Keyring, KeyTerm
from engine.barrier.plaintext_cache import PlaintextCache
from engine.errors import BadRequest, BarrierDecryptError, Sealed
from engine.storage.base import BatchOp, Delete, Put, Storage, as_value

KEYRING_PATH = "core/keyring"
VERSION = 1
ROOT_TERM = 0

_HEADER = struct.Struct(">IB")

log = logging.getLogger("sealer.barrier")


@dataclass(frozen=True)
class KeyStatus:
    term: int
    install_time: datetime


class Barrier:
    def __init__(self, storage: Storage) -> None:
        self._physical = storage
        self._keyring: Keyring | None = None
        self._root_key: bytes | None = None
        # Bumped by seal(): a keyring operation that spans an await must not resurrect a sealed barrier.
        self._generation = 0
        self._lock = asyncio.Lock()
        self._plaintext = PlaintextCache()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def sealed(self) -> bool:
        return self._keyring is None

    async def initialized(self) -> bool:
        return await self._physical.get(KEYRING_PATH) is not None

    async def initialize(self, root_key: bytes, *, also: Sequence[BatchOp] = ()) -> None:
        """Create the keyring (term 1) under `root_key`. The barrier stays sealed, as in Vault.

        `also`: physical operations to commit in the same batch (e.g. the wrapped root key), so an
        interrupted initialisation leaves either everything or nothing.
        """
        _refuse_keyring_ops(also)
        async with self._lock:
            if await self.initialized():
                raise BadRequest("barrier already initialized")
            await self._physical.batch([Put(KEYRING_PATH, _seal_keyring(root_key, Keyring.new())), *also])

    async def unseal(self, root_key: bytes) -> None:
        """Load the keyring with `root_key`. Already unsealed: nothing to do, as in Vault."""
        async with self._lock:
            if self._keyring is not None:
                return
            await self._load_keyring(root_key)

    async def reload(self) -> None:
        """Re-read the keyring with the key it was unsealed with: another daemon sharing the storage may
        have rotated it. BarrierDecryptError when that key no longer opens it (rekeyed elsewhere)."""
        async with self._lock:
            if self._root_key is None:
                raise Sealed()
            await self._load_keyring(self._root_key)

    async def _load_keyring(self, root_key: bytes) -> None:
        """Under the lock. A seal() while the keyring is read wins: nothing is loaded."""
        generation = self._generation
        blob = await self._physical.get(KEYRING_PATH)
        if blob is None:
            raise BadRequest("barrier not initialized")
        keyring = _open_keyring(root_key, blob)
        if generation != self._generation:
            raise Sealed()
        self._root_key = root_key
        self._keyring = keyring
        # Another daemon may have written while this one was sealed or a standby.
        self._plaintext.clear()

    def seal(self) -> None:
        """Forget every key. Effective immediately, even while other operations are in flight."""
        self._generation += 1
        self._keyring = None
        self._root_key = None
        self._plaintext.clear()

    async def rotate(self) -> KeyTerm:
        """Add a term and make it active for new writes; values under older terms stay readable."""
        async with self._lock:
            keyring, root_key, generation = self._unsealed()
            rotated = keyring.add_term()
            await self._physical.put(KEYRING_PATH, _seal_keyring(root_key, rotated))
            if generation != self._generation:
                # Persisted but not adopted: the next unseal loads it, which is consistent.
                raise Sealed()
            self._keyring = rotated
            log.info("barrier key rotated to term %d", rotated.active_term)
            return rotated.active

    async def rekey_root(self, new_root_key: bytes, *, also: Sequence[BatchOp] = ()) -> None:
        """Re-encrypt the keyring under `new_root_key`.

        `also`: physical operations committed in the same batch, typically the new wrapped root key,
        so the stored keyring and the stored root key can never disagree.
        """
        _refuse_keyring_ops(also)
        async with self._lock:
            keyring, _, generation = self._unsealed()
            await self._physical.batch([Put(KEYRING_PATH, _seal_keyring(new_root_key, keyring)), *also])
            if generation != self._generation:
                raise Sealed()
            self._root_key = new_root_key

    def key_status(self) -> KeyStatus:
        keyring, _, _ = self._unsealed()
        return KeyStatus(term=keyring.active.term, install_time=keyring.active.install_time)

    # -- Storage -----------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        self._unsealed()
        plaintext = self._plaintext.get(key)
        if plaintext is not None:
            return plaintext
        _refuse_keyring(key)
        epoch = self._plaintext.epoch
        blob = await self._physical.get(key)
        # Checked again after the read: a seal while it was in flight wins.
        keyring = self._unsealed()[0]
        if blob is None:
            return None
        plaintext = _decrypt(keyring, key, blob)
        self._plaintext.keep(key, plaintext, epoch)
        return plaintext

    async def put(self, key: str, value: bytes) -> None:
        keyring = self._unsealed()[0]
        _refuse_keyring(key)
        blob = _encrypt_value(keyring.active, key, value)
        with self._plaintext.writing((key,)):
            await self._physical.put(key, blob)

    async def delete(self, key: str) -> None:
        self._unsealed()
        _refuse_keyring(key)
        with self._plaintext.writing((key,)):
            await self._physical.delete(key)

    async def list(self, prefix: str) -> list[str]:
        self._unsealed()
        names = await self._physical.list(prefix)
        self._unsealed()
        return names

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        keyring = self._unsealed()[0]
        physical: list[BatchOp] = []
        # Everything is checked and encrypted before the backend sees any of it.
        for op in ops:
            _refuse_keyring(op.key)
            if isinstance(op, Put):
                physical.append(Put(op.key, _encrypt_value(keyring.active, op.key, op.value)))
            else:
                physical.append(Delete(op.key))
        with self._plaintext.writing([op.key for op in physical]):
            await self._physical.batch(physical)

    def _unsealed(self) -> tuple[Keyring, bytes, int]:
        if self._keyring is None or self._root_key is None:
            raise Sealed()
        return self._keyring, self._root_key, self._generation


def _refuse_keyring(key: str) -> None:
    if key == KEYRING_PATH:
        raise BadRequest(f"{KEYRING_PATH} is reserved for the barrier")


def _refuse_keyring_ops(ops: Sequence[BatchOp]) -> None:
    for op in ops:
        _refuse_keyring(op.key)


def _encrypt(key: bytes, term: int, path: str, plaintext: bytes) -> bytes:
    return _HEADER.pack(term, VERSION) + crypto.encrypt(key, plaintext, path.encode())


def _encrypt_value(key_term: KeyTerm, path: str, value: bytes) -> bytes:
    return _HEADER.pack(key_term.term, VERSION) + key_term.cipher.encrypt(as_value(value), path.encode())


def _decrypt(keyring: Keyring, path: str, blob: bytes) -> bytes:
    try:
        term, version = _HEADER.unpack_from(blob)
        key_term = keyring.term(term)
        if version != VERSION or key_term is None:
            raise crypto.DecryptError()
        return key_term.cipher.decrypt(blob[_HEADER.size :], path.encode())
    except (struct.error, crypto.DecryptError) as exc:
        log.warning("stored value at %r does not decrypt: tampered, moved, or under an unknown term", path)
        raise BarrierDecryptError(f"stored value at {path!r} does not decrypt") from exc


def _seal_keyring(root_key: bytes, keyring: Keyring) -> bytes:
    return _encrypt(root_key, ROOT_TERM, KEYRING_PATH, keyring.to_json())


def _open_keyring(root_key: bytes, blob: bytes) -> Keyring:
    try:
        term, version = _HEADER.unpack_from(blob)
        if term != ROOT_TERM or version != VERSION:
            raise crypto.DecryptError()
        plaintext = crypto.decrypt(root_key, blob[_HEADER.size :], KEYRING_PATH.encode())
    except (struct.error, crypto.DecryptError) as exc:
        log.warning("unseal failed: the root key does not decrypt the keyring")
        raise BarrierDecryptError("the root key does not decrypt the keyring") from exc
    try:
        return Keyring.from_json(plaintext)
    except ValueError as exc:
        # Authenticated yet unreadable: a bug or a format from the future, never an attacker.
        raise BarrierDecryptError(f"the keyring does not parse: {exc}") from exc
