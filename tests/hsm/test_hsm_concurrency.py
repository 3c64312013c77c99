"""Many concurrent callers. SoftHSM crashes the process when two threads race inside it unguarded, so
these tests pass only if every call really is serialised onto the module's one worker thread."""

from __future__ import annotations

import asyncio
import threading

from softhsm import SoftHsmToken, make_token

from hsm import Hsm, open_hsm


async def _mixed_calls(hsm: Hsm, count: int, tag: bytes) -> None:
    blob = await hsm.encrypt(b"reference", tag)
    mac = await hsm.hmac(tag)

    async def one(i: int) -> None:
        match i % 3:
            case 0:
                plaintext = tag + i.to_bytes(4, "big")
                assert await hsm.decrypt(await hsm.encrypt(plaintext, tag), tag) == plaintext
            case 1:
                assert await hsm.decrypt(blob, tag) == b"reference"
            case _:
                assert await hsm.hmac(tag) == mac

    await asyncio.gather(*(one(i) for i in range(count)))


async def test_500_concurrent_calls_on_one_hsm(softhsm_token: SoftHsmToken) -> None:
    async with open_hsm(softhsm_token.pkcs11_settings()) as hsm:
        await _mixed_calls(hsm, 500, b"one")


async def test_two_tokens_at_once(softhsm_token: SoftHsmToken) -> None:
    other = make_token(softhsm_token.directory, softhsm_token.label + "-b", "1111", "2222")
    async with open_hsm(softhsm_token.pkcs11_settings()) as a, open_hsm(other.pkcs11_settings()) as b:
        await asyncio.gather(_mixed_calls(a, 300, b"a"), _mixed_calls(b, 300, b"b"))
        assert await a.hmac(b"x") != await b.hmac(b"x")


def test_hsms_driven_from_several_threads_and_event_loops(softhsm_token: SoftHsmToken) -> None:
    # Each thread runs its own event loop and its own Hsm on the same token (one shared login).
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        async def run() -> None:
            async with open_hsm(softhsm_token.pkcs11_settings()) as hsm:
                await _mixed_calls(hsm, 150, b"thread-%d" % index)

        try:
            asyncio.run(run())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not [t for t in threads if t.is_alive()]
    assert errors == []
