"""Transit's in-token keys (the TokenKeys protocol) served by a process of its own, on its own session.

Why a process: python-pkcs11 releases the GIL around every PKCS#11 call (an encryption is three), and the
worker thread then has to take it back from the event loop. Each time, the loop waits at its next GIL
release point (a socket send, a random read) for the worker's Python to run to its next call, so an
in-token encryption cost the event loop far more than it cost the token. With the token in its own
process, the loop only sends and receives on a socket: one message per batch of calls (those made while
the last batch ran), one answer per batch. A PKCS#11 module that crashes now takes down that process,
not the daemon.

The seal's own few calls (wrap, unwrap, the health check) stay on the daemon's Hsm; this process logs in to
the same token with the same settings (PKCS#11 allows several processes on one token), and never
generates the seal's keys.

The process starts on the first call and stays until close(). If it stops (killed, crashed), the calls
it had fail with a clear error and the next call starts another. A call not answered within the call
timeout (counted from when it was made, as on the daemon's Hsm) is stuck in the module: it fails with
HsmTimeout and the process is killed, which also lets go of whatever it held in the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hsm import errors
from hsm.errors import HsmError, HsmTimeout
from hsm.process_messages import BATCH, CALL, DONE, ERROR, FORGET, OPEN, READY, RESULT, encode, take_complete
from hsm.settings import Pkcs11Settings
from hsm.stats import CALL_STATS
from hsm.token_keys import TokenKeysMethods

log = logging.getLogger("sealer.hsm")

# For the process to be up (Python and the hsm package loaded); not counted in any call's timeout.
START_TIMEOUT_SECONDS = 60.0

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
# -I: isolated from the environment's Python settings; the package comes from the daemon's own tree.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from hsm.keys_process_main import main; sys.exit(main(sys.argv[1:]))"
)


class TokenKeysProcess(TokenKeysMethods):
    """The TokenKeys protocol, over a PKCS#11 keys process for the token `settings` name."""

    def __init__(self, settings: Pkcs11Settings) -> None:
        # The seal generates its keys when asked to; this process must only ever find them.
        self._settings = dataclasses.replace(settings, generate_key=False)
        self._channel: _Channel | None = None
        self._starting = asyncio.Lock()

    def __repr__(self) -> str:
        return f"<TokenKeysProcess token={self._settings.token_name} pid={self.pid}>"

    @property
    def pid(self) -> int | None:
        """The process's id, while one runs."""
        channel = self._channel
        return channel.pid if channel is not None and not channel.stopped else None

    async def forget_found_keys(self) -> None:
        # A process not running has found nothing yet: no reason to start one.
        channel = self._channel
        if channel is not None and not channel.stopped:
            channel.send((FORGET,))

    async def close(self) -> None:
        """Stop the process (it finishes the calls in hand first); a later call would start another."""
        async with self._starting:
            channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close(self._settings.call_timeout)

    async def _run(self, method: str, *args: Any) -> Any:
        started, failed = time.monotonic(), True
        try:
            channel = await self._running()
            result = await channel.call(method, args)
            failed = False
            return result
        finally:
            CALL_STATS.record(method, time.monotonic() - started, failed=failed)

    async def _running(self) -> _Channel:
        channel = self._channel
        if channel is not None and not channel.stopped:
            return channel
        async with self._starting:
            stopped = self._channel
            if stopped is not None and not stopped.stopped:
                return stopped
            if stopped is not None:
                exit_code = await stopped.close(self._settings.call_timeout)
                log.warning("the PKCS#11 keys process stopped (exit code %s); starting another", exit_code)
            self._channel = await _Channel.start(self._settings)
            return self._channel


