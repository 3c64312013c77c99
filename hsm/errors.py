"""The hsm package's error tree, and the one place where python-pkcs11's exceptions are translated.

    HsmError                    anything the token or module did wrong
    ├── ModuleLoadError         the PKCS#11 module cannot be loaded or initialised
    ├── TokenNotFound           no token with the configured label/serial
    ├── PinIncorrect            the token refused the PIN
    ├── PinLocked               the token locked the PIN (too many wrong attempts)
    ├── KeyNotFound             a configured key label is missing (and generate_key is off)
    ├── TokenGone               the token went away while in use and reconnecting failed
    ├── HsmTimeout              one call did not finish within call_timeout
    ├── HsmDecryptFailed        wrong AAD, tampered or truncated blob, or another key
    ├── MechanismUnsupported    the token cannot do AES-GCM or HMAC-SHA256
    └── ConnectionLost          internal: the session died; Hsm reconnects once, then raises TokenGone

python-pkcs11 raises its exceptions without messages, so the message is built here from what was being
done (`Where`). No message ever contains the PIN: `Where` has no field that could hold it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pkcs11 import exceptions as p11


class HsmError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModuleLoadError(HsmError):
    pass


class TokenNotFound(HsmError):
    pass


class PinIncorrect(HsmError):
    pass


class PinLocked(HsmError):
    pass


class KeyNotFound(HsmError):
    pass


class TokenGone(HsmError):
    pass


class HsmTimeout(HsmError):
    pass


class HsmDecryptFailed(HsmError):
    def __init__(self, message: str = "decryption failed: wrong AAD, wrong key or tampered data") -> None:
        super().__init__(message)


class MechanismUnsupported(HsmError):
    pass


class ConnectionLost(HsmError):
    """The session, the key handles or the whole module state became invalid (token removed, module
    re-initialised elsewhere, or a GeneralError that may be either). Recoverable by reconnecting."""


@dataclass(frozen=True)
class Where:
    """What was being done when a PKCS#11 call failed; only names, never secrets."""

    lib: str
    token: str  # "'label'" or "serial 'x'": already formatted for messages
    action: str  # e.g. "encrypt", "log in", "look up key 'k'"
    key: str | None = None

    def with_key(self, key: str, action: str) -> Where:
        return Where(self.lib, self.token, action, key)


# Exceptions that mean "the state we hold is stale"; reconnecting may fix them. GeneralError is here
# because SoftHSM raises it both for a lost token and for a failed GCM tag check.
_LOST: tuple[type[p11.PKCS11Error], ...] = (
    p11.GeneralError,
    p11.ObjectHandleInvalid,
    p11.KeyHandleInvalid,
    p11.SessionHandleInvalid,
    p11.SessionClosed,
    p11.DeviceRemoved,
    p11.DeviceError,
    p11.TokenNotPresent,
    p11.TokenNotRecognised,
    p11.UserNotLoggedIn,
)

_UNSUPPORTED: tuple[type[p11.PKCS11Error], ...] = (
    p11.MechanismInvalid,
    p11.MechanismParamInvalid,
    p11.FunctionNotSupported,
)


def _name(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def translate(exc: p11.PKCS11Error, where: Where) -> HsmError:
    """Map a python-pkcs11 exception (by type) to an HsmError whose message names the cause."""
    if isinstance(exc, p11.PinIncorrect):
        return PinIncorrect(f"wrong PIN for token {where.token}")
    if isinstance(exc, p11.PinLocked):
        return PinLocked(f"the user PIN of token {where.token} is locked")
    if isinstance(exc, p11.PinExpired | p11.UserPinNotInitialized):
        return PinIncorrect(f"the user PIN of token {where.token} cannot be used ({_name(exc)})")
    if isinstance(exc, p11.NoSuchToken):
        return TokenNotFound(f"no token {_token_phrase(where.token)} in module {where.lib}")
    if isinstance(exc, p11.MultipleTokensReturned):
        return TokenNotFound(f"more than one token {_token_phrase(where.token)} in module {where.lib}")
    if isinstance(exc, p11.NoSuchKey):
        return KeyNotFound(
            f"no key labelled '{where.key}' on token {where.token} (set generate_key: true to create it)"
        )
    if isinstance(exc, p11.MultipleObjectsReturned):
        return KeyNotFound(f"more than one key labelled '{where.key}' on token {where.token}")
    if isinstance(exc, _UNSUPPORTED):
        return MechanismUnsupported(f"token {where.token} cannot {where.action} ({_name(exc)})")
    if isinstance(exc, _LOST):
        return ConnectionLost(f"lost token {where.token} during {where.action} ({_name(exc)})")
    return HsmError(f"PKCS#11 {where.action} on token {where.token} failed ({_name(exc)})")


def _token_phrase(token: str) -> str:
    return token if token.startswith("with serial") else f"labelled {token}"


@contextmanager
def pkcs11_errors(where: Where) -> Iterator[None]:
    """The boundary: nothing of python-pkcs11's exception tree leaves a block wrapped in this."""
    try:
        yield
    except p11.PKCS11Error as exc:
        raise translate(exc, where) from exc
