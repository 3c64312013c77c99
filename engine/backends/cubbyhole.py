"""The cubbyhole (Vault's vault/logical_cubbyhole.go): private storage per token, mounted at
"cubbyhole/" once and for all. Each token's entries live under the salted hash of the token (the
key the token store keeps it under), so no other token, root included, can name them, and
revoking the token clears them (the token store's on_revoked hook, see `destroy_on_revoke`).
Response wrapping keeps a wrapped response in its wrapping token's cubbyhole.

Otherwise it reads, writes, deletes and lists like KV version 1.
"""

from __future__ import annotations

import json
from typing import Any

from engine.backends.kv import encode_secret, list_prefix, passthrough_path
from engine.errors import BadRequest, PermissionDenied
from engine.framework import Backend, FieldData
from engine.mounts import MountEntry
from engine.request import Request, Response
from engine.router import Router
from engine.storage.base import Storage
from engine.storage.view import View, clear
from engine.tokens import SERVICE, TokenEntry, TokenStore

MOUNT_PATH = "cubbyhole/"
MOUNT_TYPE = "cubbyhole"


class Cubbyholes:
    """Every token's cubbyhole over the mount's storage, addressed by the owning token's hash."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def _of(self, owner: str) -> View:
        if not owner or "/" in owner:
            raise ValueError("a cubbyhole belongs to a token hash")
        return View(self._storage, owner + "/")

    async def get(self, owner: str, path: str) -> dict[str, Any] | None:
        raw = await self._of(owner).get(path)
        return None if raw is None else dict(json.loads(raw))

    async def put(self, owner: str, path: str, data: dict[str, Any]) -> None:
        await self._of(owner).put(path, encode_secret(data))

    async def delete(self, owner: str, path: str) -> None:
        await self._of(owner).delete(path)

    async def list(self, owner: str, prefix: str) -> list[str]:
        return await self._of(owner).list(prefix)

    async def destroy(self, owner: str) -> None:
        await clear(self._storage, owner + "/")


def owner_of(entry: TokenEntry | None) -> str:
    """Whose cubbyhole a request reaches: its token's, which must be a service token."""
    if entry is None:
        raise PermissionDenied()
    if entry.type != SERVICE:
        raise BadRequest(f'cubbyhole operations are only supported by "{SERVICE}" type tokens')
    return entry.id_hash


class CubbyholeBackend(Backend):
    def __init__(self) -> None:
        self.paths = [
            passthrough_path(
                read=self.read,
                write=self.write,
                delete=self.delete,
                list_keys=self.list,
                exists=self.exists,
                synopsis="Pass-through secret storage to a token-specific cubbyhole in the storage backend, "
                "allowing you to read/write arbitrary data into secret storage.",
                description="The cubbyhole backend reads and writes arbitrary data into secret storage, "
                "scoping all paths to the token that made the request.",
            )
        ]

    async def exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return await Cubbyholes(storage).get(owner_of(req.token_entry), data.get("path")) is not None

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        owner, path = owner_of(req.token_entry), _required_path(data)
        stored = await Cubbyholes(storage).get(owner, path)
        return None if stored is None else Response(data=stored)

    async def write(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        owner = owner_of(req.token_entry)
        if not req.data:
            raise BadRequest("missing data fields")
        # The body as sent: a "path" key in it is the user's, not the URL's.
        await Cubbyholes(storage).put(owner, _required_path(data), req.data)
        return None

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await Cubbyholes(storage).delete(owner_of(req.token_entry), data.get("path"))
        return None

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        owner = owner_of(req.token_entry)
        keys = await Cubbyholes(storage).list(owner, list_prefix(data))
        return Response(data={"keys": keys} if keys else {})


def _required_path(data: FieldData) -> str:
    path = str(data.get("path"))
    if path == "":
        raise BadRequest("missing path")
    return path


def cubbyhole_factory(mount: MountEntry) -> Backend:
    return CubbyholeBackend()


def required_mounts() -> list[MountEntry]:
    """The mount every server has (one of Vault's required mounts): local, never moved or removed
    (mounts.PROTECTED_PREFIXES), never mounted twice (mounts.SINGLETON_TYPES)."""
    return [MountEntry(MOUNT_PATH, MOUNT_TYPE, "per-token private secret storage", local=True)]


def cubbyholes(router: Router) -> Cubbyholes:
    """The cubbyholes as the core and the wrapping endpoints reach them, around the access checks."""
    route = router.get(MOUNT_PATH)
    if route is None or route.entry.type != MOUNT_TYPE:
        raise RuntimeError("the cubbyhole is not mounted")
    return Cubbyholes(route.storage)


def destroy_on_revoke(tokens: TokenStore, router: Router) -> None:
    """Clear a token's cubbyhole whenever the store revokes the token, after the hook already set
    (the expiration manager's, revoking its leases) has run, as Vault's revocation does."""
    before = tokens.on_revoked

    async def revoked(entry: TokenEntry) -> None:
        await before(entry)
        await cubbyholes(router).destroy(entry.id_hash)

    tokens.on_revoked = revoked
