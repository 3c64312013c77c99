"""The engine types users can mount, by type name: secret engines through sys/mounts and auth methods
through sys/auth. A new engine registers here; the system and token backends are built by the core
itself (one instance each, never user-mounted).

Auth methods also get the core's clock (lockouts, secret-id expiry), so their factories take it and
`auth_factories(clock)` binds it for the mount manager."""

from __future__ import annotations

from collections.abc import Callable

from engine.backends.approle import approle_factory
from engine.backends.kv import kv_factory
from engine.backends.userpass import userpass_factory
from engine.framework import Backend
from engine.mounts import BackendFactory, MountEntry
from engine.tokens import Clock

AuthFactory = Callable[[MountEntry, Clock], Backend]

SECRET_ENGINES: dict[str, BackendFactory] = {
    "kv": kv_factory,
}

AUTH_METHODS: dict[str, AuthFactory] = {
    "userpass": userpass_factory,
    "approle": approle_factory,
}


def register(type_name: str, factory: BackendFactory) -> None:
    if type_name in SECRET_ENGINES:
        raise ValueError(f"secret engine type {type_name!r} is already registered")
    SECRET_ENGINES[type_name] = factory


def register_auth(type_name: str, factory: AuthFactory) -> None:
    if type_name in AUTH_METHODS:
        raise ValueError(f"auth method type {type_name!r} is already registered")
    AUTH_METHODS[type_name] = factory


def auth_factories(clock: Clock) -> dict[str, BackendFactory]:
    """The auth method factories with the core's clock bound, as the mount manager calls them."""

    def bind(factory: AuthFactory) -> BackendFactory:
        return lambda entry: factory(entry, clock)

    return {name: bind(factory) for name, factory in AUTH_METHODS.items()}
