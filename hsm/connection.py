"""The token side of one Hsm: session, login, key handles, the operations, and reconnecting.

Everything here is synchronous and runs on the module's worker thread only (see module.py), so it
needs no locks: calls are already serialised, and a reconnect is finished before the next call starts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TypeVar

from pkcs11 import GCMParams, GeneralError, Mechanism, PublicKey, SecretKey, Session, Token
from pkcs11 import exceptions as p11

from hsm import keys, rsa_oaep
from hsm.errors import (
    ConnectionLost,
    HsmDecryptFailed,
    HsmError,
    MechanismUnsupported,
    TokenGone,
    TokenNotFound,
    Where,
    pkcs11_errors,
)
from hsm.key_handles import KeyHandles
from hsm.module import Module
from hsm.settings import Pkcs11Settings

T = TypeVar("T")
log = logging.getLogger("sealer.hsm")

IV_BYTES = 12
TAG_BYTES = 16
_REQUIRED_MECHANISMS = {
    "aes-gcm": (Mechanism.AES_GCM, Mechanism.SHA256_HMAC),
    "rsa-oaep": (Mechanism.RSA_PKCS_OAEP, Mechanism.SHA256_HMAC),
}


@dataclass
class _State:
    """What one successful connect produced; dead as soon as the module's generation moves on."""

    generation: int
    token: Token
    serial: bytes
    session: Session = field(repr=False)
    aes: SecretKey | None = field(repr=False)  # mechanism aes-gcm
    hmac: SecretKey = field(repr=False)
    writable: bool = False  # `session` is read-write (opened to generate the seal's keys)
    # Opened on first need by an operation that creates or destroys token objects (token_objects.py);
    # PIN-less like `session`, so closing it never logs the process out.
    rw_session: Session | None = field(default=None, repr=False)
    rsa_public: PublicKey | None = field(default=None, repr=False)  # mechanism rsa-oaep
    # Keys of token_objects.py found on this connection (its sessions die with it, and so do they).
    handles: KeyHandles = field(default_factory=KeyHandles, repr=False)


