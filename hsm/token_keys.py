"""The engine's TokenKeys protocol (engine/token_keys.py) as token operations: the transit engine's hsm-*
keys are generated, used and destroyed inside the token.

`operation` says which token operation (token_objects.py) each protocol method is; the daemon runs them in
its PKCS#11 keys process (keys_process.py). `HsmTokenKeys` runs them over an Hsm of the caller's, one
worker-thread call each (what the tests of token_objects.py go through). The Hsm comes from a callable, so
that each call uses whatever Hsm is open at that moment.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from pkcs11 import Session

from hsm import token_objects
from hsm.errors import HsmDecryptFailed, HsmError, Where
from hsm.hsm import Hsm
from hsm.key_handles import KeyHandles

Operation = Callable[[Session, Where, KeyHandles], Any]


def operation(method: str, args: tuple[Any, ...] | list[Any]) -> tuple[Operation, bool]:
    """The token operation behind one TokenKeys method called with `args`, and whether it needs a read-write
    session. Only the protocol's methods exist (forget_found_keys is not a token operation)."""
    label, *rest = args
    if method == "aes_gcm_encrypt":
        plaintext, aad = rest
        return partial(token_objects.aes_gcm_encrypt, label=label, plaintext=plaintext, aad=aad), False
    if method == "aes_gcm_decrypt":
        blob, aad = rest
        return partial(_decrypt_or_none, label=label, blob=blob, aad=aad), False
    if method == "ec_sign":
        (digest,) = rest
        return partial(token_objects.ec_sign, label=label, digest=digest), False
    if method == "ec_public_key":
        return partial(token_objects.ec_public_key, label=label), False
    if method == "key_attributes":
        return partial(token_objects.attributes, label=label), False
    if method == "generate_aes_key":
        return partial(token_objects.generate_aes, label=label), True
    if method == "generate_ec_key":
        (curve,) = rest
        return partial(token_objects.generate_ec, label=label, curve=curve), True
    if method == "destroy":
        return partial(token_objects.destroy, label=label), True
    raise HsmError(f"TokenKeys has no method {method!r}")


def _decrypt_or_none(session: Session, where: Where, handles: KeyHandles, **kwargs: Any) -> bytes | None:
    try:
        return token_objects.aes_gcm_decrypt(session, where, handles, **kwargs)  # type: ignore[no-any-return]
    except HsmDecryptFailed:
        return None  # the protocol's answer for a blob that does not authenticate


class TokenKeysMethods:
    """The TokenKeys protocol's methods, each one operation by name through `_run`, which subclasses
    implement: HsmTokenKeys over an Hsm, TokenKeysProcess (keys_process.py) in the keys process."""

    async def _run(self, method: str, *args: Any) -> Any:
        raise NotImplementedError

    async def generate_aes_key(self, label: str) -> None:
        await self._run("generate_aes_key", label)

    async def aes_gcm_encrypt(self, label: str, plaintext: bytes, aad: bytes) -> bytes:
        result: bytes = await self._run("aes_gcm_encrypt", label, plaintext, aad)
        return result

    async def aes_gcm_decrypt(self, label: str, blob: bytes, aad: bytes) -> bytes | None:
        result: bytes | None = await self._run("aes_gcm_decrypt", label, blob, aad)
        return result

    async def generate_ec_key(self, label: str, curve: str) -> bytes:
        result: bytes = await self._run("generate_ec_key", label, curve)
        return result

    async def ec_sign(self, label: str, digest: bytes) -> bytes:
        result: bytes = await self._run("ec_sign", label, digest)
        return result

    async def ec_public_key(self, label: str) -> bytes:
        result: bytes = await self._run("ec_public_key", label)
        return result

    async def destroy(self, label: str) -> None:
        await self._run("destroy", label)

    async def key_attributes(self, label: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._run("key_attributes", label)
        return result


class HsmTokenKeys(TokenKeysMethods):
    def __init__(self, device: Callable[[], Hsm | None]) -> None:
        self._device = device

    @classmethod
    def over(cls, hsm: Hsm) -> HsmTokenKeys:
        return cls(lambda: hsm)

    def __repr__(self) -> str:
        return f"<HsmTokenKeys {self._device()!r}>"

    async def _run(self, method: str, *args: Any) -> Any:
        hsm = self._device()
        if hsm is None:
            raise HsmError("the PKCS#11 token is not open")
        op, read_write = operation(method, args)
        return await hsm.in_session(op, read_write=read_write)

    async def forget_found_keys(self) -> None:
        hsm = self._device()
        if hsm is not None:
            hsm.forget_key_handles()
