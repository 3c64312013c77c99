"""The request pipeline behind the barrier: token check (none on a backend's login paths),
authorisation, token use counting, routing, turning a backend's login into a token and its secret into
a lease, and Vault's rules for what an empty answer means. HTTP, seals and the daemon's lifecycle stay
outside; the daemon calls setup() after unsealing, runs background() while unsealed and calls
teardown() before sealing.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections import ChainMap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.audit.broker import AuditBroker, AuditFailed
from engine.backends.cubbyhole import MOUNT_TYPE as CUBBYHOLE
from engine.backends.cubbyhole import cubbyhole_factory, cubbyholes, destroy_on_revoke, required_mounts
from engine.backends.registry import SECRET_ENGINES, auth_factories
from engine.backends.system import BarrierKeys, SystemBackend, SystemContext
from engine.backends.token import TokenBackend
from engine.errors import EngineError, NotFound, PermissionDenied, Sealed
from engine.expiration import ExpirationManager
from engine.expiration.issue import lease_secret
from engine.expiration.login_renew import LoginRenewal
from engine.expiration.token_link import StoreLink, link
from engine.framework import Backend, SpecialPaths
from engine.mounts import BackendFactory, MountEntry, MountManager
from engine.policy import PolicyStore, normalize_request_path, warm_up_parser
from engine.quotas import QuotaManager
from engine.request import Op, Request, Response
from engine.router import Route
from engine.storage.base import Storage
from engine.token_keys import TokenKeys
from engine.tokens import Clock, TokenEntry, TokenStore, auth_block, utc_now
from engine.wrapping import (
    CUBBYHOLE_RESPONSE_DEPRECATED,
    WRAPPING_TOKEN_PATHS,
    ResponseWrapper,
    check_wrapping_token,
    is_wrapping_token,
    wrap_ttl,
)

log = logging.getLogger("engine.core")

# Seconds between rounds of the backends' periodic work (Vault's static-role queue ticks every 5s).
PERIODIC_INTERVAL = 5.0


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
    policies: PolicyStore
    expiration: ExpirationManager
    wrapper: ResponseWrapper
    audit: AuditBroker
    quotas: QuotaManager


@dataclass
class _Audited:
    """One request's audit trail: the caller's token entry as last known, and whether the request
    line is out (it must be before anything changes)."""

    token_entry: TokenEntry | None = None
    logged: bool = False


class Core:
    def __init__(
        self,
        barrier: SealableStorage,
        *,
        clock: Clock = utc_now,
        token_keys: TokenKeys | None = None,
        periodic_interval: float = PERIODIC_INTERVAL,
    ) -> None:
        self._barrier = barrier
        self._clock = clock
        self._periodic_interval = periodic_interval
        # The PKCS#11 token that transit's hsm-* keys live in (None: the seal has no token).
        self._token_keys = token_keys
        self._serving: _Serving | None = None
        # Once per process, at start-up: otherwise the first unseal pays for building the policy parser.
        warm_up_parser()

    async def setup(self) -> None:
        """Load the token store, the policies, the mount tables (creating the defaults on first
        start) and the leases."""
        if self._serving is not None:
            return
        if self._token_keys is not None:
            await self._token_keys.forget_found_keys()
        tokens = TokenStore(self._barrier, self._clock)
        await tokens.setup()
        policies = PolicyStore(self._barrier)
        await policies.setup()
        barrier = self._barrier
        expiration = ExpirationManager(
            barrier, routes=lambda path: _route_for(mounts, path), tokens=StoreLink(tokens), clock=self._clock
        )
        link(tokens, expiration)
        audit = AuditBroker(barrier)
        quotas = QuotaManager(barrier, lambda path: _mount_point(mounts, path), self._clock)
        # The system backend manages the very table it is mounted from: its factory refers to the
        # manager being built here, and only runs once the manager exists (in load()).
        builtins: dict[str, BackendFactory] = {
            "system": lambda entry: SystemBackend(
                SystemContext(
                    mounts=mounts, keys=barrier, tokens=tokens, policies=policies, expiration=expiration, audit=audit,
                    quotas=quotas,
                )
            ),
            "token": lambda entry: TokenBackend(entry, tokens, policies),
            CUBBYHOLE: cubbyhole_factory,
            "transit": _on_first_mount("engine.backends.transit", "transit_factory", self._token_keys, self._clock),
            "pki": _on_first_mount("engine.backends.pki", "pki_factory", self._token_keys, self._clock),
            "database": _on_first_mount("engine.backends.database", "database_factory", self._clock),
        }
        mounts = MountManager(
            self._barrier, ChainMap(builtins, SECRET_ENGINES), auth_factories(self._clock), required=required_mounts
        )
        # A token's cubbyhole goes with it, after its leases.
        destroy_on_revoke(tokens, mounts.router)
        wrapper = ResponseWrapper(tokens, lambda: cubbyholes(mounts.router), self._clock)
        # Renewing a login token asks the auth method that made it (found by its mount's accessor).
        tokens.on_login_renew = LoginRenewal(mounts.router.routes)
        await mounts.load()
        # No expiration.load(): its run() restores the leases in the background, as Vault's Restore.
        await audit.load()
        await quotas.load()
        self._serving = _Serving(tokens, mounts, policies, expiration, wrapper, audit, quotas)

    def background(self) -> list[Callable[[asyncio.Event], Awaitable[None]]]:
        """Long-running jobs the daemon runs while unsealed, each until its event is set: the
        expiration manager's one task."""
        serving = self._serving
        return [] if serving is None else [serving.expiration.run, self._run_periodic]

    async def periodic(self) -> None:
        """One round of every mounted backend's periodic work (Vault's PeriodicFunc); one backend
        failing does not keep the others from theirs."""
        serving = self._loaded()
        for route in serving.mounts.router.routes():
            try:
                await route.backend.periodic(route.storage)
            except Sealed:
                raise
            except Exception:
                log.exception("periodic work of the mount at %s failed", route.entry.path)

    async def _run_periodic(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.periodic()
            except Sealed:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._periodic_interval)

    @property
    def expiration(self) -> ExpirationManager:
        return self._loaded().expiration

    @property
    def quotas(self) -> QuotaManager:
        """The rate limit quotas, which the daemon enforces before handing a request over."""
        return self._loaded().quotas

    @property
    def audit(self) -> AuditBroker:
        return self._loaded().audit

    async def teardown(self) -> None:
        serving, self._serving = self._serving, None
        if serving is not None:
            await serving.audit.close()
            for route in serving.mounts.router.routes():
                await route.backend.cleanup()

    async def audit_reopen(self) -> None:
        """SIGHUP: the audit devices reopen their files (or reconnect), each starting a new chain
        segment that links to the last line written before."""
        if self._serving is not None:
            await self._serving.audit.reopen()

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
        if not serving.audit.enabled:
            return await self._handle(serving, req, None)
        audited = _Audited()
        try:
            response = await self._handle(serving, req, audited)
        except AuditFailed:
            raise
        except Exception as exc:
            message = exc.message if isinstance(exc, EngineError) else "internal error"
            if not audited.logged:
                await serving.audit.log_request(req, audited.token_entry, message)
            await serving.audit.log_response(req, audited.token_entry, None, message)
            raise
        await serving.audit.log_response(req, audited.token_entry, response)
        return response

    async def _handle(self, serving: _Serving, req: Request, audited: _Audited | None) -> Response:
        # One spelling of the path for routing, the ACL and storage alike ('..', '//' resolved).
        req.path = normalize_request_path(req.path)
        if req.path in WRAPPING_TOKEN_PATHS:
            # Before the token check, as Vault: the caller's own token may be the (used up) wrapping token.
            await check_wrapping_token(serving.tokens, req)
        found = serving.mounts.router.match(req.path)
        # A backend's login paths need no token (Vault's LoginPath); everything else does, and an
        # unknown token is refused before an unknown route is reported.
        login = found is not None and SpecialPaths.matches(found[0].backend.special_paths.unauthenticated, found[1])
        entry = await serving.tokens.lookup(req.client_token) if req.client_token else None
        if entry is None and not login:
            raise PermissionDenied()
        req.token_entry = entry
        if audited is not None:
            audited.token_entry = entry

        if found is None:
            assert entry is not None
            # Authorised first, as in Vault: an unknown path is a 404 only for those allowed to know.
            await self._authorize(serving.policies, entry, req)
            raise NotFound(f'no handler for route "{req.path}". route entry not found.')
        route, below = found
        req.mount_point, req.mount_type = route.entry.path, route.entry.type
        req.mount_accessor = route.entry.accessor
        # Only the token backend sees the caller's token, as in Vault.
        token = req.client_token if route.entry.type == "token" else None
        routed = _routed_copy(req, path=below, client_token=token)
        if req.op in _WRITES:
            await _create_or_update(req, routed, route)

        if login:
            if audited is not None:
                await _log_request(serving, req, audited)
            response = await route.backend.handle(routed, route.storage)
            return await self._respond(serving, req, route, response, entry)
        assert entry is not None
        await self._authorize(serving.policies, entry, req, route.backend.special_paths.root, below)
        # Logged before anything changes (the use count included): fail closed.
        if audited is not None:
            await _log_request(serving, req, audited)
        # The use is counted once authorised; a token whose last use this is goes when it is over (what
        # TokenStore.using does, spelled out: an async context manager per request costs more than the read).
        unlimited = entry.num_uses == 0 and not entry.bound_cidrs  # nothing to count or check: most tokens
        live = entry if unlimited else await serving.tokens.use(entry, req.remote_address)
        try:
            req.token_entry = routed.token_entry = live
            if audited is not None:
                audited.token_entry = live
            response = await route.backend.handle(routed, route.storage)
            return await self._respond(serving, req, route, response, live)
        finally:
            if live.used_up:
                await serving.tokens.revoke_tree(live)

    async def _respond(
        self, serving: _Serving, req: Request, route: Route, response: Response | None, entry: TokenEntry | None
    ) -> Response:
        if response is not None and response.login is not None:
            await _log_in(serving.tokens, req, route, response)
        if response is not None and response.secret is not None:
            await lease_secret(
                serving.expiration, path=req.path, route=route, response=response, token=entry, now=self._clock()
            )
        _refuse_empty(req, response)
        if response is None:
            response = Response()  # nothing to say (204), and nothing to wrap
        else:
            if req.path == "cubbyhole/response" and entry is not None and is_wrapping_token(entry):
                response.warnings.append(CUBBYHOLE_RESPONSE_DEPRECATED)
            ttl = wrap_ttl(req, response)
            if ttl:
                response = await serving.wrapper.wrap(req, response, ttl)
        # (A raw body, such as an unwrapped response, is sent as it is.)
        if route.entry.type == "system" and type(response) is Response:
            response = TopLevelDataResponse(**vars(response))
        return response

    async def _authorize(
        self,
        policies: PolicyStore,
        entry: TokenEntry,
        req: Request,
        root_paths: tuple[str, ...] = (),
        below: str = "",
    ) -> None:
        """The ACL check (Vault's CheckToken): `req.op` is final (CREATE vs UPDATE decided) and the
        path is the full, normalised request path. A path the routed backend lists as root-protected
        (`root_paths`, matched against `below`, the path under its mount) also needs sudo."""
        acl = await policies.acl_for(entry.policies)
        decision = acl.check(req.op, req.path, req.data, wrap_ttl=req.wrap_ttl)
        if not decision.allowed or (not decision.sudo and SpecialPaths.matches(root_paths, below)):
            raise PermissionDenied()


