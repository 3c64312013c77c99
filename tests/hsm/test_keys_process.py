"""hsm.TokenKeysProcess: transit's in-token keys served by a process of its own, on its own session. The
keys work through it as through the daemon's Hsm (and the two see the same token objects); errors cross
over with their kind and message; a process killed, stopped or crashed fails the calls it had clearly and
the next call starts another; closing it ends the process."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator

import pytest
from softhsm import SoftHsmToken

from hsm import Hsm, HsmError, HsmTimeout, HsmTokenKeys, KeyNotFound, PinIncorrect, TokenKeysProcess, open_hsm
from hsm.errors import TokenNotFound
from hsm.stats import CALL_STATS

AAD = b"transit/m/in-token"


@pytest.fixture
async def seal_hsm(softhsm_token: SoftHsmToken) -> AsyncIterator[Hsm]:
    """The daemon's own session (the seal's), which generated the seal's keys the process will look for."""
    async with open_hsm(softhsm_token.pkcs11_settings()) as opened:
        yield opened


@pytest.fixture
async def keys(softhsm_token: SoftHsmToken, seal_hsm: Hsm) -> AsyncIterator[TokenKeysProcess]:
    process = TokenKeysProcess(softhsm_token.pkcs11_settings(call_timeout=2))
    yield process
    await process.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_in_token_keys_work_through_the_process(keys: TokenKeysProcess, seal_hsm: Hsm) -> None:
    assert keys.pid is None  # nothing started before the first call
    await keys.generate_aes_key("transit/m/aes/1")
    assert keys.pid is not None and keys.pid != os.getpid()
    blob = await keys.aes_gcm_encrypt("transit/m/aes/1", b"plaintext", AAD)
    assert await keys.aes_gcm_decrypt("transit/m/aes/1", blob, AAD) == b"plaintext"
    assert await keys.aes_gcm_decrypt("transit/m/aes/1", blob[:-1] + bytes([blob[-1] ^ 1]), AAD) is None
    # The same token object, seen from the daemon's own session.
    assert await HsmTokenKeys.over(seal_hsm).aes_gcm_decrypt("transit/m/aes/1", blob, AAD) == b"plaintext"
    public_key = await keys.generate_ec_key("transit/m/ec/1", "P-256")
    assert await keys.ec_public_key("transit/m/ec/1") == public_key
    assert len(await keys.ec_sign("transit/m/ec/1", b"\x01" * 32)) == 64
    attributes = await keys.key_attributes("transit/m/aes/1")
    assert (attributes["extractable"], attributes["value_readable"]) == (False, False)
    await keys.destroy("transit/m/aes/1")
    await keys.forget_found_keys()
    with pytest.raises(KeyNotFound, match="transit/m/aes/1"):
        await keys.aes_gcm_encrypt("transit/m/aes/1", b"plaintext", AAD)


async def test_concurrent_calls_each_get_their_own_answer(keys: TokenKeysProcess) -> None:
    await keys.generate_aes_key("k")
    plaintexts = [f"message {i}".encode() for i in range(64)]
    blobs = await asyncio.gather(*(keys.aes_gcm_encrypt("k", p, AAD) for p in plaintexts))
    assert await asyncio.gather(*(keys.aes_gcm_decrypt("k", b, AAD) for b in blobs)) == plaintexts


async def test_calls_are_counted_for_the_metrics(keys: TokenKeysProcess) -> None:
    before = CALL_STATS.snapshot().get("generate_aes_key")
    await keys.generate_aes_key("counted")
    after = CALL_STATS.snapshot()["generate_aes_key"]
    assert after.calls == (before.calls if before else 0) + 1


async def test_a_wrong_pin_comes_back_as_such_and_a_later_call_tries_again(
    softhsm_token: SoftHsmToken, seal_hsm: Hsm
) -> None:
    keys = TokenKeysProcess(softhsm_token.pkcs11_settings(pin="not-the-pin"))
    try:
        with pytest.raises(PinIncorrect):
            await keys.generate_aes_key("k")
        pid = keys.pid
        with pytest.raises(PinIncorrect):
            await keys.generate_aes_key("k")
        assert keys.pid == pid  # the same process tried again
    finally:
        await keys.close()


async def test_a_missing_token_is_named(softhsm_token: SoftHsmToken) -> None:
    keys = TokenKeysProcess(softhsm_token.pkcs11_settings(token_label="no-such-token"))
    try:
        with pytest.raises(TokenNotFound, match="no-such-token"):
            await keys.aes_gcm_encrypt("k", b"x", AAD)
    finally:
        await keys.close()


async def test_a_killed_process_fails_its_call_and_the_next_call_starts_another(
    keys: TokenKeysProcess, caplog: pytest.LogCaptureFixture
) -> None:
    await keys.generate_aes_key("k")
    first = keys.pid
    assert first is not None
    os.kill(first, signal.SIGSTOP)  # so that the call is surely in its hands when it dies
    in_flight = asyncio.create_task(keys.aes_gcm_encrypt("k", b"x", AAD))
    await asyncio.sleep(0)  # the task makes its call
    os.kill(first, signal.SIGKILL)
    with pytest.raises(HsmError, match="keys process stopped while this call was in its hands"):
        await in_flight
    with caplog.at_level(logging.WARNING, logger="sealer.hsm"):
        blob = await keys.aes_gcm_encrypt("k", b"x", AAD)
    assert keys.pid not in (None, first)
    assert await keys.aes_gcm_decrypt("k", blob, AAD) == b"x"
    assert "the PKCS#11 keys process stopped (exit code -9); starting another" in caplog.text


async def test_a_process_that_does_not_answer_is_killed_and_replaced(keys: TokenKeysProcess) -> None:
    await keys.generate_aes_key("k")
    stuck = keys.pid
    assert stuck is not None
    os.kill(stuck, signal.SIGSTOP)
    with pytest.raises(HsmTimeout, match="aes_gcm_encrypt did not finish within 2 s"):
        await keys.aes_gcm_encrypt("k", b"x", AAD)
    assert await keys.aes_gcm_decrypt("k", await keys.aes_gcm_encrypt("k", b"x", AAD), AAD) == b"x"
    assert keys.pid not in (None, stuck)
    assert not alive(stuck)


async def test_interrupts_sent_to_the_process_group_leave_it_running(keys: TokenKeysProcess) -> None:
    await keys.generate_aes_key("k")
    pid = keys.pid
    assert pid is not None
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)
    assert await keys.aes_gcm_decrypt("k", await keys.aes_gcm_encrypt("k", b"x", AAD), AAD) == b"x"
    assert keys.pid == pid


async def test_close_ends_the_process(keys: TokenKeysProcess) -> None:
    await keys.generate_aes_key("k")
    pid = keys.pid
    assert pid is not None
    await keys.close()
    assert keys.pid is None
    assert not alive(pid)
