"""sys/rekey/* on the shamir seal, through the real HTTP app and seal manager: Vault's flow and answers,
the verification round (the old shares work until the commit), and every refusal leaving state as it was."""

from __future__ import annotations

import base64
import logging

import pytest
from aiohttp.test_utils import TestClient, TestServer

from engine.storage.memory import MemoryStorage
from sealer.http.app import build_app
from sealer.seal_manager import SealManager
from sealer.seals.shamir import ShamirSeal
from tests.sealer.ceremony_harness import Api, running

INIT = "sys/rekey/init"
UPDATE = "sys/rekey/update"
VERIFY = "sys/rekey/verify"


async def start(api: Api, **body: object) -> str:
    status = await api.ok("PUT", INIT, {"secret_shares": 5, "secret_threshold": 3, **body})
    return str(status["nonce"])


async def test_status_before_any_rekey_is_vaults() -> None:
    async with running() as api:
        assert await api.ok("GET", INIT) == {
            "nonce": "", "started": False, "t": 0, "n": 0, "progress": 0, "required": 2,
            "pgp_fingerprints": None, "backup": False, "verification_required": False,
        }


async def test_rekey_without_verification_replaces_the_shares_at_once() -> None:
    async with running(shares=3, threshold=2) as api:
        started = await api.ok("PUT", INIT, {"secret_shares": 5, "secret_threshold": 3})
        assert started["started"] is True and started["n"] == 5 and started["t"] == 3
        assert started["required"] == 2 and started["progress"] == 0
        nonce = started["nonce"]

        first = await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        assert first["progress"] == 1 and first["started"] is True and "keys" not in first
        assert await api.proves(api.shares[:2])  # nothing changed yet

        # base64, as `keys_base64` hands them out, works as well as hex
        done = await api.ok("PUT", UPDATE, {"key": base64.b64encode(api.shares[2]).decode(), "nonce": nonce})
        assert done["complete"] is True and done["nonce"] == nonce and done["verification_required"] is False
        new = [bytes.fromhex(k) for k in done["keys"]]
        assert len(new) == 5 and [base64.b64decode(k) for k in done["keys_base64"]] == new

        assert not await api.proves(api.shares[:2])
        assert await api.proves(new[1:4])
        assert (await api.ok("GET", INIT))["started"] is False
        await api.manager.seal_now()
        status = await api.unseal_with(new[2:5])
        assert status["sealed"] is False and status["t"] == 3 and status["n"] == 5


async def test_with_verification_the_old_shares_work_until_the_new_ones_are_verified() -> None:
    async with running(shares=3, threshold=2) as api:
        nonce = await start(api, require_verification=True)
        assert (await api.ok("GET", INIT))["verification_required"] is True
        await api.ok("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": nonce})
        done = await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        assert done["complete"] is True and done["verification_required"] is True
        verification_nonce = done["verification_nonce"]
        assert verification_nonce and verification_nonce != nonce
        new = [bytes.fromhex(k) for k in done["keys"]]

        # Issued but not in effect: the old shares still prove the key, the new ones do not.
        assert await api.proves(api.shares[:2])
        assert not await api.proves(new[:3])
        status = await api.ok("GET", INIT)
        assert status["started"] is True and status["verification_nonce"] == verification_nonce
        assert await api.ok("GET", VERIFY) == {"nonce": verification_nonce, "started": True, "t": 3, "n": 5,
                                               "progress": 0}
        message = await api.refused("PUT", UPDATE, {"key": api.shares[2].hex(), "nonce": nonce})
        assert f'verification must be performed; nonce for the verification operation is "{verification_nonce}"' \
            in message

        for count, share in enumerate(new[:2], 1):
            step = await api.ok("PUT", VERIFY, {"key": share.hex(), "nonce": verification_nonce})
            assert step["progress"] == count and step["started"] is True
        assert await api.proves(api.shares[:2])
        finished = await api.ok("PUT", VERIFY, {"key": new[4].hex(), "nonce": verification_nonce})
        assert finished == {"nonce": verification_nonce, "complete": True}

        assert not await api.proves(api.shares[:2])
        assert await api.proves(new[:3])
        assert (await api.ok("GET", INIT))["started"] is False
        assert "no rekey configuration found" in await api.refused("GET", VERIFY)


async def test_canceling_during_verification_keeps_the_old_shares() -> None:
    async with running() as api:
        nonce = await start(api, require_verification=True)
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        done = await api.ok("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": nonce})
        new = [bytes.fromhex(k) for k in done["keys"]]
        assert await api.ok("DELETE", INIT) is None
        assert (await api.ok("GET", INIT))["started"] is False
        assert await api.proves(api.shares[1:3])
        assert not await api.proves(new[:3])
        assert "no rekey in progress" in await api.refused(
            "PUT", VERIFY, {"key": new[0].hex(), "nonce": done["verification_nonce"]})


