"""encrypt/, decrypt/, rewrap/ and datakey/: the encryption-as-a-service endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from engine.backends.transit import b64, keytypes
from engine.backends.transit.batch import Outcome, decode_b64, typed_items
from engine.backends.transit.errors import TransitError
from engine.backends.transit.keyring import Keyring
from engine.backends.transit.keytypes import Family
from engine.backends.transit.paths_keys import NAME
from engine.backends.transit.policy import Policy
from engine.backends.transit.store import KeyStore, NewKey
from engine.crypto import random_bytes
from engine.errors import EngineError
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

ERR_NONCE_NOT_ALLOWED = "provided nonce not allowed for this key"
_DATAKEY_BITS = {128: 16, 256: 32, 512: 64}

_ITEM_FIELDS = {
    "context": Field(FieldType.STRING),
    "nonce": Field(FieldType.STRING),
    "key_version": Field(FieldType.INT),
    "associated_data": Field(FieldType.STRING),
    "partial_failure_response_code": Field(FieldType.INT),
}


def partial_code(data: FieldData, batch: bool) -> int | None:
    """partial_failure_response_code, when given for a batch."""
    code, given = data.get_ok("partial_failure_response_code")
    return code if batch and given else None


def nonce_allowed(policy: Policy) -> bool:
    """Only version 1 convergent keys take the caller's nonce (Vault's nonceAllowed)."""
    return (
        policy.type.family is Family.AEAD
        and not policy.type.in_token
        and policy.convergent_encryption
        and policy.convergent_version == 1
    )


@dataclass
class _Item:
    """One unit of work of a (possibly single-item) batch: its input and, once done, its result."""

    fields: dict[str, Any]
    context: bytes = b""
    nonce: bytes = b""
    result: dict[str, Any] | None = None
    error: str = ""


def _check_context(items: list[_Item]) -> None:
    context_set = bool(items[0].fields["context"])
    if any(bool(item.fields["context"]) != context_set for item in items):
        raise TransitError("context should be set either in all the request blocks or in none")


def _decode_inputs(items: list[_Item], outcome: Outcome) -> None:
    for item in items:
        try:
            if item.fields["context"]:
                item.context = decode_b64(item.fields["context"])
            if item.fields["nonce"]:
                item.nonce = decode_b64(item.fields["nonce"])
        except TransitError as exc:
            item.error = outcome.failed(exc)


async def _each(items: list[_Item], outcome: Outcome, work: Callable[[int, _Item], Awaitable[dict[str, Any]]]) -> None:
    """Runs work on every item that has not failed yet; an engine error fails only that item."""
    for index, item in enumerate(items):
        if item.error:
            continue
        try:
            result = await work(index, item)
        except EngineError as exc:
            item.error = outcome.failed(exc)
            continue
        outcome.succeeded()
        item.result = result


def _item_aad(policy: Policy, index: int, item: _Item) -> bytes:
    """The item's associated data, once its nonce is known to be allowed for the key."""
    if item.fields["nonce"] and not nonce_allowed(policy):
        raise TransitError(ERR_NONCE_NOT_ALLOWED)
    return _associated_data(policy, index, item.fields["associated_data"])


def _associated_data(policy: Policy, index: int, encoded: str) -> bytes:
    if not encoded:
        return b""
    if not policy.type.associated_data_supported:
        raise TransitError(f"'[{index}].associated_data' provided for non-AEAD cipher suite {policy.type}")
    try:
        return decode_b64(encoded)
    except TransitError as exc:
        raise TransitError(f"unable to get associated_data/additional_data from factory[0]: {exc.message}") from None


async def _encrypt(keyring: Keyring, item: _Item, plaintext: bytes, aad: bytes) -> dict[str, Any]:
    version = item.fields["key_version"]
    ciphertext = await keyring.encrypt(version, item.context, item.nonce, plaintext, aad)
    return {"ciphertext": ciphertext, "key_version": version or keyring.policy.latest_version}


async def _decrypt(keyring: Keyring, item: _Item, aad: bytes) -> bytes:
    return await keyring.decrypt(item.context, item.nonce, item.fields["ciphertext"], aad)


