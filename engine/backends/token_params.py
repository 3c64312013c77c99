"""The token settings every auth method role or user carries (Vault's sdk/helper/tokenutil): the
`token_*` fields, their validation, how they are shown, and how they shape a login's Auth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.backends.cidrs import parse_addrs
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType
from engine.request import Auth

TOKEN_FIELDS: dict[str, Field] = {
    "token_bound_cidrs": Field(FieldType.LIST, description="CIDR blocks allowed to use the issued token."),
    "token_explicit_max_ttl": Field(FieldType.DURATION, description="A hard cap on the token's life."),
    "token_max_ttl": Field(FieldType.DURATION, description="The maximum lifetime of the issued token."),
    "token_no_default_policy": Field(FieldType.BOOL, description="Do not add the 'default' policy."),
    "token_num_uses": Field(FieldType.INT, description="Uses of the token; 0 is unlimited."),
    "token_period": Field(FieldType.DURATION, description="Make the token periodic with this period."),
    "token_policies": Field(FieldType.LIST, description="Policies of the issued token."),
    "token_type": Field(FieldType.STRING, default="default-service", description="service or batch"),
    "token_ttl": Field(FieldType.DURATION, description="The initial TTL of the issued token."),
}

_TOKEN_TYPES = {"": "default", "default": "default", "service": "service", "batch": "batch"}


def parse_policies(names: list[str]) -> list[str]:
    """Vault's policyutil.ParsePolicies: trimmed, lower-case, sorted, unique; "root" stands alone."""
    cleaned = sorted({n.strip().lower() for n in names if n.strip()})
    return ["root"] if "root" in cleaned else cleaned


@dataclass
class TokenParams:
    token_bound_cidrs: list[str] = field(default_factory=list)
    token_explicit_max_ttl: int = 0
    token_max_ttl: int = 0
    token_no_default_policy: bool = False
    token_num_uses: int = 0
    token_period: int = 0
    token_policies: list[str] = field(default_factory=list)
    token_type: str = "default"
    token_ttl: int = 0

    def parse_token_fields(self, data: FieldData) -> None:
        """Take the token_* fields the request supplied, with tokenutil's checks (BadRequest)."""
        cidrs, given = data.get_ok("token_bound_cidrs")
        if given:
            self.token_bound_cidrs = parse_addrs(cidrs)
        for name in ("token_explicit_max_ttl", "token_max_ttl", "token_no_default_policy", "token_period"):
            value, given = data.get_ok(name)
            if given:
                setattr(self, name, value)
        policies, given = data.get_ok("token_policies")
        if given:
            self.token_policies = list(policies)
        token_type, given = data.get_ok("token_type")
        if given:
            if token_type not in _TOKEN_TYPES:
                raise BadRequest(f"invalid 'token_type' value \"{token_type}\"")
            self.token_type = _TOKEN_TYPES[token_type]
        uses, given = data.get_ok("token_num_uses")
        if given:
            self.token_num_uses = uses
        if self.token_num_uses < 0:
            raise BadRequest("'token_num_uses' cannot be negative")
        if self.token_type == "batch":
            if self.token_period:
                raise BadRequest(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens"
                )
            if self.token_num_uses:
                raise BadRequest(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with "
                    "limited use count"
                )
        ttl, given = data.get_ok("token_ttl")
        if given:
            self.token_ttl = ttl
        if self.token_ttl and self.token_max_ttl and self.token_ttl > self.token_max_ttl:
            raise BadRequest("'token_ttl' cannot be greater than 'token_max_ttl'")

    def token_data(self) -> dict[str, Any]:
        """The token_* fields as a read shows them."""
        return {
            "token_bound_cidrs": list(self.token_bound_cidrs),
            "token_explicit_max_ttl": self.token_explicit_max_ttl,
            "token_max_ttl": self.token_max_ttl,
            "token_no_default_policy": self.token_no_default_policy,
            "token_num_uses": self.token_num_uses,
            "token_period": self.token_period,
            "token_policies": list(self.token_policies),
            "token_type": self.token_type,
            "token_ttl": self.token_ttl,
        }

    def auth(self, **values: Any) -> Auth:
        """A login's Auth carrying these token settings (tokenutil's PopulateTokenAuth)."""
        return Auth(
            policies=list(self.token_policies),
            ttl=self.token_ttl,
            max_ttl=self.token_max_ttl,
            explicit_max_ttl=self.token_explicit_max_ttl,
            period=self.token_period,
            num_uses=self.token_num_uses,
            renewable=True,
            token_type=self.token_type,
            no_default_policy=self.token_no_default_policy,
            bound_cidrs=list(self.token_bound_cidrs),
            **values,
        )


def upgrade_legacy(
    data: FieldData, old: str, new: str, params: Any, convert: Callable[[Any], Any] | None = None
) -> None:
    """tokenutil.UpgradeValue: a deprecated field (`ttl`, `policies`...) given without its token_*
    successor sets both (through `convert`); given with it, it mirrors the successor; the successor
    alone clears the deprecated one."""
    new_value, new_given = data.get_ok(new)
    old_value, old_given = data.get_ok(old)
    if not new_given:
        if old_given:
            value = convert(old_value) if convert is not None else old_value
            setattr(params, old, value)
            setattr(params, new, value)
        return
    setattr(params, old, getattr(params, new) if old_given else type(new_value)())