class _Channel(asyncio.Protocol):
    """One keys process and the socket to it."""

    def __init__(self, process: asyncio.subprocess.Process, settings: Pkcs11Settings) -> None:
        self._process = process
        self._settings = settings
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._ids = itertools.count()
        # Sent or not, the calls not answered yet, oldest (so also first due) first: (answer, due, method).
        self._waiting: dict[int, tuple[asyncio.Future[Any], float, str]] = {}
        # One timer for all the calls, at the oldest one's due time (not one per call).
        self._watchdog: asyncio.TimerHandle | None = None
        # The requests not sent yet: they go out when the batch in flight is answered.
        self._unsent: list[tuple[Any, ...]] = []
        self._in_flight = False
        self._stopped: str | None = None
        self._ready: asyncio.Future[None] = self._loop.create_future()

    @classmethod
    async def start(cls, settings: Pkcs11Settings) -> _Channel:
        ours, theirs = socket.socketpair()
        try:
            with theirs:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-I", "-c", _BOOT, _PACKAGE_ROOT, str(theirs.fileno()),
                    pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                )  # fmt: skip
        except BaseException:
            ours.close()
            raise
        channel = cls(process, settings)
        try:
            await asyncio.get_running_loop().create_unix_connection(lambda: channel, sock=ours)
            async with asyncio.timeout(START_TIMEOUT_SECONDS):
                await channel._ready
        except BaseException as exc:
            channel.kill()
            await process.wait()
            if isinstance(exc, TimeoutError):
                raise HsmError(f"the PKCS#11 keys process did not start within {START_TIMEOUT_SECONDS:g} s") from None
            raise
        channel.send((OPEN, dataclasses.asdict(settings)))
        return channel

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def stopped(self) -> bool:
        return self._stopped is not None

    def call(self, method: str, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        if self._stopped is not None:
            raise HsmError(self._stopped)
        call_id = next(self._ids)
        answer: asyncio.Future[Any] = self._loop.create_future()
        due = self._loop.time() + self._settings.call_timeout
        self._waiting[call_id] = (answer, due, method)
        if self._watchdog is None:
            self._watchdog = self._loop.call_at(due, self._time_out)
        self.send((CALL, call_id, method, args))
        return answer

    def _time_out(self) -> None:
        """The calls past their timeout fail, and the process, stuck in one of them, is killed."""
        self._watchdog = None
        now = self._loop.time()
        late = []
        for call_id, (_, due, _) in self._waiting.items():
            if due > now:
                break
            late.append(call_id)
        for call_id in late:
            answer, _, method = self._waiting.pop(call_id)
            if not answer.done():
                answer.set_exception(HsmTimeout(
                    f"PKCS#11 {method} did not finish within {self._settings.call_timeout:g} s (module "
                    f"{self._settings.lib}); the keys process was stopped, and the next call starts another"
                ))  # fmt: skip
        if late:
            self.kill()
        elif self._waiting:
            self._watchdog = self._loop.call_at(next(iter(self._waiting.values()))[1], self._time_out)

    def send(self, request: tuple[Any, ...]) -> None:
        self._unsent.append(request)
        if not self._in_flight:
            self._flush()

    def _flush(self) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.write(encode((BATCH, self._unsent)))
        self._unsent = []
        self._in_flight = True

    def kill(self) -> None:
        """Kill the process; calls from now on go to another (those it had fail when its socket closes)."""
        if self._stopped is None:
            self._stopped = "the PKCS#11 keys process was killed for not answering"
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()

    async def close(self, timeout: float) -> int | None:
        """End its input, wait for it to exit (killed after `timeout` s); its exit code."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write_eof()
        try:
            async with asyncio.timeout(timeout):
                return await self._process.wait()
        except TimeoutError:
            self.kill()
            return await self._process.wait()
        finally:
            if self._transport is not None:
                self._transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for message in take_complete(self._buffer):
            if message[0] == READY:
                self._ready.set_result(None)
            if message[0] != DONE:
                continue
            _, outcomes, records = message
            self._in_flight = False
            if self._unsent:
                self._flush()  # before settling: the process works on the next batch while callers resume
            for level, logger, text in records:
                logging.getLogger(logger).log(level, "PKCS#11 keys process: %s", text)
            for outcome in outcomes:
                if outcome[0] == RESULT:
                    self._settle(outcome[1], outcome[2], None)
                elif outcome[0] == ERROR:
                    self._settle(outcome[1], None, _error(outcome[2], outcome[3]))

    def eof_received(self) -> bool:
        return False  # close our end too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._stopped is None:
            self._stopped = "the PKCS#11 keys process stopped"
        if not self._ready.done():
            self._ready.set_exception(HsmError(f"{self._stopped} as it started (see the daemon's error output)"))
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        waiting, self._waiting = self._waiting, {}
        failure = (
            f"{self._stopped} while this call was in its hands: it may or may not have taken effect in the "
            "token; the next call starts another process"
        )
        for answer, _, _ in waiting.values():
            if not answer.done():
                answer.set_exception(HsmError(failure))

    def _settle(self, call_id: int, result: Any, failure: HsmError | None) -> None:
        waiting = self._waiting.pop(call_id, None)
        if waiting is None or waiting[0].done():
            return  # timed out, or the caller gave up (cancellation)
        answer = waiting[0]
        if failure is None:
            answer.set_result(result)
        else:
            answer.set_exception(failure)


def _error(kind: str, message: str) -> HsmError:
    """The hsm.errors exception the process raised (HsmError for anything else), made with HsmError's own
    __init__: a subclass's may take other arguments (HsmDecryptFailed has a default message)."""
    cls = getattr(errors, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, HsmError)):
        cls = HsmError
    failure = HsmError.__new__(cls)
    HsmError.__init__(failure, message)
    return failure
