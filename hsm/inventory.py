"""What a PKCS#11 module holds, for operators (`sealer hsm ...`): its slots and tokens, the keys on a token,
creating a key by label, and checking that the configured keys actually work.

Offline tools, one call at a time: every PKCS#11 call still runs on the module's worker thread (module.py),
so these can share a process with an Hsm safely. No PIN or key material appears in any result or message.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Literal, TypeVar

from pkcs11 import Attribute, ObjectClass, Session, SlotFlag, TokenFlag
from pkcs11 import exceptions as p11

from hsm import keys
from hsm.errors import HsmError, Where, pkcs11_errors
from hsm.hsm import Hsm
from hsm.module import Module, wait_unloaded
from hsm.settings import Pkcs11Settings

T = TypeVar("T")
KeyKind = Literal["aes", "hmac"]
_TIMEOUT = 10.0


@dataclass(frozen=True)
class TokenInfo:
    label: str
    serial: str
    manufacturer: str
    model: str
    initialized: bool
    user_pin_initialized: bool
    user_pin_locked: bool


@dataclass(frozen=True)
class SlotInfo:
    slot_id: int
    description: str
    manufacturer: str
    token: TokenInfo | None  # None: no token in the slot


@dataclass(frozen=True)
class KeyInfo:
    label: str
    object_class: str  # SECRET_KEY, PRIVATE_KEY, PUBLIC_KEY, ...
    key_type: str      # AES, GENERIC_SECRET, EC, RSA, ... ("" when the object is not a key)
    length: int | None  # bytes, for secret keys
    sensitive: bool | None
    extractable: bool | None


@dataclass(frozen=True)
class CheckResult:
    key_label: str
    hmac_key_label: str
    token: str  # the token as the settings name it
    ok: bool
    detail: str  # what worked, or what failed


@asynccontextmanager
async def _loaded(lib: str, timeout: float) -> AsyncIterator[Module]:
    module = Module.acquire(lib)
    try:
        await module.call(module.load, timeout=timeout)
        yield module
    finally:
        unloading = module.release()
        if unloading is not None:
            await wait_unloaded(unloading, lib, timeout)


async def list_slots(lib: str, *, timeout: float = _TIMEOUT) -> list[SlotInfo]:
    """Every slot of the module, with the token in it (if any)."""
    async with _loaded(lib, timeout) as module:
        return await module.call(_slots, module, lib, timeout=timeout)


def _slots(module: Module, lib: str) -> list[SlotInfo]:
    where = Where(lib=lib, token="(any)", action="list the slots")
    with pkcs11_errors(where):
        slots = module.lib.get_slots(token_present=False)
    found: list[SlotInfo] = []
    for slot in slots:
        token: TokenInfo | None = None
        with pkcs11_errors(Where(lib, f"in slot {slot.slot_id}", "read the token information")):
            if SlotFlag.TOKEN_PRESENT in slot.flags:
                present = slot.get_token()
                flags = present.flags
                token = TokenInfo(
                    label=present.label,
                    serial=present.serial.decode(errors="replace"),
                    manufacturer=present.manufacturer_id,
                    model=present.model,
                    initialized=TokenFlag.TOKEN_INITIALIZED in flags,
                    user_pin_initialized=TokenFlag.USER_PIN_INITIALIZED in flags,
                    user_pin_locked=TokenFlag.USER_PIN_LOCKED in flags,
                )
        found.append(SlotInfo(slot.slot_id, slot.slot_description.strip(), slot.manufacturer_id.strip(), token))
    return found


async def list_keys(settings: Pkcs11Settings) -> list[KeyInfo]:
    """The objects on the token that carry a label, logged in (so private objects show), by label."""
    found = await _in_session(settings, _keys, read_write=False)
    return sorted(found, key=lambda key: (key.label, key.object_class))


def _keys(session: Session, where: Where) -> list[KeyInfo]:
    with pkcs11_errors(where.with_key("*", "list the token's objects")):
        objects = list(session.get_objects())
    return [info for info in (_describe(obj) for obj in objects) if info is not None]


def _describe(obj: object) -> KeyInfo | None:
    def attribute(name: Attribute) -> object:
        try:
            return obj[name]  # type: ignore[index]
        except (p11.AttributeTypeInvalid, p11.AttributeSensitive):
            return None

    label = attribute(Attribute.LABEL)
    object_class = getattr(obj, "object_class", None)
    if not label or object_class is None:
        return None
    key_type = attribute(Attribute.KEY_TYPE)
    length = attribute(Attribute.VALUE_LEN) if object_class == ObjectClass.SECRET_KEY else None
    sensitive, extractable = attribute(Attribute.SENSITIVE), attribute(Attribute.EXTRACTABLE)
    return KeyInfo(
        label=str(label),
        object_class=object_class.name,
        key_type=getattr(key_type, "name", "") if key_type is not None else "",
        length=int(length) if isinstance(length, int) else None,
        sensitive=None if sensitive is None else bool(sensitive),
        extractable=None if extractable is None else bool(extractable),
    )


async def create_key(settings: Pkcs11Settings, label: str, kind: KeyKind) -> KeyInfo:
    """A new non-extractable, sensitive token key: AES-256 (the seal's wrapping key, transit) or a
    32-byte HMAC key. Refuses a label already on the token: an existing key is never replaced."""
    if not label.strip():
        raise HsmError("a key label must not be empty")

    def create(session: Session, where: Where) -> KeyInfo:
        with pkcs11_errors(where.with_key(label, f"look up label '{label}'")):
            existing = list(session.get_objects({Attribute.LABEL: label}))
        if existing:
            raise HsmError(f"token {where.token} already has an object labelled '{label}'; not replacing it")
        make = keys.aes_key if kind == "aes" else keys.hmac_key
        key = make(session, label, generate=True, where=where)
        described = _describe(key)
        assert described is not None
        return described

    return await _in_session(settings, create, read_write=True)


async def check(settings: Pkcs11Settings) -> CheckResult:
    """Open the token as the daemon does (never generating keys), then round-trip AES-GCM through the
    wrapping key and compute an HMAC: what unsealing needs, without touching any stored data."""
    settings = Pkcs11Settings(lib=settings.lib, pin=settings.pin, token_label=settings.token_label,
                              token_serial=settings.token_serial, key_label=settings.key_label,
                              hmac_key_label=settings.hmac_key_label, generate_key=False,
                              call_timeout=settings.call_timeout)
    result = CheckResult(settings.key_label, settings.hmac_key_label, settings.token_name, ok=False, detail="")
    try:
        hsm = await Hsm.open(settings)
    except HsmError as exc:
        return _with(result, ok=False, detail=exc.message)
    try:
        probe, aad = os.urandom(32), b"sealer hsm check"
        if await hsm.decrypt(await hsm.encrypt(probe, aad), aad) != probe:
            return _with(result, ok=False, detail=f"AES-GCM with key '{settings.key_label}' did not round-trip")
        first, second = await hsm.hmac(b"sealer hsm check"), await hsm.hmac(b"sealer hsm check")
        if len(first) != 32 or first != second:
            return _with(result, ok=False, detail=f"HMAC key '{settings.hmac_key_label}' is not deterministic")
        info = hsm.describe()
        return _with(result, ok=True, detail=f"AES-256-GCM and HMAC-SHA256 work on token '{info['token_label']}' "
                                              f"(serial {info['token_serial']}, {info['token_manufacturer']})")
    except HsmError as exc:
        return _with(result, ok=False, detail=exc.message)
    finally:
        await hsm.close()


def _with(result: CheckResult, *, ok: bool, detail: str) -> CheckResult:
    return CheckResult(result.key_label, result.hmac_key_label, result.token, ok=ok, detail=detail)


async def _in_session(settings: Pkcs11Settings, op: Callable[[Session, Where], T], *, read_write: bool) -> T:
    async with _loaded(settings.lib, settings.call_timeout) as module:
        return await module.call(_logged_in, module, settings, op, read_write, timeout=settings.call_timeout)


def _logged_in(module: Module, settings: Pkcs11Settings, op: Callable[[Session, Where], T], read_write: bool) -> T:
    """op on a logged-in session of the token the settings name, on the worker thread."""
    where = Where(lib=settings.lib, token=settings.token_name, action="find the token")
    serial = settings.token_serial.encode() if settings.token_serial is not None else None
    with pkcs11_errors(where):
        token = module.lib.get_token(token_label=settings.token_label, token_serial=serial)
    with pkcs11_errors(Where(settings.lib, settings.token_name, "open a session")):
        session = token.open(rw=read_write)
    logged_in = False
    try:
        with pkcs11_errors(Where(settings.lib, settings.token_name, "log in")):
            module.login(token.serial, session, settings.pin)
        logged_in = True
        return op(session, Where(settings.lib, settings.token_name, "use the token"))
    finally:
        # Opened without the PIN, so closing does not log out other sessions (see cryptoki.py).
        with suppress(p11.PKCS11Error):
            session.close()
        if logged_in:
            module.logged_out(token.serial)