def _on_first_mount(module: str, factory_name: str, *args: Any) -> BackendFactory:
    """A mount factory that imports its engine when the first mount of its type is made: transit, PKI and
    database bring in large libraries (X.509, asyncpg) that a daemon without such a mount never needs,
    and their imports were a sixth of the daemon's start-up."""
    made: list[BackendFactory] = []

    def make(entry: MountEntry) -> Backend:
        if not made:
            made.append(getattr(importlib.import_module(module), factory_name)(*args))
        return made[0](entry)

    return make


def _routed_copy(req: Request, *, path: str, client_token: str | None) -> Request:
    """What dataclasses.replace makes (a shallow copy with two fields changed) at a quarter of its cost
    (it re-runs __init__, copy.copy goes through __reduce_ex__): this runs on every request."""
    routed: Request = object.__new__(type(req))
    routed.__dict__.update(req.__dict__)
    routed.path, routed.client_token = path, client_token
    return routed


async def _log_request(serving: _Serving, req: Request, audited: _Audited) -> None:
    await serving.audit.log_request(req, audited.token_entry)
    audited.logged = True


async def _log_in(tokens: TokenStore, req: Request, route: Route, response: Response) -> None:
    """An auth method accepted a login: make its token (bounded by the auth mount's TTLs, at the login
    request's path) and answer with Vault's auth block."""
    auth = response.login
    assert auth is not None
    response.login = None
    mount = route.entry
    token, entry = await tokens.create_from_auth(
        auth,
        mount_path=mount.path,
        path=req.path,
        mount_accessor=mount.accessor,
        mount_default_ttl=mount.default_lease_ttl(),
        mount_max_ttl=mount.max_lease_ttl(),
        mount_token_type=mount.config.token_type or "default-service",
        warnings=response.warnings,
    )
    response.auth = auth_block(token, entry)


