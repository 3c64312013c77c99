"""Renewing a login token asks the auth method that issued it (Vault's ExpirationManager.RenewToken,
which routes the renewal to the method's renew handler): the user or role must still be there, and its
current TTL settings are what the token is renewed with. The method is found by the mount accessor
recorded when the token was made, so a remount does not lose it. This is the token store's
`on_login_renew` hook; the store applies the answer through the usual TTL calculation."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from engine.errors import BadRequest, EngineError, NotFound, Sealed
from engine.expiration.manager import REVOKE_TIMEOUT, mount_limits
from engine.expiration.retry import describe
from engine.request import Auth
from engine.router import Route
from engine.storage.base import Storage
from engine.tokens import RenewTerms, TokenEntry, login_auth

FAILED = "failed to renew entry"


@runtime_checkable
class RenewsAuth(Protocol):
    """An auth method that can judge the renewal of its tokens: the Auth to renew with, None to refuse."""

    async def renew_auth(self, auth: Auth, storage: Storage) -> Auth | None: ...


class LoginRenewal:
    """The hook: `routes` lists the mounted routes (the auth methods among them)."""

    def __init__(self, routes: Callable[[], Iterable[Route]]) -> None:
        self._routes = routes

    async def __call__(self, entry: TokenEntry) -> RenewTerms | None:
        route = self._find(entry.mount_accessor)
        if route is None:
            # What Vault's router answers for a path nothing is mounted at.
            raise NotFound(f"{FAILED}: unsupported path")
        backend = route.backend
        if not isinstance(backend, RenewsAuth):
            raise BadRequest("this auth type doesn't support renew")
        try:
            async with asyncio.timeout(REVOKE_TIMEOUT):
                renewed = await backend.renew_auth(login_auth(entry), route.storage)
        except Sealed:
            raise
        except EngineError as exc:
            raise _failed(exc) from exc
        except Exception as exc:
            raise EngineError(f"{FAILED}: {describe(exc)}") from exc
        return None if renewed is None else RenewTerms(renewed, mount_limits(route))

    def _find(self, accessor: str) -> Route | None:
        return next((r for r in self._routes() if r.entry.is_auth and r.entry.accessor == accessor), None)


def _failed(exc: EngineError) -> EngineError:
    """The method's refusal, worded as Vault's renewAuthEntry wraps it, with its status kept."""
    failure = copy.copy(exc)
    failure.message = f"{FAILED}: {exc.message}"
    failure.args = (failure.message,)
    return failure
