"""Break-glass: with the option on, a threshold of recovery shares unseals when every token is lost,
loudly; with it off (the default, as Vault), recovery shares only authorise."""

from __future__ import annotations

import uuid

import pytest

from engine.errors import BadRequest
from engine.storage.memory import MemoryStorage
from hsm import Pkcs11Settings
from sealer.seal_manager import InitRequest, SealManager, SealUnavailableError
from sealer.seal_record import BREAK_GLASS_KEY
from sealer.seals.base import SealOptions
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet
from tests.softhsm import SoftHsmToken, make_token

ON = SealOptions(break_glass=True)


def token_seal(token: SoftHsmToken) -> Pkcs11Seal:
    return Pkcs11Seal(token.pkcs11_settings(), name="hsm")


def lost_token(like: SoftHsmToken, label: str | None = None) -> Pkcs11Seal:
    settings = Pkcs11Settings(lib=like.lib, pin=like.pin, token_label=label or f"lost-{uuid.uuid4().hex[:8]}",
                              generate_key=True)
    return Pkcs11Seal(settings, name="hsm")


async def store(softhsm_token: SoftHsmToken, options: SealOptions) -> tuple[MemoryStorage, list[str], str]:
    storage = MemoryStorage()
    manager = SealManager(storage, token_seal(softhsm_token), options=options)
    init = await manager.initialize(InitRequest(recovery_shares=3, recovery_threshold=2))
    await manager.seal.close()
    return storage, [key.hex() for key in init.recovery_keys], init.root_token


async def test_by_default_recovery_shares_cannot_unseal_without_a_token(softhsm_token) -> None:
    storage, recovery, _ = await store(softhsm_token, SealOptions())
    assert await storage.get(BREAK_GLASS_KEY) is None
    manager = SealManager(storage, lost_token(softhsm_token))
    await manager.submit_share(recovery[0], reset=False)
    with pytest.raises(SealUnavailableError, match="no token"):
        await manager.submit_share(recovery[1], reset=False)
    assert manager.sealed and "break_glass" not in await manager.status()
    await manager.seal.close()


async def test_break_glass_unseals_with_recovery_shares_when_every_token_is_lost(softhsm_token, caplog) -> None:
    storage, recovery, root_token = await store(softhsm_token, ON)
    assert await storage.get(BREAK_GLASS_KEY) is not None
    caplog.set_level("INFO", logger="sealer.seal")
    manager = SealManager(storage, lost_token(softhsm_token), options=ON)
    await manager.submit_share(recovery[2], reset=False)
    status = await manager.submit_share(recovery[0], reset=False)
    assert status["sealed"] is False
    assert await manager.core.is_root_token(root_token)
    assert status["break_glass"]["active"] is True and status["break_glass"]["last_used"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("BREAK-GLASS" in message for message in warnings)
    assert all(share not in caplog.text for share in recovery)
    await manager.seal_now()
    # The use stays on record after a seal (and a restart).
    assert (await manager.status())["break_glass"]["last_used"] == status["break_glass"]["last_used"]
    await manager.seal.close()


async def test_wrong_recovery_shares_do_not_break_the_glass(softhsm_token) -> None:
    storage, _, _ = await store(softhsm_token, ON)
    _, others, _ = await store(softhsm_token, ON)
    manager = SealManager(storage, lost_token(softhsm_token), options=ON)
    await manager.submit_share(others[0], reset=False)
    with pytest.raises(BadRequest, match="recovery keys do not match"):
        await manager.submit_share(others[1], reset=False)
    assert manager.sealed
    await manager.seal.close()


async def test_break_glass_stored_but_turned_off_in_the_config_is_refused_then_removed(softhsm_token) -> None:
    storage, recovery, _ = await store(softhsm_token, ON)
    off = SealManager(storage, lost_token(softhsm_token))
    await off.submit_share(recovery[0], reset=False)
    with pytest.raises(SealUnavailableError):
        await off.submit_share(recovery[1], reset=False)
    await off.seal.close()
    # Unsealed through the token, the daemon drops the blob the configuration no longer wants.
    manager = SealManager(storage, token_seal(softhsm_token))
    assert await manager.auto_unseal()
    assert await storage.get(BREAK_GLASS_KEY) is None
    record = await manager.record()
    assert record is not None and not record.break_glass
    await manager.seal.close()


async def test_turned_on_later_it_is_stored_once_recovery_shares_are_proven(softhsm_token) -> None:
    storage, recovery, _ = await store(softhsm_token, SealOptions())
    manager = SealManager(storage, token_seal(softhsm_token), options=ON)
    assert await manager.auto_unseal()
    assert (await manager.status())["break_glass"] == {"enabled": True, "stored": False, "active": False,
                                                       "last_used": None}
    await manager.key_from_shares([bytes.fromhex(s) for s in recovery[:2]])  # e.g. a generate-root
    assert await storage.get(BREAK_GLASS_KEY) is not None
    assert (await manager.status())["break_glass"]["stored"] is True
    await manager.seal.close()


async def test_a_recovery_rekey_moves_break_glass_to_the_new_shares(softhsm_token) -> None:
    storage, recovery, _ = await store(softhsm_token, ON)
    manager = SealManager(storage, token_seal(softhsm_token), options=ON)
    assert await manager.auto_unseal()
    proven = await manager.key_from_shares([bytes.fromhex(s) for s in recovery[:2]])
    fresh = [share.hex() for share in await manager.replace_shared_key(proven, 2, 2)]
    await manager.seal.close()

    lost = SealManager(storage, lost_token(softhsm_token), options=ON)
    await lost.submit_share(recovery[0], reset=False)
    with pytest.raises(BadRequest):
        await lost.submit_share(recovery[1], reset=False)
    await lost.submit_share(fresh[0], reset=False)
    assert (await lost.submit_share(fresh[1], reset=False))["sealed"] is False
    await lost.seal.close()


async def test_after_break_glass_a_new_token_gets_the_root_key_and_unseals_alone(softhsm, softhsm_token) -> None:
    storage, recovery, root_token = await store(softhsm_token, ON)
    replacement = make_token(softhsm.directory, f"spare-{uuid.uuid4().hex[:6]}", softhsm.pin, softhsm.so_pin)
    tokens = TokenSet([lost_token(softhsm_token), Pkcs11Seal(replacement.pkcs11_settings(), name="spare",
                                                             priority=2)])
    manager = SealManager(storage, tokens, options=ON)
    await manager.submit_share(recovery[0], reset=False)
    status = await manager.submit_share(recovery[1], reset=False)
    assert status["sealed"] is False and status["break_glass"]["active"] is True
    spare = next(entry for entry in status["seals"] if entry["name"] == "spare")
    assert spare["wrapped"] is True and spare["healthy"] is True
    await manager.seal.close()

    alone = SealManager(storage, Pkcs11Seal(replacement.pkcs11_settings(), name="spare"))
    assert await alone.auto_unseal() and await alone.core.is_root_token(root_token)
    await alone.seal.close()
