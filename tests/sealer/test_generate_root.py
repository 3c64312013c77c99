"""sys/generate-root/* through the real HTTP app and seal manager: the OTP the daemon generates (shown
once) or the one given, the encoding Vault's `-decode` reads, PGP-encrypted tokens, recovery shares on
the pkcs11 seal, and every refusal leaving the attempt as it was."""

from __future__ import annotations

import base64
import logging
import string

import pytest

from engine.tokens import TOKEN_PREFIX
from hsm import Pkcs11Settings
from sealer.ceremonies.otp import OtpError, decode_token, encode_token, generate_otp
from sealer.seals.pkcs11 import Pkcs11Seal
from tests.pgp_holders import holders
from tests.sealer.ceremony_harness import Api, running

ATTEMPT = "sys/generate-root/attempt"
UPDATE = "sys/generate-root/update"
BASE62 = set(string.ascii_letters + string.digits)


async def generate(api: Api, shares: list[bytes], **start: str) -> tuple[dict, dict]:
    started = await api.ok("PUT", ATTEMPT, start or {})
    result: dict = {}
    for share in shares:
        result = await api.ok("PUT", UPDATE, {"key": share.hex(), "nonce": started["nonce"]})
    return started, result


def test_the_encoding_is_vaults_raw_base64_of_token_xor_otp() -> None:
    # A fixed vector: "hvs.AAAA..." XOR "0123..." byte by byte, then unpadded standard base64.
    token = "hvs." + "A" * 24
    otp = "0123456789abcdefghijABCDEFGH"
    expected = base64.b64encode(bytes(a ^ b for a, b in zip(token.encode(), otp.encode(), strict=True)))
    assert encode_token(token, otp) == expected.decode().rstrip("=")
    assert encode_token(token, otp) == "WEdBHXV0d3Z5eCAjIiUkJyYpKCsAAwIFBAcGCQ"
    assert decode_token("WEdBHXV0d3Z5eCAjIiUkJyYpKCsAAwIFBAcGCQ", otp) == token
    assert decode_token("WEdBHXV0d3Z5eCAjIiUkJyYpKCsAAwIFBAcGCQ==", otp) == token  # padding tolerated
    with pytest.raises(OtpError, match="length of byte slices is not equivalent: 29 != 28"):
        encode_token(token, otp + "x")
    with pytest.raises(OtpError, match="not equivalent"):
        decode_token(encode_token(token, otp), otp[:-1])
    with pytest.raises(OtpError, match="base64"):
        decode_token("not base64!", otp)
    generated = generate_otp(28)
    assert len(generated) == 28 and set(generated) <= BASE62 and generated != generate_otp(28)


async def test_without_an_otp_the_daemon_generates_one_and_shows_it_once() -> None:
    async with running(shares=3, threshold=2) as api:
        assert await api.ok("GET", ATTEMPT) == {
            "nonce": "", "started": False, "progress": 0, "required": 2, "complete": False, "encoded_token": "",
            "encoded_root_token": "", "pgp_fingerprint": "", "otp": "", "otp_length": 28,
        }
        started = await api.ok("PUT", ATTEMPT)
        otp = started["otp"]
        assert len(otp) == 28 == started["otp_length"] and set(otp) <= BASE62
        assert started["started"] is True and started["progress"] == 0
        status = await api.ok("GET", ATTEMPT)
        assert status["otp"] == "" and status["nonce"] == started["nonce"] and status["started"] is True

        first = await api.ok("PUT", UPDATE, {"key": api.shares[2].hex(), "nonce": started["nonce"]})
        assert first["progress"] == 1 and first["complete"] is False and first["encoded_token"] == ""
        done = await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": started["nonce"]})
        assert done["complete"] is True and done["progress"] == 2 and done["required"] == 2
        assert done["encoded_token"] == done["encoded_root_token"] and done["otp"] == ""
        token = decode_token(done["encoded_token"], otp)
        assert token.startswith(TOKEN_PREFIX) and len(token) == 28
        assert await api.manager.core.is_root_token(token)
        assert (await api.ok("GET", ATTEMPT))["started"] is False


async def test_with_a_given_otp_and_tokens_from_two_runs_differ() -> None:
    async with running() as api:
        otp = generate_otp(28)
        started, done = await generate(api, api.shares[:2], otp=otp)
        assert started["otp"] == ""  # the caller's own OTP is never echoed
        first = decode_token(done["encoded_token"], otp)
        _, again = await generate(api, api.shares[1:3], otp=otp)
        second = decode_token(again["encoded_token"], otp)
        assert first != second
        assert await api.manager.core.is_root_token(first) and await api.manager.core.is_root_token(second)


async def test_a_pgp_key_gets_the_token_encrypted_to_it() -> None:
    (alice,) = holders("alice")
    async with running() as api:
        started, done = await generate(api, api.shares[:2], pgp_key=alice.public_key)
        assert started["pgp_fingerprint"] == alice.fingerprint and started["otp"] == ""
        assert (await api.ok("GET", ATTEMPT))["started"] is False
        assert done["pgp_fingerprint"] == alice.fingerprint
        token = alice.decrypt(done["encoded_token"]).decode()
        assert await api.manager.core.is_root_token(token)


