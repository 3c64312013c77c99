"""The request pipeline behind the barrier: token check, authorisation, routing, and Vault's rules for
what an empty answer means. HTTP, seals and the daemon's lifecycle stay outside; the daemon calls
setup() after unsealing and teardown() before sealing.
"""

from __future__ import annotations

import asyncio
from collections import ChainMap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from engine.backends.registry import SECRET_ENGINES
from engine.backends.system import BarrierKeys, SystemBackend, SystemContext
from engine.backends.token import TokenBackend
from engine.errors import NotFound, PermissionDenied, Sealed
from engine.mounts import BackendFactory, MountEntry, MountManager
from engine.request import Op, Request, Response
from engine.router import Route
from engine.storage.base import Storage
from engine.tokens import Clock, TokenEntry, TokenStore, utc_now


class SealableStorage(Storage, BarrierKeys, Protocol):
    """The barrier as the core sees it."""

    @property
    def sealed(self) -> bool: ...


class TopLevelDataResponse(Response):
    """Vault answers every sys/ request with its data both under "data" and at the top level (its
    HTTPSysInjector), which clients such as hvac's sys.list_mounted_secrets_engines rely on."""

    def envelope(self, request_id: str, mount_type: str = "") -> dict[str, Any]:
        return {**(self.data or {}), **super().envelope(request_id, mount_type)}


@dataclass(frozen=True)
class _Serving:
    """Everything setup() loads; dropped as a whole by teardown()."""

    tokens: TokenStore
    mounts: MountManager


class Core:
    def __init__(self, barrier: SealableStorage, *, clock: Clock = utc_now) -> None:
        self._barrier = barrier
        self._clock = clock
        self._serving: _Serving | None = None

    async def setup(self) -> None:
        """Load the token store and the mount tables (creating the defaults on first start)."""
        if self._serving is not None:
            return
        tokens = TokenStore(self._barrier, self._clock)
        await tokens.setup()
        barrier = self._barrier
        # The system backend manages the very table it is mounted from: its factory refers to the
        # manager being built here, and only runs once the manager exists (in load()).
        builtins: dict[str, BackendFactory] = {
            "system": lambda entry: SystemBackend(SystemContext(mounts=mounts, keys=barrier, tokens=tokens)),
            "token": lambda entry: TokenBackend(entry, tokens),
        }
        mounts = MountManager(self._barrier, ChainMap(builtins, SECRET_ENGINES))
        await mounts.load()
        self._serving = _Serving(tokens, mounts)

    def background(self) -> list[Callable[[asyncio.Event], Awaitable[None]]]:
        """Long-running jobs the daemon runs while unsealed, each until its event is set."""
        return []

    async def teardown(self) -> None:
        self._serving = None

    def _loaded(self) -> _Serving:
        serving = self._serving
        if serving is None or self._barrier.sealed:
            raise Sealed()
        return serving

    async def create_root_token(self, token_id: str | None = None) -> str:
        """A new root token (at init, or `token_id` as dev mode's chosen root token)."""
        return await self._loaded().tokens.create_root_token(token_id)

    async def is_root_token(self, token: str) -> bool:
        entry = await self._loaded().tokens.lookup(token)
        return entry is not None and entry.is_root

    async def handle(self, req: Request) -> Response:
        serving = self._loaded()
        entry = await serving.tokens.lookup(req.client_token) if req.client_token else None
        if entry is None:
            raise PermissionDenied()

        found = serving.mounts.router.match(req.path)
        if found is None:
            # Authorised first, as in Vault: an unknown path is a 404 only for those allowed to know.
            self._authorize(entry, req)
            raise NotFound(f'no handler for route "{req.path}". route entry not found.')
        route, below = found
        req.mount_point, req.mount_type = route.entry.path, route.entry.type
        # Only the token backend sees the caller's token, as in Vault.
        token = req.client_token if route.entry.type == "token" else None
        routed = replace(req, path=below, client_token=token)
        await _create_or_update(req, routed, route)

        self._authorize(entry, req)
        response = await route.backend.handle(routed, route.storage)
        return _finish(req, response, route.entry)

    def _authorize(self, entry: TokenEntry, req: Request) -> None:
        """The one place the ACL plugs in: `req.op` is final (CREATE vs UPDATE decided) and the
        path is the full request path. For now only root tokens are allowed anything."""
        if not entry.is_root:
            raise PermissionDenied()


async def _create_or_update(req: Request, routed: Request, route: Route) -> None:
    """A write is a CREATE when the backend's existence check says the target is missing, as Vault
    decides it before the ACL check (policies grant create and update separately)."""
    if req.op not in (Op.CREATE, Op.UPDATE):
        return
    try:
        exists = await route.backend.existence(routed, route.storage)
    except NotFound:
        exists = None  # unsupported path: the handler call reports it
    req.op = routed.op = Op.CREATE if exists is False else Op.UPDATE


def _finish(req: Request, response: Response | None, mount: MountEntry) -> Response:
    """Vault's rules for answers without content: a read (or patch) of nothing is 404, a listing
    without keys is 404, anything else empty is 204. 404s here carry no message: {"errors": []}."""
    if response is None:
        if req.op in (Op.READ, Op.PATCH, Op.LIST):
            raise NotFound("")
        response = Response()
    elif req.op is Op.LIST:
        data = response.data or {}
        if not data and not response.warnings:
            raise NotFound("")
        keys = data.get("keys")
        if keys is not None and len(keys) == 0:
            raise NotFound("")
    if mount.type == "system":
        response = TopLevelDataResponse(**vars(response))
    return response