def _route_for(mounts: MountManager, path: str) -> Route | None:
    found = mounts.router.match(path)
    return None if found is None else found[0]


def _mount_point(mounts: MountManager, path: str) -> str | None:
    route = _route_for(mounts, path)
    return None if route is None else route.entry.path


_WRITES = frozenset({Op.CREATE, Op.UPDATE})


async def _create_or_update(req: Request, routed: Request, route: Route) -> None:
    """A write (an op in _WRITES) is a CREATE when the backend's existence check says the target is missing,
    as Vault decides it before the ACL check (policies grant create and update separately)."""
    try:
        exists = await route.backend.existence(routed, route.storage)
    except NotFound:
        exists = None  # unsupported path: the handler call reports it
    req.op = routed.op = Op.CREATE if exists is False else Op.UPDATE


def _refuse_empty(req: Request, response: Response | None) -> None:
    """Vault's rules for answers without content: a read (or patch) of nothing is 404, a listing
    without keys is 404 (wrapped or not), anything else empty is 204. 404s here carry no message:
    {"errors": []}."""
    if response is None:
        if req.op in (Op.READ, Op.PATCH, Op.LIST):
            raise NotFound("")
    elif req.op is Op.LIST:
        data = response.data or {}
        if not data and not response.warnings:
            raise NotFound("")
        keys = data.get("keys")
        if keys is not None and len(keys) == 0:
            raise NotFound("")