async def test_recovery_shares_generate_a_root_token_on_the_pkcs11_seal(softhsm_token) -> None:
    seal = Pkcs11Seal(Pkcs11Settings(lib=softhsm_token.lib, pin=softhsm_token.pin,
                                     token_label=softhsm_token.label, generate_key=True))
    async with running(seal, shares=3, threshold=2) as api:
        otp = generate_otp(28)
        _, done = await generate(api, [api.init.recovery_keys[1], api.init.recovery_keys[2]], otp=otp)
        assert await api.manager.core.is_root_token(decode_token(done["encoded_token"], otp))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"otp": "short"}, "OTP string is wrong length"),
        ({"pgp_key": "bm90IGEga2V5"}, "error parsing given PGP key pgp_key"),
        ({"otp": 28}, "'otp' must be a string"),
    ],
)
async def test_a_bad_start_is_refused(body: dict, message: str) -> None:
    async with running() as api:
        assert message in await api.refused("PUT", ATTEMPT, body)
        assert (await api.ok("GET", ATTEMPT))["started"] is False


async def test_bad_shares_nonces_and_a_second_start_leave_the_attempt_unchanged() -> None:
    async with running(shares=5, threshold=3) as api:
        assert await api.refused("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": "x"}) == \
            "no root generation in progress"
        started = await api.ok("PUT", ATTEMPT)
        nonce = started["nonce"]
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce})

        assert await api.refused("PUT", ATTEMPT) == "root generation already in progress"
        assert await api.refused("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": "other"}) == \
            f'incorrect nonce supplied; nonce for this root generation operation is "{nonce}"'
        assert await api.refused("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": nonce}) == \
            "given key has already been provided during this generation operation"
        assert "wrong length" in await api.refused("PUT", UPDATE, {"key": "abcd", "nonce": nonce})
        assert "'key' must be specified" in await api.refused("PUT", UPDATE, {"key": "", "nonce": nonce})

        status = await api.ok("GET", ATTEMPT)
        assert status["progress"] == 1 and status["nonce"] == nonce
        await api.ok("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": nonce})
        done = await api.ok("PUT", UPDATE, {"key": api.shares[4].hex(), "nonce": nonce})
        assert await api.manager.core.is_root_token(decode_token(done["encoded_token"], started["otp"]))


async def test_a_wrong_set_of_shares_aborts_with_the_progress_reset() -> None:
    async with running(shares=3, threshold=2) as api:
        async with running(shares=3, threshold=2) as other:
            foreign = other.shares[1]
        started = await api.ok("PUT", ATTEMPT)
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": started["nonce"]})
        message = await api.refused("PUT", UPDATE, {"key": foreign.hex(), "nonce": started["nonce"]})
        assert message.startswith("root generation aborted: root key verification failed")
        status = await api.ok("GET", ATTEMPT)
        assert status["started"] is True and status["progress"] == 0 and status["nonce"] == started["nonce"]
        _, done = await generate_with(api, started["nonce"], api.shares[1:3])
        assert await api.manager.core.is_root_token(decode_token(done["encoded_token"], started["otp"]))


async def generate_with(api: Api, nonce: str, shares: list[bytes]) -> tuple[None, dict]:
    result: dict = {}
    for share in shares:
        result = await api.ok("PUT", UPDATE, {"key": share.hex(), "nonce": nonce})
    return None, result


async def test_cancel_and_the_sealed_daemon() -> None:
    async with running() as api:
        started = await api.ok("PUT", ATTEMPT)
        assert await api.ok("DELETE", ATTEMPT) is None
        assert (await api.ok("GET", ATTEMPT))["started"] is False
        assert await api.refused("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": started["nonce"]}) == \
            "no root generation in progress"

        started = await api.ok("PUT", ATTEMPT)
        await api.ok("PUT", UPDATE, {"key": api.shares[0].hex(), "nonce": started["nonce"]})
        await api.manager.seal_now()
        for method, body in [("GET", None), ("PUT", {}), ("DELETE", None)]:
            assert await api.refused(method, ATTEMPT, body, status=503) == "Vault is sealed"
        assert await api.refused("PUT", UPDATE, {"key": api.shares[1].hex(), "nonce": started["nonce"]},
                                 status=503) == "Vault is sealed"
        await api.unseal_with(api.shares[1:3])
        assert (await api.ok("GET", ATTEMPT))["started"] is False  # the seal ended the attempt


async def test_the_log_tells_the_story_without_secrets(caplog) -> None:
    caplog.set_level(logging.INFO, logger="sealer.ceremony")
    async with running() as api:
        started, done = await generate(api, api.shares[:2])
        token = decode_token(done["encoded_token"], started["otp"])
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "sealer.ceremony")
    nonce = started["nonce"]
    assert f"generate-root [nonce {nonce}]: started (token encoded with generated OTP, required 2)" in text
    assert f"accepted share index {api.shares[1][-1]} (progress 2 of 2)" in text
    assert "completed: a new root token was generated" in text
    for secret in (token, started["otp"], done["encoded_token"], *(s.hex() for s in api.shares)):
        assert secret not in text