class CryptPaths:
    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def paths(self) -> list[Path]:
        # batch_input is read raw (a list of objects): the framework has no field type for it, so these
        # paths take arbitrary input.
        return [
            Path(
                rf"encrypt/{NAME}",
                operations={Op.CREATE: self.encrypt, Op.UPDATE: self.encrypt},
                existence_check=self.key_exists,
                fields={
                    **_ITEM_FIELDS,
                    "plaintext": Field(FieldType.STRING),
                    "type": Field(FieldType.STRING, default="aes256-gcm96"),
                    "convergent_encryption": Field(FieldType.BOOL),
                },
                takes_arbitrary_input=True,
                synopsis="Encrypt a plaintext value or a batch of plaintext blocks using a named key",
            ),
            Path(
                rf"decrypt/{NAME}",
                operations={Op.UPDATE: self.decrypt},
                fields={**_ITEM_FIELDS, "ciphertext": Field(FieldType.STRING)},
                takes_arbitrary_input=True,
                synopsis="Decrypt a ciphertext value using a named key",
            ),
            Path(
                rf"rewrap/{NAME}",
                operations={Op.UPDATE: self.rewrap},
                fields={**_ITEM_FIELDS, "ciphertext": Field(FieldType.STRING)},
                takes_arbitrary_input=True,
                synopsis="Rewrap ciphertext",
            ),
            Path(
                rf"datakey/(?P<plaintext>\w(?:[\w\-.@]*\w)?)/{NAME}",
                operations={Op.UPDATE: self.datakey},
                fields={
                    "context": Field(FieldType.STRING),
                    "nonce": Field(FieldType.STRING),
                    "bits": Field(FieldType.INT, default=256),
                    "key_version": Field(FieldType.INT),
                },
                synopsis="Generate a data key",
            ),
        ]

    async def key_exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return await self.store.load(storage, data.get("name")) is not None

    def _items(self, data: FieldData, text_field: str, missing: str) -> tuple[list[_Item], bool]:
        raw = data.raw.get("batch_input")
        if raw is not None:
            strings = (text_field, "context", "nonce", "associated_data", "reference")
            no_null = (text_field,) if text_field == "plaintext" else ()
            decoded = typed_items(raw, strings=strings, required={text_field: missing}, no_null=no_null)
            return [_Item(fields) for fields in decoded], True
        value, given = data.get_ok(text_field)
        if not given or (text_field == "ciphertext" and not value):
            raise TransitError(missing)
        fields = {
            text_field: value,
            "context": data.get("context"),
            "nonce": data.get("nonce"),
            "key_version": data.get("key_version"),
            "associated_data": data.get("associated_data"),
            "reference": "",
        }
        return [_Item(fields)], False

    async def _policy(self, storage: Storage, name: str) -> Policy:
        policy = await self.store.get(storage, name)
        if policy is None:
            raise TransitError("encryption key not found")
        return policy

    # -- encrypt --------------------------------------------------------------------------------

    async def encrypt(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = data.get("name")
        items, batch = self._items(data, "plaintext", "missing plaintext to encrypt")
        outcome = Outcome()
        _check_context(items)
        plaintexts: list[bytes] = []
        for item in items:
            try:
                plaintexts.append(decode_b64(item.fields["plaintext"]))
            except TransitError as exc:
                plaintexts.append(b"")
                item.error = outcome.failed(exc)
        _decode_inputs([item for item in items if not item.error], outcome)

        created = False
        if req.op is Op.CREATE:
            policy, created = await self._upsert(storage, name, data, bool(items[0].fields["context"]))
        else:
            policy = await self._policy(storage, name)
        keyring = self.store.keyring(policy)

        async def encrypt_item(index: int, item: _Item) -> dict[str, Any]:
            return await _encrypt(keyring, item, plaintexts[index], _item_aad(policy, index, item))

        await _each(items, outcome, encrypt_item)

        response = self._respond(items, batch, outcome, _encrypt_result)
        if req.op is Op.CREATE and not created:
            response.warnings.append(
                "Attempted creation of the key during the encrypt operation, but it was created beforehand"
            )
        return outcome.respond(response, partial_code(data, batch))

    async def _upsert(self, storage: Storage, name: str, data: FieldData, derived: bool) -> tuple[Policy, bool]:
        convergent = data.get("convergent_encryption")
        if convergent and not derived:
            raise TransitError("convergent encryption requires derivation to be enabled, so context is required")
        type_name = data.get("type")
        key_type = keytypes.BY_NAME.get(type_name)
        if key_type is not None and key_type.family is Family.ECDSA and not key_type.in_token:
            raise TransitError(f"key type {type_name} not supported for this operation")
        if key_type not in keytypes.UPSERTABLE:
            raise TransitError(f"unknown key type {type_name}")
        async with self.store.lock(name):
            return await self.store.create(storage, NewKey(name, key_type, derived=derived, convergent=convergent))

    def _respond(self, items: list[_Item], batch: bool, outcome: Outcome, shape: Any) -> Response:
        if batch:
            return Response(data={"batch_results": [shape(item) for item in items]})
        item = items[0]
        if item.error:
            raise outcome.single_error(item.error)
        return Response(data=dict(item.result or {}))

    # -- decrypt and rewrap ----------------------------------------------------------------------

    async def _ciphertexts(self, data: FieldData, storage: Storage) -> tuple[list[_Item], bool, Outcome, Keyring]:
        """The checked ciphertext items of a decrypt or rewrap, and the keyring that opens them."""
        items, batch = self._items(data, "ciphertext", "missing ciphertext to decrypt")
        outcome = Outcome()
        _check_context(items)
        for item in items:
            if not item.fields["ciphertext"]:
                item.error = outcome.failed(TransitError("missing ciphertext to decrypt"))
        _decode_inputs([item for item in items if not item.error], outcome)
        policy = await self._policy(storage, data.get("name"))
        return items, batch, outcome, self.store.keyring(policy)

    async def decrypt(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        items, batch, outcome, keyring = await self._ciphertexts(data, storage)

        async def decrypt_item(index: int, item: _Item) -> dict[str, Any]:
            aad = _item_aad(keyring.policy, index, item)
            return {"plaintext": b64.encode(await _decrypt(keyring, item, aad))}

        await _each(items, outcome, decrypt_item)
        response = self._respond(items, batch, outcome, _decrypt_result)
        return outcome.respond(response, partial_code(data, batch))

    async def rewrap(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        items, batch, outcome, keyring = await self._ciphertexts(data, storage)

        async def rewrap_item(index: int, item: _Item) -> dict[str, Any]:
            aad = _item_aad(keyring.policy, index, item)
            return await _encrypt(keyring, item, await _decrypt(keyring, item, aad), aad)

        await _each(items, outcome, rewrap_item)
        response = self._respond(items, batch, outcome, _encrypt_result)
        return outcome.respond(response, partial_code(data, batch))

    # -- datakey --------------------------------------------------------------------------------

    async def datakey(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        kind = data.get("plaintext")
        if kind not in ("plaintext", "wrapped"):
            raise TransitError("Invalid path, must be 'plaintext' or 'wrapped'")
        context = nonce = b""
        if data.get("context"):
            try:
                context = decode_b64(data.get("context"))
            except TransitError:
                raise TransitError("failed to base64-decode context") from None
        if data.get("nonce"):
            try:
                nonce = decode_b64(data.get("nonce"))
            except TransitError:
                raise TransitError("failed to base64-decode nonce") from None
        policy = await self._policy(storage, data.get("name"))
        size = _DATAKEY_BITS.get(data.get("bits"))
        if size is None:
            raise TransitError("invalid bit length")
        new_key = random_bytes(size)
        version = data.get("key_version")
        ciphertext = await self.store.keyring(policy).encrypt(version, context, nonce, new_key)
        if nonce and not nonce_allowed(policy):
            raise TransitError(ERR_NONCE_NOT_ALLOWED)
        result: dict[str, Any] = {"ciphertext": ciphertext, "key_version": version or policy.latest_version}
        if kind == "plaintext":
            result["plaintext"] = b64.encode(new_key)
        return Response(data=result)


def _encrypt_result(item: _Item) -> dict[str, Any]:
    """Vault's EncryptBatchResponseItem: empty fields left out, the reference always there."""
    shown: dict[str, Any] = {}
    if item.result:
        shown.update(item.result)
    shown["reference"] = item.fields.get("reference", "")
    if item.error:
        shown["error"] = item.error
    return shown


def _decrypt_result(item: _Item) -> dict[str, Any]:
    """Vault's DecryptBatchResponseItem: the plaintext always there (empty on error)."""
    shown: dict[str, Any] = {"plaintext": (item.result or {}).get("plaintext", "")}
    if item.error:
        shown["error"] = item.error
    shown["reference"] = item.fields.get("reference", "")
    return shown
