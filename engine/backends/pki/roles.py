"""Roles (role/<name>): what a certificate issued under the role may name and how it is made. Field
names and defaults are Vault's; a write replaces the whole role, as Vault's does."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.backends.pki.subject_attributes import SUBJECT_FIELDS, Subject, subject_attributes
from engine.crypto import x509 as pki_crypto
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType
from engine.storage.base import Storage

PREFIX = "role/"
DEFAULT_KEY_USAGE = ["DigitalSignature", "KeyAgreement", "KeyEncipherment"]
ROLE_KEY_TYPES = (*pki_crypto.KEY_TYPES, "any")

ROLE_FIELDS: dict[str, Field] = {
    "ttl": Field(FieldType.DURATION),
    "max_ttl": Field(FieldType.DURATION),
    "allowed_domains": Field(FieldType.LIST),
    "allow_localhost": Field(FieldType.BOOL, default=True),
    "allow_bare_domains": Field(FieldType.BOOL),
    "allow_subdomains": Field(FieldType.BOOL),
    "allow_glob_domains": Field(FieldType.BOOL),
    "allow_wildcard_certificates": Field(FieldType.BOOL, default=True),
    "allow_any_name": Field(FieldType.BOOL),
    "enforce_hostnames": Field(FieldType.BOOL, default=True),
    "allow_ip_sans": Field(FieldType.BOOL, default=True),
    "server_flag": Field(FieldType.BOOL, default=True),
    "client_flag": Field(FieldType.BOOL, default=True),
    "code_signing_flag": Field(FieldType.BOOL),
    "email_protection_flag": Field(FieldType.BOOL),
    "key_type": Field(FieldType.STRING, default="rsa"),
    "key_bits": Field(FieldType.INT),
    "key_usage": Field(FieldType.LIST, default=DEFAULT_KEY_USAGE),
    "ext_key_usage": Field(FieldType.LIST),
    "use_csr_common_name": Field(FieldType.BOOL, default=True),
    "use_csr_sans": Field(FieldType.BOOL, default=True),
    "require_cn": Field(FieldType.BOOL, default=True),
    "generate_lease": Field(FieldType.BOOL),
    "no_store": Field(FieldType.BOOL),
    **SUBJECT_FIELDS,
}


@dataclass
class Role:
    ttl: int = 0
    max_ttl: int = 0
    allowed_domains: list[str] = field(default_factory=list)
    allow_localhost: bool = True
    allow_bare_domains: bool = False
    allow_subdomains: bool = False
    allow_glob_domains: bool = False
    allow_wildcard_certificates: bool = True
    allow_any_name: bool = False
    enforce_hostnames: bool = True
    allow_ip_sans: bool = True
    server_flag: bool = True
    client_flag: bool = True
    code_signing_flag: bool = False
    email_protection_flag: bool = False
    key_type: str = "rsa"
    key_bits: int = 0
    key_usage: list[str] = field(default_factory=lambda: list(DEFAULT_KEY_USAGE))
    ext_key_usage: list[str] = field(default_factory=list)
    use_csr_common_name: bool = True
    use_csr_sans: bool = True
    require_cn: bool = True
    generate_lease: bool = False
    no_store: bool = False
    country: list[str] = field(default_factory=list)
    province: list[str] = field(default_factory=list)
    locality: list[str] = field(default_factory=list)
    street_address: list[str] = field(default_factory=list)
    postal_code: list[str] = field(default_factory=list)
    organization: list[str] = field(default_factory=list)
    ou: list[str] = field(default_factory=list)

    def subject(self) -> Subject:
        return subject_attributes(lambda name: getattr(self, name))

    def ext_key_usages(self) -> tuple[str, ...]:
        """The flags and the explicit list together, as Vault adds them."""
        flags = [
            ("ServerAuth", self.server_flag),
            ("ClientAuth", self.client_flag),
            ("CodeSigning", self.code_signing_flag),
            ("EmailProtection", self.email_protection_flag),
        ]
        usages = [name for name, on in flags if on]
        return tuple(usages + [u for u in self.ext_key_usage if u not in usages])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _canonical(names: list[str], known: dict[str, Any], what: str) -> list[str]:
    """Vault's usage names, matched without regard to case (Vault accepts "digitalsignature")."""
    by_lower = {name.lower(): name for name in known}
    found = []
    for name in names:
        canonical = by_lower.get(name.strip().lower())
        if canonical is None:
            raise BadRequest(f"unknown {what} {name!r}; valid values: {', '.join(known)}")
        found.append(canonical)
    return found


def role_from_fields(data: FieldData) -> Role:
    """A role from a write, checked: a bad one is refused with 400 and nothing stored."""
    values = {name: data.get(name) for name in ROLE_FIELDS}
    role = Role(**values)
    if role.key_type not in ROLE_KEY_TYPES:
        raise BadRequest(f"unknown key type {role.key_type}")
    if role.key_type != "any":
        try:
            role.key_bits = pki_crypto.checked_bits(role.key_type, role.key_bits)
        except pki_crypto.KeySpecError as exc:
            raise BadRequest(str(exc)) from None
    if role.max_ttl and role.ttl > role.max_ttl:
        raise BadRequest('"ttl" value must be less than "max_ttl" value')
    role.key_usage = _canonical(role.key_usage, pki_crypto.KEY_USAGES, "key usage")
    role.subject()  # checks the country codes
    role.ext_key_usage = _canonical(role.ext_key_usage, pki_crypto.EXT_KEY_USAGES, "extended key usage")
    return role


async def load_role(storage: Storage, name: str) -> Role | None:
    raw = await storage.get(PREFIX + name)
    return None if raw is None else Role(**json.loads(raw))


async def require_role(storage: Storage, name: str) -> Role:
    role = await load_role(storage, name)
    if role is None:
        raise BadRequest(f"unknown role: {name}")
    return role


async def save_role(storage: Storage, name: str, role: Role) -> None:
    await storage.put(PREFIX + name, json.dumps(role.to_json()).encode())