async def test_restarting_verification_forgets_its_shares_and_changes_its_nonce() -> None:
    async with running() as api:
        nonce = await start(api, require_verification=True)
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        done = await api.ok("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": nonce})
        new = [bytes.fromhex(k) for k in done["keys"]]
        first_nonce = done["verification_nonce"]
        await api.ok("PUT", VERIFY, {"key": new[0].hex(), "nonce": first_nonce})
        restarted = await api.ok("DELETE", VERIFY)
        assert restarted["progress"] == 0 and restarted["started"] is True
        assert restarted["nonce"] != first_nonce
        assert "incorrect nonce" in await api.refused("PUT", VERIFY, {"key": new[1].hex(), "nonce": first_nonce})
        for share in new[:3]:
            last = await api.ok("PUT", VERIFY, {"key": share.hex(), "nonce": restarted["nonce"]})
        assert last["complete"] is True
        assert await api.proves(new[2:5])


async def test_a_wrong_set_of_current_shares_resets_the_progress_but_keeps_the_rekey() -> None:
    async with running(shares=3, threshold=2) as api:
        async with running(shares=3, threshold=2) as other:
            foreign = other.shares[0]  # a well-formed share of another installation's key
        nonce = await start(api)
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        message = await api.refused("PUT", UPDATE, {"key": foreign.hex(), "nonce": nonce})
        assert "root key verification failed" in message
        status = await api.ok("GET", INIT)
        assert status["started"] is True and status["nonce"] == nonce and status["progress"] == 0
        assert await api.proves(api.shares[:2])
        # The same attempt completes with the right shares.
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        assert (await api.ok("PUT", UPDATE, {"key": api.shares[2].hex(), "nonce": nonce}))["complete"] is True


async def test_wrong_new_shares_at_verification_reset_it_and_rotate_its_nonce() -> None:
    async with running() as api:
        nonce = await start(api, require_verification=True, secret_shares=3, secret_threshold=2)
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        done = await api.ok("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": nonce})
        new = [bytes.fromhex(k) for k in done["keys"]]
        first_nonce = done["verification_nonce"]
        await api.ok("PUT", VERIFY, {"key": new[0].hex(), "nonce": first_nonce})
        # An old share has the right length and a distinct index, but is not a share of the new key.
        message = await api.refused("PUT", VERIFY, {"key": api.shares[2].hex(), "nonce": first_nonce})
        assert message == "rekey verification failed; incorrect key shares supplied"
        status = await api.ok("GET", VERIFY)
        assert status["progress"] == 0 and status["nonce"] != first_nonce and status["started"] is True
        assert await api.proves(api.shares[:2]) and not await api.proves(new[:2])
        for share in new[1:]:
            last = await api.ok("PUT", VERIFY, {"key": share.hex(), "nonce": status["nonce"]})
        assert last["complete"] is True and await api.proves(new[:2])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"secret_shares": 3, "secret_threshold": 4}, "provided threshold greater than the total shares"),
        ({"secret_shares": 3, "secret_threshold": 1}, "threshold must be greater than one for multiple shares"),
        ({"secret_shares": 0, "secret_threshold": 0}, "shares must be at least one"),
        ({"secret_shares": 256, "secret_threshold": 3}, "shares must be less than 256"),
        ({"secret_shares": 3, "secret_threshold": 2, "backup": True},
         "cannot request a backup of the new keys without providing PGP keys for encryption"),
        ({"secret_shares": 3, "secret_threshold": 2, "pgp_keys": ["a", "b"]}, "incorrect number of PGP keys for rekey"),
        ({"secret_shares": 2, "secret_threshold": 2, "pgp_keys": ["bm90IGEga2V5", "bm90IGEga2V5"]},
         "pgp_keys[0]"),
        ({"secret_shares": "3", "secret_threshold": 2}, "'secret_shares' must be an integer"),
        ({"secret_shares": 3, "secret_threshold": 2, "require_verification": "yes"},
         "'require_verification' must be a boolean"),
    ],
)
async def test_a_bad_init_is_refused_and_starts_nothing(body: dict[str, object], message: str) -> None:
    async with running() as api:
        assert message in await api.refused("PUT", INIT, body)
        assert (await api.ok("GET", INIT))["started"] is False


