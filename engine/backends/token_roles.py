"""auth/token/roles and roles/:role_name (Vault's tokenStoreRole* handlers): CRUD of token roles, with
Vault's validation and its deprecated field spellings."""

from __future__ import annotations

import ipaddress
import re

from engine.backends.token_context import TokenContext
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage
from engine.tokens import RoleStore, TokenRole
from engine.tokens.policy_names import remove_duplicates, sanitize_policies
from engine.tokens.roles import ROLE_TOKEN_TYPES

# Vault's framework.GenericNameRegex.
ROLE_NAME = r"(?P<role_name>\w(?:[\w.-]*\w)?)"

# Vault's pathSuffixSanitize (as Go spells it, for the message); like Vault, a suffix only has to
# contain a match somewhere.
_PATH_SUFFIX_GO = r"\w[\w-.]+\w"
_PATH_SUFFIX = re.compile(r"\w[\w\-.]+\w")

ROLE_FIELDS = {
    "allowed_policies": Field(FieldType.LIST, description="Policies tokens from this role may have."),
    "disallowed_policies": Field(FieldType.LIST, description="Policies tokens from this role may not have."),
    "allowed_policies_glob": Field(FieldType.LIST, description="Globs of allowed policies."),
    "disallowed_policies_glob": Field(FieldType.LIST, description="Globs of disallowed policies."),
    "orphan": Field(FieldType.BOOL, description="Tokens from this role are orphans."),
    "renewable": Field(FieldType.BOOL, default=True, description="Tokens from this role may be renewed."),
    "path_suffix": Field(FieldType.STRING, description="Suffix added to the token path."),
    "allowed_entity_aliases": Field(FieldType.LIST, description="Entity aliases allowed at creation."),
    "token_period": Field(FieldType.DURATION, description="Period of tokens from this role."),
    "period": Field(FieldType.DURATION, description="Deprecated: use token_period."),
    "token_explicit_max_ttl": Field(FieldType.DURATION, description="Explicit max TTL of tokens."),
    "explicit_max_ttl": Field(FieldType.DURATION, description="Deprecated: use token_explicit_max_ttl."),
    "token_type": Field(FieldType.STRING, description="service, batch, default-service or default-batch."),
    "token_no_default_policy": Field(FieldType.BOOL, description="Do not add the default policy."),
    "token_num_uses": Field(FieldType.INT, description="Max number of uses of tokens (0: unlimited)."),
    "token_bound_cidrs": Field(FieldType.LIST, description="CIDRs tokens from this role are bound to."),
    "bound_cidrs": Field(FieldType.LIST, description="Deprecated: use token_bound_cidrs."),
}


