"""The audit broker (Vault's AuditBroker): the enabled devices, and the one place requests and
responses are logged. A line counts as logged when at least one device wrote it; when none did, the
caller fails the request (fail closed). With no device enabled nothing is formatted at all."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from engine.audit.device import AuditDevice, option_bool
from engine.audit.entry import request_entry, response_entry
from engine.audit.hashing import hash_string
from engine.audit.sinks import SINK_TYPES
from engine.audit.table import AuditEntry, drop_chain, load_chain, load_table, save_table
from engine.errors import BadRequest, EngineError
from engine.request import Request, Response
from engine.storage.base import Storage

log = logging.getLogger("engine.audit")

COMMON_OPTIONS = ("hmac_accessor", "log_raw", "prefix", "format", "elide_list_responses")


class AuditFailed(EngineError):
    """No enabled device could write the entry (500)."""


def sanitize_path(path: str) -> str:
    path = path.strip("/")
    return path + "/" if path else ""


class AuditBroker:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._devices: dict[str, AuditDevice] = {}
        # Table changes one at a time: each writes the whole table.
        self._table_lock = asyncio.Lock()
        # Requests refused because no device could log them (AuditFailed), for the daemon's metrics.
        self.failures = 0

    @property
    def enabled(self) -> bool:
        return bool(self._devices)

    async def load(self) -> None:
        """Open every device in the table and start its chain (a device that cannot write now is
        kept: it is retried on each line, and the requests fail closed meanwhile if it is the only one)."""
        for entry in await load_table(self._storage):
            try:
                sink = SINK_TYPES[entry.type](dict(entry.options))
            except Exception as exc:  # one broken device must not keep the rest from loading
                log.error("audit device %s (%s) could not be set up: %s", entry.path, entry.type, exc)
                continue
            device = AuditDevice(entry, sink, self._storage, await load_chain(self._storage, entry))
            self._devices[entry.path] = device
            try:
                await device.start()
            except Exception as exc:
                log.error("audit device %s could not start its log: %s", entry.path, exc)

    def listing(self) -> dict[str, Any]:
        return {path: device.entry.listing() for path, device in sorted(self._devices.items())}

    async def enable(
        self, path: str, type_: str, *, description: str = "", options: dict[str, str], local: bool = False
    ) -> None:
        path = sanitize_path(path)
        if not path:
            raise BadRequest("missing path")
        factory = SINK_TYPES.get(type_)
        if factory is None:
            raise BadRequest(f'unknown backend type: "{type_}"')
        _check_common_options(options)
        async with self._table_lock:
            if path in self._devices:
                raise BadRequest("path already in use")
            entry = AuditEntry(path=path, type=type_, description=description, options=dict(options), local=local)
            try:
                sink = factory(dict(options))
                device = AuditDevice(entry, sink, self._storage, await load_chain(self._storage, entry))
            except (ValueError, KeyError) as exc:
                raise BadRequest(str(exc)) from None
            try:
                # As Vault's sanity check: a device that cannot write is not enabled.
                await device.start()
            except Exception as exc:
                await _close_quietly(device)
                raise BadRequest(f"sanity check failed; unable to open {path!r}: {_describe(exc)}") from None
            try:
                await save_table(self._storage, [*(d.entry for d in self._devices.values()), entry])
            except BaseException:
                await _close_quietly(device)
                raise
            self._devices[path] = device

    async def disable(self, path: str) -> bool:
        path = sanitize_path(path)
        async with self._table_lock:
            device = self._devices.get(path)
            if device is None:
                return False
            await save_table(self._storage, [d.entry for p, d in self._devices.items() if p != path])
            del self._devices[path]
        await device.close()
        try:
            await drop_chain(self._storage, device.entry)
        except Exception as exc:  # the device is gone either way
            log.warning("audit device %s: could not drop its chain position: %s", path, exc)
        return True

    def hash(self, path: str, value: str) -> str | None:
        device = self._devices.get(sanitize_path(path))
        return None if device is None else hash_string(device.entry.salt, value)

    def device(self, path: str) -> AuditDevice | None:
        return self._devices.get(sanitize_path(path))

    def entry(self, path: str) -> AuditEntry | None:
        device = self._devices.get(sanitize_path(path))
        return None if device is None else device.entry

    async def log_request(self, req: Request, token_entry: Any, error: str = "") -> None:
        if self._devices:
            # The response line's save stores the chain position past this line too, before anything
            # is answered; a request line on its own needs no storage write.
            await self._log("request", lambda d: request_entry(d.hasher, req, token_entry, error), persist=False)

    async def log_response(self, req: Request, token_entry: Any, response: Response | None, error: str = "") -> None:
        if self._devices:
            await self._log("response", lambda d: response_entry(d.hasher, req, token_entry, response, error))

    async def _log(self, kind: str, build: Any, *, persist: bool = True) -> None:
        devices = list(self._devices.values())
        results: list[BaseException | None]
        if len(devices) == 1:
            # The common case, without a task per line (what gather would make).
            entry = build(devices[0])
            try:
                await devices[0].log(entry, persist=persist)
                return
            except Exception as exc:
                results = [exc]
        else:
            lines = (d.log(build(d), persist=persist) for d in devices)
            results = list(await asyncio.gather(*lines, return_exceptions=True))
        failed = 0
        for device, result in zip(devices, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
                log.error("audit device %s failed to log the %s: %s", device.path, kind, _describe(result))
        if devices and failed == len(devices):
            self.failures += 1
            raise AuditFailed(f"failed to log {kind}")

    async def reopen(self) -> None:
        """SIGHUP: every device reopens its sink and starts a new chain segment linked to the old one."""
        for device in list(self._devices.values()):
            try:
                await device.reopen()
                await device.start()
            except Exception as exc:  # retried on the next line
                log.error("audit device %s could not reopen: %s", device.path, _describe(exc))

    async def close(self) -> None:
        devices, self._devices = list(self._devices.values()), {}
        for device in devices:
            await _close_quietly(device)


def _check_common_options(options: dict[str, str]) -> None:
    try:
        option_bool(options, "hmac_accessor", True)
        option_bool(options, "log_raw", False)
        option_bool(options, "elide_list_responses", False)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    fmt = options.get("format", "json") or "json"
    if fmt != "json":
        raise BadRequest(f"unsupported 'format': {fmt!r} (only \"json\")")


async def _close_quietly(device: AuditDevice) -> None:
    try:
        await device.close()
    except Exception as exc:
        log.warning("audit device %s did not close cleanly: %s", device.path, _describe(exc))


def _describe(exc: BaseException) -> str:
    # The exception's type and message only: a device error never carries an entry's content.
    return f"{type(exc).__name__}: {exc}"
