"""auth/token/create, create-orphan and create/:role (Vault's handleCreateCommon), rule for rule and
message for message: who may create what, with which policies, parent, type and TTL."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.backends.token_context import TokenContext
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType
from engine.request import Request, Response
from engine.tokens import BATCH, SERVICE, TokenEntry, TokenRole, auth_block, calculate_ttl, sanitize_policies
from engine.tokens.policy_names import NON_ASSIGNABLE, contains_glob, remove_duplicates

CREATE_FIELDS = {
    "id": Field(FieldType.STRING, description="Value for the token; root or sudo only."),
    "role_name": Field(FieldType.STRING, description="Name of the role."),
    "policies": Field(FieldType.LIST, description="List of policies for the token."),
    "meta": Field(FieldType.KV_PAIRS, description="Arbitrary key=value metadata to associate with the token."),
    "no_parent": Field(FieldType.BOOL, description="Create the token with no parent (root or sudo only)."),
    "no_default_policy": Field(FieldType.BOOL, description="Do not include the default policy."),
    "renewable": Field(FieldType.BOOL, default=True, description="Allow the token to be renewed."),
    "ttl": Field(FieldType.DURATION, description="Time to live for this token."),
    "lease": Field(FieldType.DURATION, description="Deprecated: use ttl."),
    "type": Field(FieldType.STRING, description="Token type: service or batch."),
    "explicit_max_ttl": Field(FieldType.DURATION, description="Explicit max TTL of this token."),
    "display_name": Field(FieldType.STRING, description="Name to associate with this token."),
    "num_uses": Field(FieldType.INT, description="Max number of uses for this token (0: unlimited)."),
    "period": Field(FieldType.DURATION, description="Renew period (root or sudo only)."),
    "entity_alias": Field(FieldType.STRING, description="Name of the entity alias to associate with this token."),
    "format": Field(FieldType.STRING, description="Ignored (Vault's output format flag)."),
}

_DISPLAY_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9-]")


@dataclass
class _Plan:
    """The token being decided, step by step."""

    type: str
    renewable: bool
    path: str
    num_uses: int
    policies: list[str] = field(default_factory=list)
    parent: TokenEntry | None = None
    bound_cidrs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


async def create_token(
    ctx: TokenContext, req: Request, data: FieldData, *, orphan: bool, role: TokenRole | None
) -> Response:
    parent = await ctx.caller(req)
    if parent is None:
        raise BadRequest("parent token lookup failed: no parent found")
    if parent.is_batch:
        raise BadRequest("batch tokens cannot create more tokens")
    if parent.num_uses != 0:
        # Children would let a use-limited token escape its count.
        raise BadRequest("restricted use token cannot generate child tokens")
    is_sudo = await ctx.has_sudo(parent, req)

    plan = _Plan(
        type=_token_type(data, role),
        renewable=bool(data.get("renewable")),
        path=f"auth/token/{req.path}",
        num_uses=data.get("num_uses"),
    )
    if plan.type == BATCH:
        plan.renewable = False
    if plan.num_uses < 0:
        raise BadRequest("number of uses cannot be negative")
    _check_entity_alias(data, role)
    if role is not None:
        plan.renewable = plan.renewable and role.renewable
        if role.token_num_uses and (plan.num_uses == 0 or role.token_num_uses < plan.num_uses):
            plan.num_uses = role.token_num_uses
        if role.path_suffix:
            plan.path = f"{plan.path}/{role.path_suffix}"

    token_id = _chosen_id(data, is_sudo)
    plan.policies = _policies(data, parent, role, is_sudo)
    if "root" in plan.policies:
        # Sudo is not enough: only a root token makes root tokens.
        if not parent.is_root:
            raise BadRequest("root tokens may not be created without parent token being root")
        if plan.type == BATCH:
            raise BadRequest("batch tokens cannot be root tokens")
    _parentage(plan, data, parent, role, orphan, is_sudo)

    ttl = _lifetime(ctx, plan, data, parent, role, is_sudo)
    token, entry = await ctx.tokens.create(
        policies=plan.policies,
        path=plan.path,
        display_name=_display_name(data.get("display_name")),
        meta=data.get("meta") or None,
        ttl=ttl,
        explicit_max_ttl=data.get("explicit_max_ttl"),
        period=data.get("period"),
        num_uses=plan.num_uses,
        renewable=plan.renewable,
        parent=plan.parent,
        token=token_id,
        type=plan.type,
        role=role.name if role is not None else "",
        entity_id=plan.parent.entity_id if plan.parent is not None else "",
        bound_cidrs=plan.bound_cidrs,
        mount_max_ttl=ctx.mount.max_lease_ttl(),
    )
    return Response(auth=auth_block(token, entry), warnings=plan.warnings)


def _display_name(asked: str) -> str:
    if not asked:
        return "token"
    return _DISPLAY_NAME_UNSAFE.sub("-", "token-" + asked).removesuffix("-")


def _token_type(data: FieldData, role: TokenRole | None) -> str:
    requested = data.get("type")
    if role is not None:
        if role.token_type == "default-batch" and requested == "":
            requested = BATCH
        elif role.token_type in (SERVICE, BATCH):
            requested = role.token_type
    if requested in ("", SERVICE):
        return SERVICE
    if requested != BATCH:
        raise BadRequest("invalid 'token_type' value")
    for name in ("explicit_max_ttl", "num_uses", "period"):
        if data.get(name):
            raise BadRequest(f'batch tokens cannot have "{name}" set')
    return BATCH


def _check_entity_alias(data: FieldData, role: TokenRole | None) -> None:
    alias = data.get("entity_alias")
    if not alias:
        return
    if role is None:
        raise BadRequest("'entity_alias' is only allowed in combination with token role")
    allowed = role.allowed_entity_aliases or []
    if alias.lower() not in allowed and not contains_glob(allowed, alias.lower()):
        raise BadRequest("invalid 'entity_alias' value")
    # Refused rather than ignored: there is no identity store to attach the token to yet.
    raise BadRequest("entity aliases are not supported")


def _chosen_id(data: FieldData, is_sudo: bool) -> str | None:
    token_id: str = data.get("id")
    if not token_id:
        return None
    if not is_sudo:
        raise BadRequest("root or sudo privileges required to specify token id")
    if token_id.startswith("hvs."):
        raise BadRequest("custom token ID cannot have the 'hvs.' prefix")
    if token_id.startswith("s."):
        raise BadRequest("custom token ID cannot have the 's.' prefix")
    if "." in token_id:
        raise BadRequest("custom token ID cannot have a '.' in the value")
    return token_id


def _policies(data: FieldData, parent: TokenEntry, role: TokenRole | None, is_sudo: bool) -> list[str]:
    """Vault's policy rules: a role with allowed/disallowed lists decides on its own; otherwise the
    parent's policies are inherited, or a subset of them asked for (anything, for sudo)."""
    requested: list[str] = data.get("policies")
    no_default = bool(data.get("no_default_policy"))
    add_default = False
    if role is not None and role.restricts_policies:
        requested = _role_policies(requested, parent, role, no_default)
    elif not requested:
        # Inherit; "default" only comes along if the parent has it.
        requested = sanitize_policies(parent.policies, add_default=False)
    elif not is_sudo:
        asked = sanitize_policies(requested, add_default=False)
        held = sanitize_policies(parent.policies, add_default=False)
        if not set(asked) <= set(held):
            raise BadRequest("child policies must be subset of parent")
        add_default = not no_default and "default" in parent.policies
    else:
        add_default = not no_default
    policies = sanitize_policies(requested, add_default)
    if no_default:
        policies = [p for p in policies if p != "default"]
    for name in policies:
        if name in NON_ASSIGNABLE:
            raise BadRequest(f'cannot assign policy "{name}"')
    return policies


