"""KV version 1 (Vault's kv "passthrough" backend): arbitrary JSON objects stored as they were written,
one per path. A "ttl" (or "lease") key is only a hint handed back to readers as the lease duration.
The "kv" mount type is both versions: the mount's "version" option picks this one or kv_v2."""

from __future__ import annotations

import json
from typing import Any

from engine.backends.kv_v2 import KvV2Backend
from engine.errors import BadRequest
from engine.framework import Backend, ExistenceCheck, FieldData, Handler, Path, parse_duration
from engine.mounts import MountEntry
from engine.request import Op, Request, Response
from engine.storage.base import Storage
from engine.tokens.entry import Clock, utc_now


def passthrough_path(
    *,
    read: Handler,
    write: Handler,
    delete: Handler,
    list_keys: Handler,
    exists: ExistenceCheck,
    synopsis: str,
    description: str,
) -> Path:
    """The one path of a passthrough store (KV version 1 and the cubbyhole): any key, any JSON object."""
    return Path(
        r"(?P<path>.*)",
        operations={Op.READ: read, Op.CREATE: write, Op.UPDATE: write, Op.DELETE: delete, Op.LIST: list_keys},
        existence_check=exists,
        takes_arbitrary_input=True,
        synopsis=synopsis,
        description=description,
    )


def encode_secret(body: dict[str, Any]) -> bytes:
    """A written secret as a passthrough store keeps it: the body as sent, compact JSON."""
    return json.dumps(body, separators=(",", ":")).encode()


def list_prefix(data: FieldData) -> str:
    """The folder a passthrough LIST names: its path, as a folder even without the trailing slash."""
    prefix: str = data.get("path")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix


class KvV1Backend(Backend):
    def __init__(self, mount: MountEntry) -> None:
        self.mount = mount
        self.paths = [
            passthrough_path(
                read=self.read,
                write=self.write,
                delete=self.delete,
                list_keys=self.list,
                exists=self.exists,
                synopsis="Pass-through secret storage to the storage backend.",
                description='Reads and writes arbitrary JSON objects; a "ttl" key is returned as the lease '
                "duration on read.",
            )
        ]

    async def exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return await storage.get(data.get("path")) is not None

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        raw = await storage.get(data.get("path"))
        if raw is None:
            return None
        secret = json.loads(raw)
        return Response(data=secret, lease_duration=self._lease_duration(secret), renewable=False)

    def _lease_duration(self, secret: dict[str, object]) -> int:
        hint = secret.get("ttl", secret.get("lease"))
        if hint is not None:
            try:
                return parse_duration(hint)
            except ValueError:
                pass  # Vault falls back to the default when the hint does not parse
        return self.mount.default_lease_ttl()

    async def write(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        key = data.get("path")
        if key == "":
            raise BadRequest("missing path")
        if not req.data:
            raise BadRequest("missing data fields")
        # The body as sent, not the field data: a "path" key in the body is the user's, not the URL's.
        await storage.put(key, encode_secret(req.data))
        return None

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await storage.delete(data.get("path"))
        return None

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        keys = await storage.list(list_prefix(data))
        # Vault's ListResponse leaves "keys" out when empty; the core then answers 404.
        return Response(data={"keys": keys} if keys else {})


def kv_factory(mount: MountEntry, clock: Clock = utc_now) -> Backend:
    """The kv engine of the version the mount's options name: "1" (or none) or "2"."""
    version = (mount.options or {}).get("version") or "1"
    if version == "1":
        return KvV1Backend(mount)
    if version == "2":
        return KvV2Backend(mount, clock)
    raise BadRequest(f"invalid version provided: {version}")
