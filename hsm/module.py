"""One loaded PKCS#11 module, shared by every Hsm of the process that uses the same module file.

Cryptoki state is per process: C_Initialize once per module, one login per token, and C_Finalize ends
every session of every user of the module. So the module is a ref-counted process-wide object, and it
owns the single worker thread that makes *every* call into it. One thread per module (not per Hsm)
because a re-initialise (C_Finalize) while another thread is inside the module is a use-after-free in
SoftHSM, OS locking or not.

Methods other than acquire/release/call/submit run on the worker thread only.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pkcs11 import exceptions as p11

from hsm.call_queue import CallQueue
from hsm.cryptoki import LockingLib
from hsm.errors import HsmError, HsmTimeout, ModuleLoadError
from hsm.stats import CALL_STATS

T = TypeVar("T")
log = logging.getLogger("sealer.hsm")


@dataclass
class _Login:
    pin: str = field(repr=False)
    sessions: int = 1


class Module:
    _registry: ClassVar[dict[str, Module]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self._users = 0
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._calls: CallQueue | None = None  # over _executor
        self._unloading: concurrent.futures.Future[None] | None = None
        # Worker-thread state.
        self._lib: LockingLib | None = None
        self._logins: dict[bytes, _Login] = {}
        # Bumped by every C_Initialize: a session opened under an older generation is dead.
        self.generation = 0

    # ---- any thread -------------------------------------------------------------------------------

    @classmethod
    def acquire(cls, path: str) -> Module:
        """The shared module for `path`, with a running worker; pair every call with release()."""
        key = os.path.realpath(path) if os.path.exists(path) else path
        with cls._registry_lock:
            module = cls._registry.setdefault(key, Module(path))
            module._users += 1
            if module._executor is None:
                module._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="pkcs11"
                )
                module._calls = CallQueue(module._executor)
            return module

    def release(self) -> concurrent.futures.Future[None] | None:
        """Drop one user. The last one finalizes the module and stops the worker thread; the returned
        future completes when C_Finalize has run (None if other users remain)."""
        with self._registry_lock:
            self._users -= 1
            if self._users > 0 or self._executor is None:
                return None
            executor, self._executor, self._calls = self._executor, None, None
            self._unloading = executor.submit(self._unload)
            executor.shutdown(wait=False)
            return self._unloading

    async def call(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run fn(*args) on the worker thread; HsmTimeout if it has not finished after `timeout` seconds
        (counting the wait behind earlier calls). A call that times out still runs to its end."""
        calls = self._calls
        if calls is None:
            raise HsmError(f"PKCS#11 module {self.path} is no longer in use by this Hsm")
        future = calls.queue(fn, args)
        name = getattr(fn, "__name__", "call")
        started, failed = time.monotonic(), True
        try:
            async with asyncio.timeout(timeout):
                result = await future
            failed = False
            return result
        except TimeoutError:
            raise HsmTimeout(
                f"PKCS#11 {name} did not finish within {timeout:g} s (module {self.path})"
            ) from None
        finally:
            CALL_STATS.record(name, time.monotonic() - started, failed=failed)

    def submit(self, fn: Callable[[], object]) -> None:
        """Queue fn on the worker without waiting (cleanup after a cancelled open)."""
        if self._executor is not None:
            self._executor.submit(fn)

    # ---- worker thread ----------------------------------------------------------------------------

    @property
    def lib(self) -> LockingLib:
        if self._lib is None or not self._lib.is_initialized:
            raise HsmError(f"PKCS#11 module {self.path} is not initialised")
        return self._lib

    def load(self) -> bool:
        """dlopen and C_Initialize the module unless another user already did; True if this call did."""
        if self._unloading is not None:
            self._unloading.result()  # a previous last user's C_Finalize must come before our C_Initialize
            self._unloading = None
        try:
            if self._lib is None:
                self._lib = LockingLib(self.path)
            elif not self._lib.is_initialized:
                self._lib.initialize()
            else:
                return False
            self.generation += 1
            return True
        except p11.PKCS11Error as exc:
            raise ModuleLoadError(
                f"cannot load PKCS#11 module {self.path}: {_load_cause(exc, self.path)}"
            ) from exc

    def reinitialize(self, reason: str) -> None:
        """C_Finalize + C_Initialize: the only way SoftHSM notices a token that came back or is new.
        Every session of every user ends; users notice the new generation and reconnect."""
        log.warning("re-initialising PKCS#11 module %s (%s)", self.path, reason)
        self._logins.clear()
        self.generation += 1
        lib = self._lib
        if lib is None:
            raise HsmError(f"PKCS#11 module {self.path} was never loaded")
        try:
            lib.reinitialize()
        except p11.PKCS11Error as exc:
            raise HsmError(
                f"cannot re-initialise PKCS#11 module {self.path}: {_load_cause(exc, self.path)}"
            ) from exc

    def login(self, serial: bytes, session: Any, pin: str) -> None:
        """Log the process in to token `serial` through `session`, or join the existing login.

        Login state is per process and token: a second C_Login fails with UserAlreadyLoggedIn. A second
        Hsm on a logged-in token is admitted only with the same PIN, so that it cannot skip the check."""
        current = self._logins.get(serial)
        if current is not None:
            if not hmac.compare_digest(current.pin.encode("utf-8"), pin.encode("utf-8")):
                raise p11.PinIncorrect()
            current.sessions += 1
            return
        self.lib.login(session, pin)
        self._logins[serial] = _Login(pin)

    def logged_out(self, serial: bytes) -> None:
        """One session counted by login() was closed; the token itself logs out with its last session."""
        current = self._logins.get(serial)
        if current is None:
            return
        current.sessions -= 1
        if current.sessions <= 0:
            del self._logins[serial]

    def _unload(self) -> None:
        self._logins.clear()
        self.generation += 1
        if self._lib is not None:
            try:
                self._lib.finalize()
            except p11.PKCS11Error as exc:  # nothing left to do about it; the process goes on
                log.warning("C_Finalize of PKCS#11 module %s failed: %s", self.path, type(exc).__name__)


@atexit.register
def _drop_libs() -> None:
    # python-pkcs11's lib.__dealloc__ fails (AttributeError, printed as "Exception ignored") once the
    # interpreter has started tearing down modules, so let go of every lib while it is still whole.
    # atexit runs after concurrent.futures has joined the worker threads: no call can be in flight.
    with Module._registry_lock:
        for module in Module._registry.values():
            module._unload()
            module._lib = None


async def wait_unloaded(unloading: concurrent.futures.Future[None], path: str, timeout: float) -> None:
    """Wait for the C_Finalize queued by Module.release()."""
    try:
        async with asyncio.timeout(timeout):
            await asyncio.wrap_future(unloading)
    except TimeoutError:
        raise HsmTimeout(f"C_Finalize of PKCS#11 module {path} did not finish within {timeout:g} s") from None


def _load_cause(exc: p11.PKCS11Error, path: str) -> str:
    text = str(exc)
    prefix = f"OS exception while loading {path}: "
    if text.startswith(prefix):
        return text[len(prefix) :]
    if isinstance(exc, p11.GeneralError):
        return "GeneralError from C_Initialize (check the module's configuration, e.g. SOFTHSM2_CONF)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
