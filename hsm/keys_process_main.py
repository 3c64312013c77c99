"""The PKCS#11 keys process: its own session on the seal's token, serving transit's in-token keys
(the TokenKeys protocol, hsm/token_keys.py) to the daemon over a socket (keys_process.py says why).

It opens the token on the first call and keeps it open, reconnecting as any Hsm does; if the token
cannot be opened, that call gets the reason and the next one tries again, so a token that is away costs
each call one attempt, not a new process. Calls run concurrently into the Hsm's call queue, so the
calls that arrive together are made in one batch on its worker thread; the answers that are ready
together go back in one send. Log records go to the daemon, which logs them as its own.

Interrupts and terminate signals sent to the whole process group are ignored: the daemon decides when
this process stops, by closing the socket (also what a daemon killed outright leaves). Then the token's
session is closed and the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from typing import Any

from hsm.errors import HsmError
from hsm.hsm import Hsm
from hsm.process_messages import CALL, ERROR, FORGET, LOG, OPEN, RESULT, encode, take_complete
from hsm.settings import Pkcs11Settings
from hsm.token_keys import HsmTokenKeys

# The TokenKeys methods the daemon may call, and nothing else.
METHODS = frozenset({
    "generate_aes_key", "aes_gcm_encrypt", "aes_gcm_decrypt", "generate_ec_key", "ec_sign", "ec_public_key",
    "destroy", "key_attributes",
})  # fmt: skip


def main(argv: list[str]) -> int:
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    (descriptor,) = argv
    asyncio.run(_serve(socket.socket(fileno=int(descriptor))))
    return 0


async def _serve(channel: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    server = _Server(loop)
    await loop.create_unix_connection(lambda: server, sock=channel)
    logging.getLogger().addHandler(_ToDaemon(server, loop))
    logging.getLogger().setLevel(logging.INFO)
    try:
        await server.finished
    finally:
        await server.close()


class _Server(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._settings: Pkcs11Settings | None = None
        self._hsm: Hsm | None = None
        self._opening = asyncio.Lock()
        self._calls: set[asyncio.Task[None]] = set()
        self._outgoing: list[bytes] = []
        self.finished: asyncio.Future[None] = loop.create_future()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for message in take_complete(self._buffer):
            kind = message[0]
            if kind == CALL:
                task = self._loop.create_task(self._answer(message[1], message[2], message[3]))
                self._calls.add(task)
                task.add_done_callback(self._calls.discard)
            elif kind == FORGET:
                if self._hsm is not None:
                    self._hsm.forget_key_handles()
            elif kind == OPEN:
                self._settings = Pkcs11Settings(**message[1])

    def eof_received(self) -> bool:
        if not self.finished.done():
            self.finished.set_result(None)
        return True  # keep our side open: the calls in hand still answer

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    # calls

    async def _answer(self, call_id: int, method: str, args: tuple[Any, ...]) -> None:
        try:
            if method not in METHODS:
                raise HsmError(f"the PKCS#11 keys process has no method {method!r}")
            keys = HsmTokenKeys.over(await self._device())
            self._send((RESULT, call_id, await getattr(keys, method)(*args)))
        except HsmError as exc:
            self._send((ERROR, call_id, type(exc).__name__, exc.message))
        except Exception as exc:  # a bug here must reach the caller, not leave it waiting
            self._send((ERROR, call_id, "HsmError", f"{type(exc).__name__}: {exc}"))

    async def _device(self) -> Hsm:
        async with self._opening:
            if self._hsm is None:
                if self._settings is None:
                    raise HsmError("the PKCS#11 keys process was not told which token to open")
                self._hsm = await Hsm.open(self._settings)
            return self._hsm

    def _send(self, message: tuple[Any, ...]) -> None:
        """Answers ready in the same turn of the loop go out together."""
        if not self._outgoing:
            self._loop.call_soon(self._flush)
        self._outgoing.append(encode(message))

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(outgoing))

    def log(self, record: logging.LogRecord) -> None:
        self._send((LOG, record.levelno, record.name, record.getMessage()))

    async def close(self) -> None:
        if self._calls:
            await asyncio.wait(self._calls)
        if self._hsm is not None:
            with contextlib.suppress(HsmError):
                await self._hsm.close()
        self._flush()
        if self._transport is not None:
            self._transport.close()


class _ToDaemon(logging.Handler):
    """Log records, from the event loop or the Hsm's worker thread, sent to the daemon to log."""

    def __init__(self, server: _Server, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._server = server
        self._loop = loop

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
            self._loop.call_soon_threadsafe(self._server.log, record)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
