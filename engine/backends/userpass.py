"""The userpass auth method (Vault's builtin/credential/userpass): users with a password and token
settings, and login with them.

Passwords are kept only as argon2id hashes (engine.crypto.passwords), never in clear, not even behind
the barrier, and never in a log or a response. A wrong password and an unknown user get the same
answer after the same work. Repeated failures lock the user out (engine.backends.lockout).

Layout in the mount's storage: user/<lower-case name> -> UserEntry (JSON), lockout/<hash> -> failures.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.backends.cidrs import address_allowed, parse_addrs
from engine.backends.lockout import Lockout
from engine.backends.passwords import PasswordHasher
from engine.backends.token_params import TOKEN_FIELDS, TokenParams, parse_policies, upgrade_legacy
from engine.errors import BadRequest, PermissionDenied
from engine.framework import Backend, Field, FieldData, FieldType, Path, SpecialPaths
from engine.mounts import MountEntry
from engine.request import Auth, Op, Request, Response
from engine.storage.base import Storage
from engine.tokens import Clock

# Vault's framework.GenericNameRegex.
NAME = r"\w(?:[\w.-]*\w)?"
USER_PREFIX = "user/"

_USER_FIELDS: dict[str, Field] = {
    "password": Field(FieldType.STRING, description="Password for this user."),
    "policies": Field(FieldType.LIST, description='Deprecated: use "token_policies".'),
    "ttl": Field(FieldType.DURATION, description='Deprecated: use "token_ttl".'),
    "max_ttl": Field(FieldType.DURATION, description='Deprecated: use "token_max_ttl".'),
    "bound_cidrs": Field(FieldType.LIST, description='Deprecated: use "token_bound_cidrs".'),
    **TOKEN_FIELDS,
}


@dataclass
class UserEntry(TokenParams):
    password_hash: str = field(default="", repr=False)
    # Deprecated twins of token_policies, token_ttl, token_max_ttl and token_bound_cidrs, kept and shown
    # as Vault does for clients that still send them (hvac's create_or_update_user sends "policies").
    policies: list[str] = field(default_factory=list)
    ttl: int = 0
    max_ttl: int = 0
    bound_cidrs: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> UserEntry:
        return cls(**json.loads(raw))

    def describe(self) -> dict[str, Any]:
        data = self.token_data()
        if self.ttl:
            data["ttl"] = self.ttl
        if self.max_ttl:
            data["max_ttl"] = self.max_ttl
        if self.policies:
            data["policies"] = data["token_policies"]
        if self.bound_cidrs:
            data["bound_cidrs"] = list(self.bound_cidrs)
        return data


class UserpassBackend(Backend):
    special_paths = SpecialPaths(unauthenticated=("login/*",))

    def __init__(self, mount: MountEntry, clock: Clock, hasher: PasswordHasher | None = None) -> None:
        self.mount = mount
        self.hasher = hasher or PasswordHasher()
        self.lockout = Lockout(mount, clock)
        username = {"username": Field(FieldType.STRING, description="Username of the user.")}
        self.paths = [
            Path(r"users/?", operations={Op.LIST: self.list_users}, synopsis="List the users."),
            Path(
                rf"users/(?P<username>{NAME})",
                fields=_USER_FIELDS,
                operations={
                    Op.READ: self.read_user,
                    Op.CREATE: self.write_user,
                    Op.UPDATE: self.write_user,
                    Op.DELETE: self.delete_user,
                },
                existence_check=self.user_exists,
                synopsis="Manage users allowed to authenticate.",
                description="Deleting a user does not revoke the tokens it already has; they are not renewed any more.",
            ),
            Path(
                rf"users/(?P<username>{NAME})/password",
                fields={**username, "password": _USER_FIELDS["password"]},
                operations={Op.UPDATE: self.update_password},
                synopsis="Reset a user's password.",
            ),
            Path(
                rf"users/(?P<username>{NAME})/policies",
                fields={
                    **username,
                    "policies": _USER_FIELDS["policies"],
                    "token_policies": TOKEN_FIELDS["token_policies"],
                },
                operations={Op.UPDATE: self.update_policies},
                synopsis="Update the policies of a user.",
            ),
            Path(
                rf"login/(?P<username>{NAME})",
                fields={**username, "password": _USER_FIELDS["password"]},
                operations={Op.UPDATE: self.login},
                synopsis="Log in with a username and password.",
            ),
        ]

    # --- storage --------------------------------------------------------------------------------

    @staticmethod
    async def _user(storage: Storage, username: str) -> UserEntry | None:
        if not username:
            raise BadRequest("missing username")
        raw = await storage.get(USER_PREFIX + username.lower())
        return None if raw is None else UserEntry.from_json(raw)

    @staticmethod
    async def _save(storage: Storage, username: str, user: UserEntry) -> None:
        await storage.put(USER_PREFIX + username.lower(), user.to_json())

    # --- users ----------------------------------------------------------------------------------

    async def user_exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return await self._user(storage, data.get("username")) is not None

    async def list_users(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        keys = await storage.list(USER_PREFIX)
        return Response(data={"keys": keys} if keys else {})

    async def read_user(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        user = await self._user(storage, data.get("username"))
        return None if user is None else Response(data=user.describe())

    async def delete_user(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await storage.delete(USER_PREFIX + data.get("username").lower())
        return None

    async def write_user(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        username = data.get("username")
        if req.op is Op.CREATE and not data.get("password"):
            raise BadRequest("missing password")
        user = await self._user(storage, username) or UserEntry()
        user.parse_token_fields(data)
        if data.get_ok("password")[1]:
            await self._set_password(user, data)
        upgrade_legacy(data, "policies", "token_policies", user, parse_policies)
        upgrade_legacy(data, "ttl", "token_ttl", user)
        upgrade_legacy(data, "max_ttl", "token_max_ttl", user)
        upgrade_legacy(data, "bound_cidrs", "token_bound_cidrs", user, parse_addrs)
        await self._save(storage, username, user)
        return None

    async def _set_password(self, user: UserEntry, data: FieldData) -> None:
        password = data.get("password")
        if not password:
            raise BadRequest("missing password")
        user.password_hash = await self.hasher.hash(password)

    async def update_password(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        username = data.get("username")
        user = await self._user(storage, username)
        if user is None:
            raise BadRequest("username does not exist")
        await self._set_password(user, data)
        await self._save(storage, username, user)
        return None

    async def update_policies(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        username = data.get("username")
        user = await self._user(storage, username)
        if user is None:
            raise BadRequest("username does not exist")
        token_policies, token_given = data.get_ok("token_policies")
        policies, given = data.get_ok("policies")
        if token_given:
            user.token_policies = parse_policies(token_policies)
            user.policies = list(user.token_policies) if given else []
        elif given:
            user.policies = user.token_policies = parse_policies(policies)
        await self._save(storage, username, user)
        return None

    # --- login ----------------------------------------------------------------------------------

    async def login(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        username = data.get("username").lower()
        password = data.get("password")
        if not password:
            raise BadRequest("missing password")
        async with self.lockout.attempt(storage, username) as attempt:
            user = await self._user(storage, username)
            verified = await self.hasher.verify(user.password_hash if user else None, password)
            if user is None or not verified:
                if user is not None:
                    await attempt.failed()
                raise BadRequest("invalid username or password")
            await attempt.succeeded()
        if user.token_bound_cidrs and not address_allowed(req.remote_address, user.token_bound_cidrs):
            raise PermissionDenied()
        auth = user.auth(
            display_name=username,
            metadata={"username": username},
            internal_data={"username": username},
            alias_name=username,
        )
        return Response(login=auth)

    async def renew_auth(self, auth: Auth, storage: Storage) -> Auth | None:
        """Vault's pathLoginRenew, called when a token from this mount is renewed: None (not renewed)
        once the user is gone; refused once its policies changed; else the user's current TTLs."""
        username = auth.internal_data.get("username") or auth.metadata.get("username", "")
        user = await self._user(storage, username)
        if user is None:
            return None
        if set(user.token_policies) - {"default"} != set(auth.policies) - {"default"}:
            raise BadRequest("policies have changed, not renewing")
        auth.period, auth.ttl, auth.max_ttl = user.token_period, user.token_ttl, user.token_max_ttl
        return auth


def userpass_factory(mount: MountEntry, clock: Clock) -> Backend:
    return UserpassBackend(mount, clock)
