"""A token that goes away and comes back while the daemon keeps its Hsm open."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from softhsm import SoftHsmToken, make_token, token_dir

from hsm import Hsm, HsmError, HsmTimeout, TokenGone, open_hsm


@contextmanager
def token_removed(token: SoftHsmToken, hsm: Hsm) -> Iterator[None]:
    """Move the token's directory out of the store (as if unplugged), and back afterwards."""
    directory = token_dir(token, hsm.describe()["token_serial"])
    parked = token.directory / f"parked-{directory.name}"
    directory.rename(parked)
    try:
        yield
    finally:
        parked.rename(directory)


def reconnects(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "sealer.hsm" and "reconnected" in r.getMessage()
    ]


async def test_calls_fail_clearly_while_the_token_is_gone_and_work_again_after(
    softhsm_token: SoftHsmToken, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sealer.hsm")
    async with open_hsm(softhsm_token.pkcs11_settings()) as hsm:
        blob = await hsm.encrypt(b"root key", b"aad")
        mac = await hsm.hmac(b"data")

        with token_removed(softhsm_token, hsm):
            for call in (hsm.decrypt(blob, b"aad"), hsm.encrypt(b"x", b""), hsm.hmac(b"data")):
                with pytest.raises(TokenGone) as caught:
                    await call
                assert f"lost token '{softhsm_token.label}'" in str(caught.value)
                assert f"no token labelled '{softhsm_token.label}'" in str(caught.value)

        # Same object, no reopen: the next call reconnects and the keys are the same keys.
        assert await hsm.decrypt(blob, b"aad") == b"root key"
        assert await hsm.hmac(b"data") == mac

    assert reconnects(caplog) == [f"reconnected to token '{softhsm_token.label}'"]
    assert softhsm_token.pin not in caplog.text


async def test_a_burst_of_calls_after_the_token_returns_reconnects_once(
    softhsm_token: SoftHsmToken, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sealer.hsm")
    async with open_hsm(softhsm_token.pkcs11_settings()) as hsm:
        blob = await hsm.encrypt(b"root key", b"aad")
        with token_removed(softhsm_token, hsm), pytest.raises(TokenGone):
            await hsm.hmac(b"noticed while gone")
        caplog.clear()
        results = await asyncio.gather(*(hsm.decrypt(blob, b"aad") for _ in range(50)))
    assert results == [b"root key"] * 50
    assert len(reconnects(caplog)) == 1


async def test_another_hsm_never_uses_stale_handles_after_a_reinitialise(softhsm_token: SoftHsmToken) -> None:
    # A re-initialise for token A ends token B's session too, and the module reuses handle numbers:
    # B's old key handle may then name A's key. B must notice and reconnect, never compute with A's key.
    other = make_token(softhsm_token.directory, softhsm_token.label + "-b", "1111", "2222")
    async with open_hsm(softhsm_token.pkcs11_settings()) as a, open_hsm(other.pkcs11_settings()) as b:
        mac_a, mac_b = await a.hmac(b"x"), await b.hmac(b"x")
        with token_removed(softhsm_token, a), pytest.raises(TokenGone):
            await a.hmac(b"x")
        assert await b.hmac(b"x") == mac_b
        assert await a.hmac(b"x") == mac_a  # a re-initialises again to find its token back
        assert await b.hmac(b"x") == mac_b


async def test_a_token_that_comes_back_without_its_keys_is_gone(softhsm_token: SoftHsmToken) -> None:
    async with open_hsm(softhsm_token.pkcs11_settings()) as hsm:
        # Same label, new token (re-initialised elsewhere): reconnect must not generate fresh keys.
        with token_removed(softhsm_token, hsm):
            make_token(softhsm_token.directory, softhsm_token.label, softhsm_token.pin, softhsm_token.so_pin)
            with pytest.raises(TokenGone, match="no key labelled 'sealer-root-wrap'"):
                await hsm.encrypt(b"x", b"")


async def test_a_blocked_call_times_out_and_later_calls_work(softhsm_token: SoftHsmToken) -> None:
    async with open_hsm(softhsm_token.pkcs11_settings(call_timeout=0.5)) as hsm:
        release = threading.Event()
        # Occupy the module's worker thread as a hung token call would (private: there is no public way).
        hsm._module.submit(lambda: release.wait(30))
        try:
            with pytest.raises(HsmTimeout, match=r"did not finish within 0\.5 s"):
                await hsm.hmac(b"x")
        finally:
            release.set()
        assert len(await hsm.hmac(b"x")) == 32


async def test_a_closed_hsm_is_not_reconnected(softhsm_token: SoftHsmToken) -> None:
    hsm = await Hsm.open(softhsm_token.pkcs11_settings())
    await hsm.close()
    with pytest.raises(HsmError, match="closed"):
        await hsm.hmac(b"x")