class Connection:
    def __init__(self, module: Module, settings: Pkcs11Settings) -> None:
        self._module = module
        self._settings = settings
        self._where = Where(lib=settings.lib, token=settings.token_name, action="connect")
        self._state: _State | None = None
        self._generation = -1  # module generation of the last connect attempt
        self._closed = False
        self.info: dict[str, str] = {}  # replaced (never mutated) on each connect: read from any thread

    # ---- lifecycle --------------------------------------------------------------------------------

    def open(self, freshly_initialised: bool) -> None:
        """First connect: the only one allowed to generate missing keys."""
        try:
            self._state = self._connect(generate=self._settings.generate_key)
        except TokenNotFound:
            if freshly_initialised:
                raise
            # The module was initialised earlier, by another Hsm; SoftHSM lists only the tokens that
            # existed then. Re-initialise (other users reconnect on their next call) and look again.
            self._module.reinitialize(f"token {self._where.token} not found; it may be new")
            self._state = self._connect(generate=self._settings.generate_key)

    def close(self) -> None:
        self._closed = True
        state, self._state = self._state, None
        if state is not None and state.generation == self._module.generation:
            # Our session closes without C_Logout (it was opened PIN-less): other Hsm objects on the
            # same token keep their login; the token logs out with the process's last session.
            with suppress(p11.PKCS11Error):
                if state.rw_session is not None:
                    state.rw_session.close()
                state.session.close()
            self._module.logged_out(state.serial)

    def _connect(self, *, generate: bool) -> _State:
        settings, where = self._settings, self._where
        self._generation = self._module.generation
        lib = self._module.lib
        serial = settings.token_serial.encode() if settings.token_serial is not None else None
        with pkcs11_errors(_at(where, "find the token")):
            token = lib.get_token(token_label=settings.token_label, token_serial=serial)
        with pkcs11_errors(_at(where, "list the token's mechanisms")):
            mechanisms = token.slot.get_mechanisms()
        for mechanism in _REQUIRED_MECHANISMS[settings.mechanism]:
            if mechanism not in mechanisms:
                raise MechanismUnsupported(_unsupported(where.token, settings.mechanism, mechanism, mechanisms))
        with pkcs11_errors(_at(where, "open a session")):
            # Read-write only when we may have to create keys.
            session = token.open(rw=generate)
        logged_in = False
        try:
            with pkcs11_errors(_at(where, "log in")):
                self._module.login(token.serial, session, settings.pin)
            logged_in = True
            aes, rsa_public = None, None
            if settings.mechanism == "rsa-oaep":
                rsa_public = rsa_oaep.key_pair(session, settings.key_label, generate=generate, where=where)
            else:
                aes = keys.aes_key(session, settings.key_label, generate=generate, where=where)
            hmac = keys.hmac_key(session, settings.hmac_key_label, generate=generate, where=where)
        except BaseException:
            with suppress(p11.PKCS11Error):
                session.close()
            if logged_in:
                self._module.logged_out(token.serial)
            raise
        self.info = {
            "library": settings.lib,
            "manufacturer": lib.manufacturer_id,
            "library_description": lib.library_description,
            "token_label": token.label,
            "token_serial": token.serial.decode(errors="replace"),
            "token_manufacturer": token.manufacturer_id,
            "token_model": token.model,
            "key_label": settings.key_label,
            "hmac_key_label": settings.hmac_key_label,
            "mechanism": settings.mechanism,
        }
        return _State(self._module.generation, token, token.serial, session, aes, hmac, writable=generate,
                      rsa_public=rsa_public)

    # ---- operations -------------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        if self._settings.mechanism == "rsa-oaep":
            where = self._where.with_key(self._settings.key_label, "encrypt")
            return self._run(lambda state: rsa_oaep.encrypt(_rsa_public(state), plaintext, aad, where))
        return self._run(lambda state: _encrypt(state, plaintext, aad, self._where))

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        if self._settings.mechanism == "rsa-oaep":
            label = self._settings.key_label
            return self._run(lambda state: rsa_oaep.decrypt(state.token, label, blob, aad, self._where))
        if len(blob) < IV_BYTES + TAG_BYTES:
            raise HsmDecryptFailed("decryption failed: blob shorter than IV + tag")
        return self._run(lambda state: _decrypt(state, blob, aad, self._where))

    def hmac(self, data: bytes) -> bytes:
        def sign(state: _State) -> bytes:
            with pkcs11_errors(_at(self._where, "compute HMAC-SHA256")):
                return bytes(state.hmac.sign(data, mechanism=Mechanism.SHA256_HMAC))

        return self._run(sign)

    def in_session(self, op: Callable[[Session, Where, KeyHandles], T], read_write: bool) -> T:
        """op(session, where, handles) on this connection's session, or on a read-write one (opened once,
        logged in with the rest of the process) for ops that create or destroy token objects; reconnects
        like every call. `where` names the library and token for error messages; `handles` are the keys
        found on this connection."""

        def run(state: _State) -> T:
            if not read_write or state.writable:
                return op(state.session, self._where, state.handles)
            if state.rw_session is None:
                with pkcs11_errors(_at(self._where, "open a read-write session")):
                    state.rw_session = state.token.open(rw=True)
            return op(state.rw_session, self._where, state.handles)

        return self._run(run)

    def forget_key_handles(self) -> None:
        """Any thread: the next use of each token object searches the token for it again."""
        state = self._state
        if state is not None:
            state.handles.forget_all()

    # ---- recovery ---------------------------------------------------------------------------------

    def _run(self, op: Callable[[_State], T]) -> T:
        """op on the current session; if the session is lost, reconnect and retry op once."""
        if self._closed:
            raise HsmError("this Hsm is closed")
        state = self._state
        if state is None:  # an earlier reconnect failed: try again, the token may be back
            return self._retry(op, "not connected since an earlier failure")
        if state.generation != self._module.generation:
            # Another Hsm re-initialised the module. Our handles are dead but not necessarily invalid:
            # the module reuses handle numbers, so they may now name another Hsm's session and keys.
            return self._retry(op, "the module was re-initialised by another user")
        try:
            return op(state)
        except ConnectionLost as lost:
            return self._retry(op, lost.message)

    def _retry(self, op: Callable[[_State], T], cause: str) -> T:
        state = self._reconnect(cause)
        try:
            return op(state)
        except ConnectionLost as lost:
            self._state = None
            raise TokenGone(
                f"token {self._where.token} failed again right after reconnecting: {lost.message}"
            ) from lost

    def _reconnect(self, cause: str) -> _State:
        # Dead sessions are dropped, not closed: their handles may already belong to someone else.
        self._state = None
        module = self._module
        log.warning("%s; reconnecting to token %s in module %s", cause, self._where.token, module.path)
        try:
            if self._generation == module.generation:
                # Nobody re-initialised the module since our last connect: we must.
                module.reinitialize(f"to reconnect to token {self._where.token}")
            # Never generate keys here: a token that lost its keys must not silently get new ones.
            self._state = self._connect(generate=False)
        except HsmError as exc:
            log.warning("reconnecting to token %s failed: %s", self._where.token, exc.message)
            token = self._where.token
            raise TokenGone(
                f"lost token {token} in module {module.path} and could not reconnect: {exc.message}"
            ) from exc
        log.warning("reconnected to token %s", self._where.token)
        return self._state


