"""sys/wrapping: wrap arbitrary data, and unwrap, look up and rewrap response-wrapping tokens
(Vault's handleWrapping*). The wrapping itself is the core's (engine/wrapping.py); the core has also
checked, before these handlers run, that the token they are given is a live wrapping token.

The wrapping token is either the caller's own (first party: the core counts its single use and
revokes it once the request is over) or given in the body's "token" by another caller (third party:
the handler takes the use and revokes it)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from engine.backends.cubbyhole import Cubbyholes, cubbyholes
from engine.backends.system_context import SystemContext
from engine.errors import BadRequest, PermissionDenied
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, RawResponse, Request, Response, WrapRequest
from engine.storage.base import Storage
from engine.tokens import TokenEntry
from engine.wrapping import INVALID_WRAPPING_TOKEN, RESPONSE_KEY, WRAPINFO_KEY, is_wrapping_token, read_wrapped

_TOKEN = {"token": Field(FieldType.STRING, description="The wrapping token, when it is not the caller's own.")}

Release = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


class WrappingSection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context
        self.tokens = context.tokens

    def paths(self) -> list[Path]:
        return [
            Path(
                "wrapping/wrap",
                operations={Op.UPDATE: self.wrap},
                takes_arbitrary_input=True,
                synopsis="Response-wraps an arbitrary JSON object.",
                description="Round trips the given input data into a response-wrapped token.",
            ),
            Path(
                "wrapping/unwrap",
                fields=_TOKEN,
                operations={Op.UPDATE: self.unwrap},
                synopsis="Unwraps a response-wrapped token.",
                description="Returns the original response inside the given wrapping token, once.",
            ),
            Path(
                "wrapping/lookup",
                fields=_TOKEN,
                operations={Op.UPDATE: self.lookup, Op.READ: self.lookup},
                synopsis="Looks up the properties of a response-wrapped token.",
                description="Returns the creation TTL, creation time and creation path of a wrapping token "
                "without using it.",
            ),
            Path(
                "wrapping/rewrap",
                fields=_TOKEN,
                operations={Op.UPDATE: self.rewrap},
                synopsis="Rotates a response-wrapped token.",
                description="Moves the response into a new wrapping token with the original's creation TTL; "
                "the old token is no longer valid.",
            ),
        ]

    def _cubbyholes(self) -> Cubbyholes:
        return cubbyholes(self.context.mounts.router)

    async def _take(self, req: Request, data: FieldData) -> tuple[TokenEntry, Release]:
        """The wrapping token to act on, its use taken, and what to do once done with it."""
        token = data.get("token")
        if not token:
            entry = req.token_entry
            if entry is None or not is_wrapping_token(entry):
                raise BadRequest(INVALID_WRAPPING_TOKEN)
            return entry, _nothing
        entry = await self.tokens.lookup(token)
        if entry is None or not is_wrapping_token(entry):
            raise BadRequest(INVALID_WRAPPING_TOKEN)
        try:
            # Another request may have taken the one use meanwhile: then this one finds nothing.
            live = await self.tokens.use(entry)
        except PermissionDenied:
            raise BadRequest(INVALID_WRAPPING_TOKEN) from None

        async def revoke() -> None:
            await self.tokens.revoke_orphan(live)

        return live, revoke

    async def wrap(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        if req.wrap_ttl <= 0:
            raise BadRequest("endpoint requires response wrapping to be used")
        return Response(data=dict(req.data))

    async def unwrap(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        entry, release = await self._take(req, data)
        try:
            stored = await read_wrapped(self._cubbyholes(), entry, RESPONSE_KEY)
        finally:
            await release()
        return RawResponse(body=json.loads(stored["response"]))

    async def lookup(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        # Looking up does not use the token (the path needs no token at all, as in Vault).
        token = data.get("token")
        entry = await self.tokens.lookup(token) if token else req.token_entry
        if entry is None or not is_wrapping_token(entry):
            raise BadRequest(INVALID_WRAPPING_TOKEN)
        info = await read_wrapped(self._cubbyholes(), entry, WRAPINFO_KEY)
        return Response(
            data={
                "creation_ttl": info["creation_ttl"],
                "creation_time": info["creation_time"],
                "creation_path": info["creation_path"],
            }
        )

    async def rewrap(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        entry, release = await self._take(req, data)
        try:
            holes = self._cubbyholes()
            info = await read_wrapped(holes, entry, WRAPINFO_KEY)
            stored = await read_wrapped(holes, entry, RESPONSE_KEY)
        finally:
            await release()
        # The core wraps this answer again: same content, same creation TTL and path, a new token.
        again = WrapRequest(
            ttl=int(info["creation_ttl"]), creation_path=str(info["creation_path"]), stored_response=stored["response"]
        )
        return Response(wrap=again)