async def test_bad_shares_and_nonces_are_refused_with_the_progress_unchanged() -> None:
    async with running(shares=5, threshold=3) as api:
        assert "no barrier rekey in progress" in await api.refused(
            "PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": "x"})
        nonce = await start(api)
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})

        assert "rekey already in progress" in await api.refused("PUT", INIT, {"secret_shares": 2,
                                                                             "secret_threshold": 2})
        wrong_nonce = await api.refused("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": "not-the-nonce"})
        assert wrong_nonce == f'incorrect nonce supplied; nonce for this rekey operation is "{nonce}"'
        assert "already been provided" in await api.refused("PUT", UPDATE, {"key": api.shares[0].hex(),
                                                                             "nonce": nonce})
        assert "wrong length" in await api.refused("PUT", UPDATE, {"key": api.shares[1][:-1].hex(), "nonce": nonce})
        assert "valid hex or base64" in await api.refused("PUT", UPDATE, {"key": "not a key!", "nonce": nonce})
        assert "'key' must be specified" in await api.refused("PUT", UPDATE, {"nonce": nonce})
        assert "failed to parse JSON" in await api.refused("PUT", UPDATE, {"key": 12, "nonce": nonce})
        assert "no rekey verification in progress" in await api.refused(
            "PUT", VERIFY, {"key": api.shares[1].hex(), "nonce": nonce})

        status = await api.ok("GET", INIT)
        assert status["progress"] == 1 and status["nonce"] == nonce and status["n"] == 5
        for share in api.shares[1:3]:
            last = await api.ok("PUT", UPDATE, {"key": share.hex(), "nonce": nonce})
        assert last["complete"] is True


async def test_recovery_rekeying_is_refused_on_the_shamir_seal() -> None:
    async with running() as api:
        for method, path in [("GET", "sys/rekey-recovery-key/init"), ("PUT", "sys/rekey-recovery-key/init"),
                             ("GET", "sys/rekey-recovery-key/verify"), ("DELETE", "sys/rekey-recovery-key/init")]:
            body = {"secret_shares": 3, "secret_threshold": 2} if method == "PUT" else None
            assert await api.refused(method, path, body) == "recovery rekeying not supported"


async def test_rekey_needs_an_unsealed_daemon_and_sealing_discards_the_attempt() -> None:
    async with running() as api:
        nonce = await start(api, require_verification=True)
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        done = await api.ok("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": nonce})
        new = [bytes.fromhex(k) for k in done["keys"]]
        await api.manager.seal_now()
        for method, path in [("GET", INIT), ("PUT", INIT), ("DELETE", INIT), ("GET", VERIFY)]:
            body = {"secret_shares": 3, "secret_threshold": 2} if method == "PUT" else None
            assert await api.refused(method, path, body, status=503) == "Vault is sealed"
        assert await api.refused("PUT", VERIFY, {"key": new[0].hex(), "nonce": done["verification_nonce"]},
                                 status=503) == "Vault is sealed"
        # The new shares were never committed: the old ones unseal, and the attempt is gone.
        assert (await api.unseal_with(api.shares[:2]))["sealed"] is False
        assert (await api.ok("GET", INIT))["started"] is False
        assert not await api.proves(new[:3])


async def test_every_step_is_logged_with_the_share_index_and_never_its_value(caplog) -> None:
    caplog.set_level(logging.INFO, logger="sealer.ceremony")
    async with running() as api:
        nonce = await start(api, require_verification=True)
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        await api.refused("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        done = await api.ok("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": nonce})
        new = [bytes.fromhex(k) for k in done["keys"]]
        for share in new[:3]:
            await api.ok("PUT", VERIFY, {"key": share.hex(), "nonce": done["verification_nonce"]})
    lines = [r.getMessage() for r in caplog.records if r.name == "sealer.ceremony"]
    text = "\n".join(lines)
    assert f"rekey [nonce {nonce}]: started" in text
    assert f"accepted share index {api.shares[0][-1]} (progress 1 of 2)" in text
    assert f"accepted share index {api.shares[1][-1]} (progress 2 of 2)" in text
    assert "refused a share: given key has already been provided" in text
    assert f"rekey verification [nonce {done['verification_nonce']}]: accepted share index {new[2][-1]}" in text
    assert "completed: the new shares are in effect" in text
    for secret in [*api.shares, *new]:
        for form in (secret.hex(), base64.b64encode(secret).decode(), secret[:-1].hex()):
            assert form not in text


async def test_not_initialised_is_a_400() -> None:
    async with TestClient(TestServer(build_app(SealManager(MemoryStorage(), ShamirSeal())))) as client:
        for path in (INIT, "sys/generate-root/attempt"):
            async with client.get(f"/v1/{path}") as resp:
                assert resp.status == 400
                assert (await resp.json())["errors"] == ["server is not yet initialized"]


async def test_a_seal_between_two_steps_ends_the_attempt_even_unnoticed() -> None:
    async with running() as api:
        nonce = await start(api, require_verification=True)
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        done = await api.ok("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": nonce})
        # Sealed and unsealed again with no ceremony request in between: the daemon's watcher ends it.
        await api.manager.seal_now()
        await api.unseal_with(api.shares[1:3])
        for _ in range(50):  # bounded poll: the watcher runs on the event loop, between requests
            if not (await api.ok("GET", INIT))["started"]:
                break
        assert (await api.ok("GET", INIT))["started"] is False
        assert "no rekey in progress" in await api.refused(
            "PUT", VERIFY, {"key": done["keys"][0], "nonce": done["verification_nonce"]})
        assert await api.proves(api.shares[:2])
