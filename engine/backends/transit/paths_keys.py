"""keys/ (list, create, read, delete), keys/:name/config, rotate and trim."""

from __future__ import annotations

from dataclasses import replace

from engine.backends.transit import keytypes
from engine.backends.transit.batch import decode_b64
from engine.backends.transit.errors import ERR_IN_TOKEN, TransitError
from engine.backends.transit.key_info import key_info
from engine.backends.transit.policy import Policy
from engine.backends.transit.store import KeyStore, NewKey
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

NAME = r"(?P<name>\w(?:[\w\-.@]*\w)?)"
HOUR = 3600


def _check_rotate_period(seconds: int) -> None:
    if seconds != 0 and seconds < HOUR:
        raise TransitError("auto rotate period must be 0 to disable or at least an hour")


class KeyPaths:
    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def paths(self) -> list[Path]:
        return [
            Path(r"keys/?", operations={Op.LIST: self.list}, synopsis="Managed named encryption keys"),
            Path(
                rf"keys/{NAME}",
                operations={Op.UPDATE: self.create, Op.READ: self.read, Op.DELETE: self.delete},
                fields={
                    "type": Field(FieldType.STRING, default="aes256-gcm96"),
                    "derived": Field(FieldType.BOOL),
                    "convergent_encryption": Field(FieldType.BOOL),
                    "exportable": Field(FieldType.BOOL),
                    "allow_plaintext_backup": Field(FieldType.BOOL),
                    "context": Field(FieldType.STRING),
                    "auto_rotate_period": Field(FieldType.DURATION),
                    "key_size": Field(FieldType.INT),
                },
                synopsis="Managed named encryption keys",
                description="Doing a write with no value against a new named key will create it using a "
                "randomly generated key.",
            ),
            Path(
                rf"keys/{NAME}/config",
                operations={Op.UPDATE: self.configure},
                fields={
                    "min_decryption_version": Field(FieldType.INT),
                    "min_encryption_version": Field(FieldType.INT),
                    "deletion_allowed": Field(FieldType.BOOL),
                    "exportable": Field(FieldType.BOOL),
                    "allow_plaintext_backup": Field(FieldType.BOOL),
                    "auto_rotate_period": Field(FieldType.DURATION),
                },
                synopsis="Configure a named encryption key",
            ),
            Path(rf"keys/{NAME}/rotate", operations={Op.UPDATE: self.rotate}, synopsis="Rotate named encryption key"),
            Path(
                rf"keys/{NAME}/trim",
                operations={Op.UPDATE: self.trim},
                fields={"min_available_version": Field(FieldType.INT)},
                synopsis="Trim key versions of a named key",
            ),
        ]

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        names = await self.store.names(storage)
        return Response(data={"keys": names} if names else {})

    async def create(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = data.get("name")
        auto_rotate = data.get("auto_rotate_period")
        _check_rotate_period(auto_rotate)
        if not data.get("derived") and data.get("convergent_encryption"):
            raise TransitError("convergent encryption requires derivation to be enabled")
        key_type = keytypes.BY_NAME.get(data.get("type"))
        if key_type is None:
            raise TransitError(f"unknown key type {data.get('type')}")
        key_size = data.get("key_size")
        if key_size != 0:
            if key_type is not keytypes.HMAC:
                raise TransitError(f"key_size is not valid for algorithm {key_type}")
            if not keytypes.HMAC_MIN_KEY_BYTES <= key_size <= keytypes.HMAC_MAX_KEY_BYTES:
                raise TransitError(f"invalid key_size {key_size}")
        elif key_type is keytypes.HMAC:
            key_size = keytypes.HMAC_DEFAULT_KEY_BYTES
        request = NewKey(
            name=name,
            type=key_type,
            derived=data.get("derived"),
            convergent=data.get("convergent_encryption"),
            exportable=data.get("exportable"),
            allow_plaintext_backup=data.get("allow_plaintext_backup"),
            auto_rotate_period=auto_rotate,
            key_size=key_size,
        )
        async with self.store.lock(name):
            policy, created = await self.store.create(storage, request)
        response = Response(data=key_info(self.store.keyring(policy)))
        if not created:
            response.warnings.append(f"key {name} already existed")
        return response

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        policy = await self.store.get(storage, data.get("name"))
        if policy is None:
            return None
        context = data.get("context")
        try:
            decoded = decode_b64(context) if context else b""
        except TransitError:
            raise TransitError("failed to base64-decode context") from None
        return Response(data=key_info(self.store.keyring(policy), decoded))

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = data.get("name")
        async with self.store.lock(name):
            await self.store.delete(storage, name)
        return None

    async def rotate(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = data.get("name")
        async with self.store.lock(name):
            policy = await self.store.load(storage, name)
            if policy is None:
                raise TransitError("key not found")
            policy = await self.store.rotate(storage, policy)
        return Response(data=key_info(self.store.keyring(policy)))

    async def configure(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = data.get("name")
        async with self.store.lock(name):
            policy = await self.store.load(storage, name)
            if policy is None:
                raise TransitError(f"no existing key named {name} could be found")
            updated, warning = _configured(policy, data)
            if updated != policy:
                if updated.min_available_version > updated.min_encryption_version:
                    raise TransitError("min encryption version should not be less than min available version")
                if updated.min_available_version > updated.min_decryption_version:
                    raise TransitError("min decryption version should not be less then min available version")
                policy = await self.store.put(storage, updated)
        response = Response(data=key_info(self.store.keyring(policy)))
        if warning:
            response.warnings.append(warning)
        return response

    async def trim(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = data.get("name")
        async with self.store.lock(name):
            policy = await self.store.load(storage, name)
            if policy is None:
                raise TransitError("invalid key name")
            wanted, given = data.get_ok("min_available_version")
            if not given:
                raise TransitError("missing min_available_version")
            _check_trim(policy, wanted)
            kept = {v: e for v, e in policy.keys.items() if v >= wanted}
            trimmed = await self.store.put(storage, replace(policy, keys=kept, min_available_version=wanted))
            gone = {v: e for v, e in policy.keys.items() if v < wanted}
            await self.store.destroy_in_token(policy, gone)
        return Response(data=key_info(self.store.keyring(trimmed)))


def _check_trim(policy: Policy, wanted: int) -> None:
    """Vault's checks, in Vault's order (and with its spelling)."""
    if wanted < policy.min_available_version:
        raise TransitError("minimum available version cannot be decremented")
    if policy.min_encryption_version == 0:
        raise TransitError("minimum available version cannot be set when minimum encryption version is not set")
    if policy.min_decryption_version == 0:
        raise TransitError("minimum available version cannot be set when minimum decryption version is not set")
    if wanted > policy.min_encryption_version:
        raise TransitError("minimum available version cannot be greater than minmum encryption version")
    if wanted > policy.min_decryption_version:
        raise TransitError("minimum available version cannot be greater than minimum decryption version")
    if wanted < 0:
        raise TransitError("minimum available version cannot be negative")
    if wanted == 0:
        raise TransitError("minimum available version should be positive")


def _configured(policy: Policy, data: FieldData) -> tuple[Policy, str]:
    """The policy as keys/:name/config changes it (Vault's pathKeysConfigWrite), and its warning."""
    warning = ""
    updated = policy
    min_dec, given = data.get_ok("min_decryption_version")
    if given:
        if min_dec < 0:
            raise TransitError("min decryption version cannot be negative")
        if min_dec == 0:
            min_dec = 1
            warning = "since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1"
        if min_dec != updated.min_decryption_version:
            if min_dec > updated.latest_version:
                raise TransitError(
                    f"cannot set min decryption version of {min_dec}, latest key version is {updated.latest_version}"
                )
            updated = replace(updated, min_decryption_version=min_dec)
    min_enc, given = data.get_ok("min_encryption_version")
    if given:
        if min_enc < 0:
            raise TransitError("min encryption version cannot be negative")
        if min_enc != updated.min_encryption_version:
            if min_enc > updated.latest_version:
                raise TransitError(
                    f"cannot set min encryption version of {min_enc}, latest key version is {updated.latest_version}"
                )
            updated = replace(updated, min_encryption_version=min_enc)
    if 0 < updated.min_encryption_version < updated.min_decryption_version:
        raise TransitError(
            "cannot set min encryption/decryption values; min encryption version of "
            f"{updated.min_encryption_version} must be greater than or equal to min decryption version of "
            f"{updated.min_decryption_version}"
        )
    allow_deletion, given = data.get_ok("deletion_allowed")
    if given:
        updated = replace(updated, deletion_allowed=allow_deletion)
    if updated.min_decryption_version == 0:
        updated = replace(updated, min_decryption_version=1)
    # exportable and allow_plaintext_backup can be turned on, never off.
    for flag in ("exportable", "allow_plaintext_backup"):
        value, given = data.get_ok(flag)
        if given and value and not getattr(updated, flag):
            if policy.type.in_token:
                raise TransitError(ERR_IN_TOKEN)
            updated = replace(updated, **{flag: True})
    period, given = data.get_ok("auto_rotate_period")
    if given:
        _check_rotate_period(period)
        updated = replace(updated, auto_rotate_period=period)
    return updated, warning