def _unsupported(token: str, name: str, missing: Mechanism, offered: Collection[Mechanism]) -> str:
    others = [other for other, needs in _REQUIRED_MECHANISMS.items()
              if other != name and all(mechanism in offered for mechanism in needs)]
    hint = f"; it supports mechanism {others[0]}: set `mechanism: {others[0]}`" if others else ""
    return f"token {token} does not support CKM_{missing.name}, which mechanism {name} needs{hint}"


def _rsa_public(state: _State) -> PublicKey:
    assert state.rsa_public is not None  # connected with mechanism rsa-oaep
    return state.rsa_public


def _aes(state: _State) -> SecretKey:
    assert state.aes is not None  # connected with mechanism aes-gcm
    return state.aes


def _at(where: Where, action: str) -> Where:
    return Where(where.lib, where.token, action, where.key)


def _gcm(iv: bytes, aad: bytes) -> dict[str, object]:
    return {"mechanism": Mechanism.AES_GCM, "mechanism_param": GCMParams(iv, aad, TAG_BYTES * 8)}


def _encrypt(state: _State, plaintext: bytes, aad: bytes, where: Where) -> bytes:
    iv = os.urandom(IV_BYTES)
    with pkcs11_errors(_at(where, "encrypt with AES-GCM")):
        return iv + bytes(_aes(state).encrypt(plaintext, **_gcm(iv, aad)))


def _decrypt(state: _State, blob: bytes, aad: bytes, where: Where) -> bytes:
    iv, sealed = blob[:IV_BYTES], blob[IV_BYTES:]
    try:
        return bytes(_aes(state).decrypt(sealed, **_gcm(iv, aad)))
    except GeneralError as exc:
        # SoftHSM reports a failed tag check and a lost token alike. If the key still encrypts, the
        # session is fine and the data is bad: no reconnect, so tampered input cannot churn the module.
        _probe(state, where)
        raise HsmDecryptFailed() from exc
    except p11.PKCS11Error as exc:
        if isinstance(exc, p11.EncryptedDataInvalid | p11.EncryptedDataLenRange | p11.DataLenRange):
            raise HsmDecryptFailed() from exc
        with pkcs11_errors(_at(where, "decrypt with AES-GCM")):
            raise


def _probe(state: _State, where: Where) -> None:
    """Raise ConnectionLost unless the AES key still works on this session."""
    with pkcs11_errors(_at(where, "decrypt with AES-GCM")):
        _aes(state).encrypt(b"", **_gcm(os.urandom(IV_BYTES), b""))
