"""The async face of a PKCS#11 token: AES-GCM and HMAC-SHA256 with keys that never leave it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

from pkcs11 import Session

from hsm.connection import Connection
from hsm.errors import HsmError, Where
from hsm.key_handles import KeyHandles
from hsm.module import Module, wait_unloaded
from hsm.settings import Pkcs11Settings

T = TypeVar("T")


class Hsm:
    """One logged-in session on one token, with the wrap key and the HMAC key looked up.

    Create with `await Hsm.open(settings)` (or `async with open_hsm(settings) as hsm`) and pass it
    explicitly; close it once. Every PKCS#11 call runs on the module's worker thread, bounded by
    settings.call_timeout. A lost session is reconnected on the next call; see connection.py.
    """

    def __init__(self, settings: Pkcs11Settings, module: Module, connection: Connection) -> None:
        """Use Hsm.open()."""
        self._settings = settings
        self._module = module
        self._connection = connection
        self._closed = False

    @classmethod
    async def open(cls, settings: Pkcs11Settings) -> Hsm:
        """Load the module, find the token, log in, find (or generate) both keys."""
        module = Module.acquire(settings.lib)
        connection: Connection | None = None
        try:
            fresh = await module.call(module.load, timeout=settings.call_timeout)
            connection = Connection(module, settings)
            await module.call(connection.open, fresh, timeout=settings.call_timeout)
        except BaseException:
            # Queued behind a connect that may still be running (timeout, cancellation).
            if connection is not None:
                module.submit(connection.close)
            module.release()
            raise
        return cls(settings, module, connection)

    async def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        """AES-256-GCM in the token with a fresh random 12-byte IV: iv || ciphertext || tag(16)."""
        return await self._call(self._connection.encrypt, plaintext, aad)

    async def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """The inverse of encrypt; HsmDecryptFailed on wrong AAD, wrong key or tampering."""
        return await self._call(self._connection.decrypt, blob, aad)

    async def hmac(self, data: bytes) -> bytes:
        """HMAC-SHA256 of data with the token's HMAC key (32 bytes)."""
        return await self._call(self._connection.hmac, data)

    async def in_session(self, op: Callable[[Session, Where, KeyHandles], T], *, read_write: bool = False) -> T:
        """op(session, where, handles) on the module's worker thread, for the hsm package's own token
        operations (see token_keys.py): same timeout and reconnect as every call; read_write for creating
        objects."""
        return await self._call(self._connection.in_session, op, read_write)

    def forget_key_handles(self) -> None:
        """Search the token again for each key on its next use (see key_handles.py)."""
        self._connection.forget_key_handles()

    def describe(self) -> dict[str, str]:
        """Library, manufacturer, token label and serial, key labels: for status output and logs."""
        return dict(self._connection.info)

    async def close(self) -> None:
        """Close the session (and the module, if this was its last user). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        timeout = self._settings.call_timeout
        try:
            await self._module.call(self._connection.close, timeout=timeout)
        finally:
            unloading = self._module.release()
        if unloading is not None:
            await wait_unloaded(unloading, self._module.path, timeout)

    async def __aenter__(self) -> Hsm:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<Hsm token={self._settings.token_name} lib={self._settings.lib}>"

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise HsmError("this Hsm is closed")
        return await self._module.call(fn, *args, timeout=self._settings.call_timeout)


@asynccontextmanager
async def open_hsm(settings: Pkcs11Settings) -> AsyncIterator[Hsm]:
    """`async with open_hsm(settings) as hsm:`, for AsyncExitStack.enter_async_context."""
    hsm = await Hsm.open(settings)
    try:
        yield hsm
    finally:
        await hsm.close()
