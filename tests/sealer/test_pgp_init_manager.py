"""PGP on init at the seal manager: Vault's rules for which keys apply, and an init that fails while
encrypting leaves the store uninitialised (no share is ever lost)."""

from __future__ import annotations

import base64

import pytest

from engine.errors import BadRequest
from engine.storage.memory import MemoryStorage
from sealer.init_pgp import InitPgp
from sealer.seal_manager import InitRequest, InitResult, SealManager
from sealer.seals.shamir import ShamirSeal
from tests.pgp_holders import holders


def _from_body(body: dict, auto_unseal: bool = False, shares: int | None = None) -> InitPgp | None:
    return InitPgp.from_body(body, auto_unseal=auto_unseal, seal_type="pkcs11" if auto_unseal else "shamir",
                             shares=shares)


async def test_shamir_shares_and_root_token_come_back_encrypted_and_the_decrypted_ones_work() -> None:
    alice, bob, carol = holders("alice", "bob", "carol")
    pgp = _from_body({"pgp_keys": [alice.public_key, bob.public_key, carol.public_key],
                      "root_token_pgp_key": carol.public_key}, shares=3)
    assert pgp is not None
    await pgp.check()
    manager = SealManager(MemoryStorage(), ShamirSeal())
    result = await manager.initialize(InitRequest(secret_shares=3, secret_threshold=2, protect=pgp.protect))

    body = result.body()
    assert body["keys"] == [base64.b64decode(k).hex() for k in body["keys_base64"]]  # one message, two spellings
    shares = [person.decrypt(b64).decode() for person, b64 in zip((alice, bob, carol), body["keys_base64"],
                                                                   strict=True)]
    root_token = carol.decrypt(body["root_token"]).decode()
    assert root_token not in body["root_token"]
    await manager.submit_share(shares[2], reset=False)
    status = await manager.submit_share(shares[0], reset=False)
    assert status["sealed"] is False
    assert await manager.core.is_root_token(root_token)


async def test_an_init_that_fails_while_protecting_the_result_stays_uninitialised() -> None:
    storage = MemoryStorage()
    manager = SealManager(storage, ShamirSeal())

    async def fail(result: InitResult) -> InitResult:
        raise BadRequest("encryption failed")

    with pytest.raises(BadRequest, match="encryption failed"):
        await manager.initialize(InitRequest(secret_shares=3, secret_threshold=2, protect=fail))
    assert await manager.initialized() is False
    assert manager.sealed
    # A later init (here without PGP) starts from scratch and works.
    result = await manager.initialize(InitRequest(secret_shares=1, secret_threshold=1))
    assert (await manager.submit_share(result.keys[0].hex(), reset=False))["sealed"] is False
    assert await manager.core.is_root_token(result.root_token)


def test_vaults_rules_for_which_keys_apply() -> None:
    (alice,) = holders("alice")
    key = alice.public_key
    assert _from_body({}) is None
    assert _from_body({"pgp_keys": [], "root_token_pgp_key": ""}) is None
    cases = [
        ({"pgp_keys": [key]}, True, None, "parameters pgp_keys not applicable to seal type pkcs11"),
        ({"recovery_pgp_keys": [key]}, False, 1, "parameters recovery_pgp_keys not applicable to seal type shamir"),
        ({"pgp_keys": [key, key]}, False, 3, "incorrect number of PGP keys"),
        ({"recovery_pgp_keys": [key]}, True, 2, "incorrect number of PGP keys for recovery"),
        ({"pgp_keys": key}, False, 1, "field 'pgp_keys': expected a list"),
        ({"pgp_keys": [1]}, False, 1, "field 'pgp_keys': expected a list"),
        ({"root_token_pgp_key": ["x"]}, False, 1, "field 'root_token_pgp_key': expected a base64"),
    ]
    for body, auto_unseal, shares, message in cases:
        with pytest.raises(BadRequest) as excinfo:
            _from_body(body, auto_unseal, shares)
        assert excinfo.value.message.startswith(message), (body, excinfo.value.message)


async def test_recovery_defaults_are_checked_when_the_shares_exist() -> None:
    # recovery_shares left to its default (5): the count is checked against the real shares before commit.
    (alice,) = holders("alice")
    pgp = _from_body({"recovery_pgp_keys": [alice.public_key]}, auto_unseal=True, shares=None)
    assert pgp is not None
    result = InitResult(root_token="t", recovery_keys=[bytes(33)] * 5)
    with pytest.raises(BadRequest, match=r"^incorrect number of PGP keys for recovery$"):
        await pgp.protect(result)
    encrypted = await pgp.protect(InitResult(root_token="t", recovery_keys=[b"\x07" * 33]))
    assert alice.decrypt(base64.b64encode(encrypted.recovery_keys[0]).decode()) == (b"\x07" * 33).hex().encode()
    assert encrypted.root_token == "t" and encrypted.keys == []
