"""Token keys are found once per connection (key_handles.py) and never used once they are not the key the
label names: a key replaced through this connection, destroyed and recreated through another connection
(another node, another application), or forgotten when the core starts serving is looked up again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from softhsm import SoftHsmToken

from engine.core import Core
from engine.storage.memory import MemoryStorage
from hsm import Hsm, HsmTokenKeys, open_hsm
from tests.engine.core_harness import unsealed_barrier


@pytest.fixture
async def hsm(softhsm_token: SoftHsmToken) -> AsyncIterator[Hsm]:
    async with open_hsm(softhsm_token.pkcs11_settings()) as opened:
        yield opened


@pytest.fixture
async def other(softhsm_token: SoftHsmToken) -> AsyncIterator[HsmTokenKeys]:
    """Another connection to the same token, with handles of its own."""
    async with open_hsm(softhsm_token.pkcs11_settings()) as opened:
        yield HsmTokenKeys.over(opened)


def found(hsm: Hsm) -> int:
    state = hsm._connection._state
    assert state is not None
    return len(state.handles)


async def test_a_key_is_looked_up_once_and_kept(hsm: Hsm) -> None:
    keys = HsmTokenKeys.over(hsm)
    await keys.generate_aes_key("k")
    assert found(hsm) == 0
    blob = await keys.aes_gcm_encrypt("k", b"x", b"")
    assert found(hsm) == 1
    assert await keys.aes_gcm_decrypt("k", blob, b"") == b"x"
    assert found(hsm) == 1


async def test_a_key_replaced_through_this_connection_is_looked_up_again(hsm: Hsm, other: HsmTokenKeys) -> None:
    keys = HsmTokenKeys.over(hsm)
    await keys.generate_aes_key("k")
    old = await keys.aes_gcm_encrypt("k", b"x", b"")
    await keys.generate_aes_key("k")  # the old object is destroyed, a new one takes the label
    new = await keys.aes_gcm_encrypt("k", b"x", b"")
    assert await other.aes_gcm_decrypt("k", new, b"") == b"x"
    assert await other.aes_gcm_decrypt("k", old, b"") is None
    await keys.destroy("k")
    assert found(hsm) == 0


async def test_a_key_recreated_elsewhere_is_the_one_used(hsm: Hsm, other: HsmTokenKeys) -> None:
    keys = HsmTokenKeys.over(hsm)
    await keys.generate_aes_key("k")
    old = await keys.aes_gcm_encrypt("k", b"x", b"")  # its handle is now kept
    await other.generate_aes_key("k")  # destroyed and recreated under the same label, not through `keys`
    new = await keys.aes_gcm_encrypt("k", b"x", b"")
    assert await other.aes_gcm_decrypt("k", new, b"") == b"x"
    assert await keys.aes_gcm_decrypt("k", old, b"") is None


async def test_forgetting_makes_the_next_use_look_again(hsm: Hsm) -> None:
    keys = HsmTokenKeys.over(hsm)
    await keys.generate_ec_key("signer", "P-256")
    await keys.ec_sign("signer", b"\x01" * 32)
    assert found(hsm) == 1
    await keys.forget_found_keys()
    assert found(hsm) == 0
    await keys.ec_sign("signer", b"\x01" * 32)
    assert found(hsm) == 1


async def test_the_core_forgets_them_when_it_starts_serving(hsm: Hsm) -> None:
    # At unseal and at an HA takeover: another node may have recreated keys meanwhile.
    keys = HsmTokenKeys.over(hsm)
    await keys.generate_aes_key("k")
    await keys.aes_gcm_encrypt("k", b"x", b"")
    core = Core(await unsealed_barrier(MemoryStorage()), token_keys=keys)
    await core.setup()
    try:
        assert found(hsm) == 0
    finally:
        await core.teardown()
