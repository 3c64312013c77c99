"""export/, backup/ and restore/: key material leaving (or coming back to) transit, when the key allows."""

from __future__ import annotations

import re

from engine.backends.transit.errors import ERR_IN_TOKEN, TransitError
from engine.backends.transit.key_info import EXPORT_TYPES, export_key
from engine.backends.transit.paths_keys import NAME
from engine.backends.transit.store import KeyStore
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

_VERSION = re.compile(r"[+-]?\d+")


class ExportPaths:
    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def paths(self) -> list[Path]:
        return [
            Path(
                rf"export/(?P<type>\w(?:[\w\-.@]*\w)?)/{NAME}(?:/(?P<version>.+))?",
                operations={Op.READ: self.export},
                synopsis="Export named encryption or signing key",
            ),
            Path(rf"backup/{NAME}", operations={Op.READ: self.backup}, synopsis="Backup the named key"),
            Path(
                r"restore(?:/(?P<name>.+))?",
                operations={Op.UPDATE: self.restore},
                fields={"backup": Field(FieldType.STRING), "force": Field(FieldType.BOOL)},
                synopsis="Restore the named key",
            ),
        ]

    async def export(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        export_type = data.get("type")
        if export_type not in EXPORT_TYPES:
            raise TransitError(f"invalid export type: {export_type}")
        policy = await self.store.get(storage, data.get("name"))
        if policy is None:
            return None
        if policy.type.in_token and export_type != "public-key":
            raise TransitError(ERR_IN_TOKEN)
        if not policy.exportable and export_type != "public-key":
            raise TransitError("private key material is not exportable")
        if export_type == "encryption-key" and not policy.type.encryption_supported:
            raise TransitError("encryption not supported for the key")
        if export_type == "signing-key" and not policy.type.signing_supported:
            raise TransitError("signing not supported for the key")
        version = data.raw.get("version") or ""
        if not version:
            chosen = {v: e for v, e in policy.keys.items() if v >= policy.min_decryption_version}
        else:
            if version == "latest":
                number = policy.latest_version
            else:
                digits = version.removeprefix("v")
                if not _VERSION.fullmatch(digits):
                    raise TransitError("invalid key version")
                number = int(digits)
            if number < policy.min_decryption_version:
                raise TransitError("version for export is below minimum decryption version")
            if number not in policy.keys:
                raise TransitError("version does not exist or cannot be found")
            chosen = {number: policy.keys[number]}
        keys = {str(v): export_key(policy, entry, export_type) for v, entry in sorted(chosen.items())}
        return Response(data={"name": policy.name, "type": policy.type.name, "keys": keys})

    async def backup(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data={"backup": await self.store.backup(storage, data.get("name"))})

    async def restore(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        backup = data.get("backup")
        if not backup:
            raise TransitError("'backup' must be supplied")
        name = data.get("name")
        if "/" in name:
            raise TransitError("key names cannot be paths")
        await self.store.restore(storage, backup, name, data.get("force"))
        return None