def _role_policies(requested: list[str], parent: TokenEntry, role: TokenRole, no_default: bool) -> list[str]:
    add_default = (
        not no_default
        and not role.token_no_default_policy
        and "default" not in role.disallowed_policies
        and not contains_glob(role.disallowed_policies_glob, "default")
    )
    final = sanitize_policies(requested, add_default) if requested else []
    if role.allowed_policies or role.allowed_policies_glob:
        allowed = sanitize_policies(role.allowed_policies, add_default)
        if not final:
            final = allowed
        else:
            globs = sanitize_policies(role.allowed_policies_glob, add_default=False)
            for name in final:
                if name not in allowed and not contains_glob(globs, name):
                    raise BadRequest(
                        f"token policies ({_go_quoted(final)}) must be subset of the role's allowed "
                        f"policies ({_go_quoted(allowed)}) or glob policies ({_go_quoted(globs)})"
                    )
    elif not final:
        final = sanitize_policies(parent.policies, add_default)
    disallowed = remove_duplicates(role.disallowed_policies)
    disallowed_globs = remove_duplicates(role.disallowed_policies_glob)
    for name in final:
        if name in disallowed or contains_glob(disallowed_globs, name):
            raise BadRequest(f'token policy "{name}" is disallowed by this role')
    return final


