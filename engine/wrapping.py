"""Response wrapping (Vault's vault/wrapping.go): instead of its content, a wrapped response carries
`wrap_info`, whose token is a single-use key to the content. The content, rendered as the response
body Vault would have sent, is kept in that token's cubbyhole ("response"), with what
sys/wrapping/lookup tells about it ("wrapinfo"); the token expires after the wrap TTL, and its
cubbyhole goes with it.

A request asks for wrapping with X-Vault-Wrap-TTL (Request.wrap_ttl), a backend with
Response.wrap; when both do, the shorter TTL wins.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.backends.cubbyhole import Cubbyholes
from engine.errors import BadRequest, EngineError
from engine.policy.builtin import RESPONSE_WRAPPING_POLICY
from engine.request import Request, Response, WrapInfo
from engine.tokens import Clock, TokenEntry, TokenStore, rfc3339

# Where a request names a wrapping token (its own, or one in the body's "token") that must be checked
# before anything else: an invalid one is a 400, not the 403 of an unknown token.
WRAPPING_TOKEN_PATHS = frozenset({"sys/wrapping/lookup", "sys/wrapping/rewrap", "sys/wrapping/unwrap"})
INVALID_WRAPPING_TOKEN = "wrapping token is not valid or does not exist"
# Vault's warning when a wrapping token reads its cubbyhole directly (which uses it up all the same).
CUBBYHOLE_RESPONSE_DEPRECATED = (
    "Reading from 'cubbyhole/response' is deprecated. Please use sys/wrapping/unwrap to unwrap responses, as it "
    "provides additional security checks and other benefits."
)

# The wrapping token's cubbyhole.
RESPONSE_KEY = "response"
WRAPINFO_KEY = "wrapinfo"


def is_wrapping_token(entry: TokenEntry) -> bool:
    return entry.policies == [RESPONSE_WRAPPING_POLICY]


def wrap_ttl(req: Request, response: Response) -> int:
    """The TTL to wrap `response` with, 0 for none: the shorter of the backend's and the request's."""
    if req.wrap_ttl <= 0 and response.wrap is None:
        return 0  # nobody asked: every request but wrapped ones
    asked = [ttl for ttl in (req.wrap_ttl, response.wrap.ttl if response.wrap else 0) if ttl > 0]
    return min(asked, default=0)


async def check_wrapping_token(tokens: TokenStore, req: Request) -> None:
    """Vault's ValidateWrappingToken, for the WRAPPING_TOKEN_PATHS: the token in the body, or else the
    caller's own, must be a live response-wrapping token."""
    token: Any = req.data.get("token")
    if token is not None:
        if not isinstance(token, str):
            raise BadRequest("error validating wrapping token: could not decode token in request body")
        if token == "":
            raise BadRequest("error validating wrapping token: empty token in request body")
    else:
        token = req.client_token or ""
        if token == "":
            raise BadRequest("error validating wrapping token: token is empty")
    entry = await tokens.lookup(token)
    if entry is None or not is_wrapping_token(entry):
        raise BadRequest(INVALID_WRAPPING_TOKEN)


class ResponseWrapper:
    """Makes wrapping tokens and fills their cubbyholes."""

    def __init__(self, tokens: TokenStore, cubbyholes: Callable[[], Cubbyholes], clock: Clock) -> None:
        self._tokens = tokens
        self._cubbyholes = cubbyholes
        self._clock = clock

    async def wrap(self, req: Request, response: Response, ttl: int) -> Response:
        """Store `response` (the answer to `req`) behind a new wrapping token living `ttl` seconds and
        return the answer that replaces it: wrap_info and the response's warnings."""
        rewrap = response.wrap is not None and response.wrap.stored_response is not None
        if rewrap:
            assert response.wrap is not None and response.wrap.stored_response is not None
            stored, creation_path = response.wrap.stored_response, response.wrap.creation_path
        else:
            # The body the client would have got, under the original request's id (Vault stores the
            # same, so unwrapping shows it as it was).
            stored = json.dumps(response.envelope(req.id, req.mount_type), separators=(",", ":"))
            creation_path = req.path
        now = self._clock()
        # Single use, an orphan, no renewal, gone after `ttl` whatever happens (Vault's wrapping token).
        token, entry = await self._tokens.create(
            policies=[RESPONSE_WRAPPING_POLICY],
            path=req.path,
            display_name="",
            ttl=ttl,
            explicit_max_ttl=ttl,
            num_uses=1,
        )
        cubbyholes = self._cubbyholes()
        try:
            await cubbyholes.put(entry.id_hash, RESPONSE_KEY, {"response": stored})
            await cubbyholes.put(
                entry.id_hash,
                WRAPINFO_KEY,
                {"creation_ttl": ttl, "creation_time": rfc3339(now), "creation_path": creation_path},
            )
        except BaseException:
            await self._tokens.revoke_orphan(entry)
            raise
        info = WrapInfo(
            token=token,
            accessor=entry.accessor,
            ttl=ttl,
            creation_time=rfc3339(now),
            creation_path=creation_path,
            # The token inside a wrapped login or token creation can be looked up and revoked by it.
            wrapped_accessor=str((response.auth or {}).get("accessor") or ""),
        )
        return Response(wrap_info=info, warnings=list(response.warnings), status=200)


async def read_wrapped(cubbyholes: Cubbyholes, entry: TokenEntry, key: str) -> dict[str, Any]:
    """What wrapping stored in `entry`'s cubbyhole under `key`."""
    stored = await cubbyholes.get(entry.id_hash, key)
    if stored is None:
        raise EngineError("no information found; wrapping token may be from a previous Vault version")
    return stored