class RolePaths:
    def __init__(self, ctx: TokenContext) -> None:
        self.ctx = ctx

    @property
    def roles(self) -> RoleStore:
        return self.ctx.tokens.roles

    def paths(self) -> list[Path]:
        return [
            Path(r"roles/?", operations={Op.LIST: self.list}, synopsis="List the token roles."),
            Path(
                f"roles/{ROLE_NAME}",
                fields=ROLE_FIELDS,
                operations={Op.READ: self.read, Op.CREATE: self.write, Op.UPDATE: self.write, Op.DELETE: self.delete},
                existence_check=self.exists,
                synopsis="Create, read, update or delete a token role.",
            ),
        ]

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data={"keys": await self.roles.names()})

    async def exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return await self.roles.get(data.get("role_name")) is not None

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role = await self.roles.get(data.get("role_name"))
        return None if role is None else Response(data=role.describe())

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.roles.delete(data.get("role_name"))
        return None

    async def write(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name: str = data.get("role_name")
        role = await self.roles.get(name) or TokenRole(name=name)
        response = Response()
        _apply_plain_fields(role, data)
        _apply_token_fields(role, data, response, self.ctx.mount.max_lease_ttl())
        _check_batch(role)
        await self.roles.put(role)
        return response if response.warnings else None


def _apply_plain_fields(role: TokenRole, data: FieldData) -> None:
    """Fields not given keep their stored value on an update (and their default on a create)."""
    for name in ("orphan", "renewable"):
        value, given = data.get_ok(name)
        if given:
            setattr(role, name, value)
    suffix, given = data.get_ok("path_suffix")
    if given:
        if suffix and not _PATH_SUFFIX.search(suffix):
            raise BadRequest(f"given role path suffix contains invalid characters; must match {_PATH_SUFFIX_GO}")
        role.path_suffix = suffix
    if ".." in role.path_suffix:
        raise BadRequest("error registering path suffix: path cannot contain parent references")
    for name in ("allowed_policies", "allowed_policies_glob"):
        value, given = data.get_ok(name)
        if given:
            setattr(role, name, sanitize_policies(value, add_default=False))
    for name in ("disallowed_policies", "disallowed_policies_glob", "allowed_entity_aliases"):
        value, given = data.get_ok(name)
        if given:
            setattr(role, name, remove_duplicates(value))


def _apply_token_fields(role: TokenRole, data: FieldData, response: Response, max_ttl: int) -> None:
    token_type, given = data.get_ok("token_type")
    if given:
        if token_type not in ROLE_TOKEN_TYPES:
            raise BadRequest(f"invalid 'token_type' value \"{token_type}\"")
        role.token_type = token_type
    for name in ("token_no_default_policy", "token_num_uses"):
        value, given = data.get_ok(name)
        if given:
            setattr(role, name, value)
    if role.token_num_uses < 0:
        raise BadRequest("error parsing role fields: token_num_uses cannot be negative")

    # The token_ spellings win over the deprecated ones; the deprecated value is kept only when it
    # is the one used, so a read shows what was written.
    role.token_period, role.period = _new_or_deprecated(
        data, response, ("token_period", "period"), (role.token_period, role.period)
    )
    role.token_explicit_max_ttl, role.explicit_max_ttl = _new_or_deprecated(
        data,
        response,
        ("token_explicit_max_ttl", "explicit_max_ttl"),
        (role.token_explicit_max_ttl, role.explicit_max_ttl),
    )
    cidrs, given = data.get_ok("token_bound_cidrs")
    old_cidrs, old_given = data.get_ok("bound_cidrs")
    if given:
        role.token_bound_cidrs, role.bound_cidrs = _cidrs(cidrs), []
        if old_given:
            response.warnings.append(_both("token_bound_cidrs", "bound_cidrs"))
    elif old_given:
        role.token_bound_cidrs = role.bound_cidrs = _cidrs(old_cidrs)

    if role.token_explicit_max_ttl > max_ttl:
        response.warnings.append(
            f"Given explicit max TTL of {role.token_explicit_max_ttl} is greater than system/mount allowed value "
            f"of {max_ttl} seconds; until this is fixed attempting to create tokens against this "
            "role will result in an error"
        )


def _new_or_deprecated(
    data: FieldData, response: Response, names: tuple[str, str], current: tuple[int, int]
) -> tuple[int, int]:
    """(token_ value, deprecated value) after this write."""
    new, old = names
    value, given = data.get_ok(new)
    old_value, old_given = data.get_ok(old)
    if given:
        if old_given:
            response.warnings.append(_both(new, old))
        return value, 0
    if old_given:
        return old_value, old_value
    return current


def _both(new: str, old: str) -> str:
    return f"Both '{new}' and deprecated '{old}' value supplied, ignoring the deprecated value"


def _cidrs(values: list[str]) -> list[str]:
    parsed = []
    for value in values:
        try:
            parsed.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise BadRequest(f"error parsing role fields: invalid CIDR or IP address {value!r}") from None
    return parsed


def _check_batch(role: TokenRole) -> None:
    if role.token_type != "batch":
        return
    problem = None
    if not role.orphan:
        problem = "generate non-orphan tokens"
    elif role.token_period:
        problem = "generate periodic tokens"
    elif role.renewable:
        problem = "generate renewable tokens"
    elif role.token_explicit_max_ttl:
        problem = "generate tokens with an explicit max TTL"
    if problem is not None:
        raise BadRequest(f"'token_type' cannot be 'batch' when role is set to {problem}")