def _go_quoted(items: list[str]) -> str:
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(f'"{item}"' for item in items) + "]"


def _parentage(
    plan: _Plan, data: FieldData, parent: TokenEntry, role: TokenRole | None, orphan: bool, is_sudo: bool
) -> None:
    if role is not None:
        orphan = role.orphan
        plan.bound_cidrs = list(role.token_bound_cidrs)
    elif data.get("no_parent"):
        if not is_sudo:
            raise BadRequest("root or sudo privileges required to create orphan token")
        orphan = True
    if not orphan:
        plan.parent = parent
        if role is None:
            # A child is bound where its parent is; a role may grant otherwise.
            plan.bound_cidrs = list(parent.bound_cidrs)


def _lifetime(
    ctx: TokenContext, plan: _Plan, data: FieldData, parent: TokenEntry, role: TokenRole | None, is_sudo: bool
) -> int:
    """The TTL to grant. The token keeps the explicit max TTL and period it was asked for; a role's
    count too, here and at each renewal (the lesser of both when both are set)."""
    explicit_max_ttl: int = data.get("explicit_max_ttl")
    period: int = data.get("period")
    if period and not is_sudo:
        raise BadRequest("root or sudo privileges required to create periodic token")
    ttl: int = data.get("ttl") or data.get("lease")
    if role is not None and plan.type != BATCH:
        explicit_max_ttl = _lesser(plan, "Explicit max TTL", explicit_max_ttl, role.token_explicit_max_ttl)
        period = _lesser(plan, "Period", period, role.token_period)
    if period > 0 or ttl > 0 or "root" not in plan.policies:
        granted = calculate_ttl(
            ctx.limits(),
            now=ctx.tokens.now(),
            backend_ttl=ttl,
            period=period,
            explicit_max_ttl=explicit_max_ttl,
        )
        plan.warnings.extend(granted.warnings)
        ttl = granted.ttl
    if ttl == 0 and explicit_max_ttl > 0:
        ttl = explicit_max_ttl  # root tokens are still bound by an explicit max TTL
    if ttl == 0:
        if parent.ttl != 0:
            raise BadRequest("expiring root tokens cannot create non-expiring root tokens")
        plan.renewable = False
        plan.bound_cidrs = []
    return ttl


def _lesser(plan: _Plan, what: str, asked: int, from_role: int) -> int:
    if not from_role:
        return asked
    if not asked:
        return from_role
    lesser = min(asked, from_role)
    plan.warnings.append(
        f"{what} specified both during creation call and in role; using the lesser value of {lesser} seconds"
    )
    return lesser
