"""Barrier.reload: a daemon taking over as the active node sees the keyring as another daemon sharing
the storage left it (a rotation there), and a rekey there is reported rather than half-loaded."""

from __future__ import annotations

import pytest

from engine.barrier import Barrier
from engine.crypto import new_key
from engine.errors import BarrierDecryptError, Sealed
from engine.storage.memory import MemoryStorage


async def two_barriers() -> tuple[Barrier, Barrier, bytes]:
    shared = MemoryStorage()
    root_key = new_key()
    first, second = Barrier(shared), Barrier(shared)
    await first.initialize(root_key)
    await first.unseal(root_key)
    await second.unseal(root_key)
    return first, second, root_key


async def test_a_rotation_made_by_another_barrier_is_seen_after_reload() -> None:
    first, second, _ = await two_barriers()
    await first.rotate()
    await first.put("written/under/term-2", b"value")
    with pytest.raises(BarrierDecryptError):
        await second.get("written/under/term-2")  # its keyring still ends at term 1
    await second.reload()
    assert second.key_status().term == 2
    assert await second.get("written/under/term-2") == b"value"


async def test_a_rekey_elsewhere_is_an_error_and_leaves_the_old_keyring_in_place() -> None:
    first, second, _ = await two_barriers()
    await first.put("before", b"kept")
    await first.rekey_root(new_key())
    with pytest.raises(BarrierDecryptError):
        await second.reload()
    assert await second.get("before") == b"kept"


async def test_a_sealed_barrier_cannot_reload() -> None:
    first, _, _ = await two_barriers()
    first.seal()
    with pytest.raises(Sealed):
        await first.reload()
