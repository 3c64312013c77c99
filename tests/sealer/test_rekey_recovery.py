"""sys/rekey-recovery-key/* on the pkcs11 seal (a fresh SoftHSM token per test): new recovery shares,
with and without verification; sys/rekey is refused there."""

from __future__ import annotations

from hsm import Pkcs11Settings
from sealer.seals.pkcs11 import Pkcs11Seal
from tests.sealer.ceremony_harness import running

INIT = "sys/rekey-recovery-key/init"
UPDATE = "sys/rekey-recovery-key/update"
VERIFY = "sys/rekey-recovery-key/verify"


def pkcs11_seal(token) -> Pkcs11Seal:
    return Pkcs11Seal(Pkcs11Settings(lib=token.lib, pin=token.pin, token_label=token.label, generate_key=True))


async def test_recovery_rekey_with_verification(softhsm_token) -> None:
    async with running(pkcs11_seal(softhsm_token), shares=3, threshold=2) as api:
        status = await api.ok("GET", INIT)
        assert status["started"] is False and status["required"] == 2
        started = await api.ok("PUT", INIT, {"secret_shares": 4, "secret_threshold": 3, "require_verification": True})
        nonce = started["nonce"]
        await api.ok("PUT", UPDATE, {"key": api.shares[2].hex(), "nonce": nonce})
        done = await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        new = [bytes.fromhex(k) for k in done["keys"]]
        assert len(new) == 4 and done["verification_required"] is True
        assert await api.proves(api.shares[:2]) and not await api.proves(new[:3])

        for share in new[1:4]:
            last = await api.ok("PUT", VERIFY, {"key": share.hex(), "nonce": done["verification_nonce"]})
        assert last["complete"] is True
        assert not await api.proves(api.shares[:2])
        assert await api.proves(new[:3])

        # Recovery shares authorise an unseal after an operator's seal: now only the new ones.
        await api.manager.seal_now()
        await api.manager.submit_share(api.shares[0].hex(), reset=False)
        await api.manager.submit_share(api.shares[1].hex(), reset=False)
        assert api.manager.sealed
        await api.manager.submit_share("", reset=True)
        status = await api.unseal_with(new[:3])
        assert status["sealed"] is False and status["t"] == 3 and status["n"] == 4


async def test_recovery_rekey_without_verification_and_a_single_share(softhsm_token) -> None:
    async with running(pkcs11_seal(softhsm_token), shares=3, threshold=2) as api:
        nonce = (await api.ok("PUT", INIT, {"secret_shares": 1, "secret_threshold": 1}))["nonce"]
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        done = await api.ok("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": nonce})
        (single,) = [bytes.fromhex(k) for k in done["keys"]]
        assert len(single) == 32  # one share of one is the key itself, as in Vault
        assert await api.proves([single]) and not await api.proves(api.shares[:2])
        # A rekey from a single share: a 33-byte share is now the wrong length.
        nonce = (await api.ok("PUT", INIT, {"secret_shares": 2, "secret_threshold": 2}))["nonce"]
        assert "wrong length" in await api.refused("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})
        done = await api.ok("PUT", UPDATE, {"key": single.hex(), "nonce": nonce})
        assert done["complete"] is True and len(done["keys"]) == 2


async def test_the_barrier_rekey_endpoint_is_refused_on_the_pkcs11_seal(softhsm_token) -> None:
    async with running(pkcs11_seal(softhsm_token)) as api:
        status = await api.ok("GET", "sys/rekey/init")
        assert status["started"] is False and status["required"] == 2  # the recovery threshold, as in Vault
        message = await api.refused("PUT", "sys/rekey/init", {"secret_shares": 3, "secret_threshold": 2})
        assert "not supported with the pkcs11 seal" in message and "rekey-recovery-key" in message
        assert "no barrier rekey in progress" in await api.refused(
            "PUT", "sys/rekey/update", {"key": api.shares[0].hex(), "nonce": "x"})
        assert (await api.ok("GET", INIT))["started"] is False
