"""The names a certificate will carry, from the request (or a CSR) and checked against the role: Vault's
error messages for each kind of name a role refuses."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from engine.backends.pki.names import first_disallowed, is_hostname
from engine.backends.pki.roles import Role
from engine.errors import BadRequest

CN_REQUIRED = (
    'the common_name field is required, or must be provided in a CSR with "use_csr_common_name" set to true, '
    'unless "require_cn" is set to false'
)


@dataclass(frozen=True)
class Names:
    common_name: str
    dns_names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()


def _checked_ips(ip_sans: list[str]) -> list[str]:
    checked = []
    for ip in ip_sans:
        try:
            checked.append(str(ipaddress.ip_address(ip)))
        except ValueError:
            raise BadRequest(f'the value "{ip}" is not a valid IP address') from None
    return checked


def collect_names(common_name: str, alt_names: list[str], ip_sans: list[str], exclude_cn_from_sans: bool) -> Names:
    """The names as asked for, with no role to check them (a CA's own certificate)."""
    emails = [n for n in alt_names if "@" in n]
    dns = [n for n in alt_names if "@" not in n]
    if common_name and not exclude_cn_from_sans:
        if "@" in common_name and common_name not in emails:
            emails.insert(0, common_name)
        elif is_hostname(common_name.removeprefix("*.")) and common_name not in dns:
            dns.insert(0, common_name)
    return Names(common_name, tuple(dns), tuple(emails), tuple(_checked_ips(ip_sans)))


def role_names(
    role: Role, common_name: str, alt_names: list[str], ip_sans: list[str], exclude_cn_from_sans: bool
) -> Names:
    """The names for a certificate under `role`; 400 with Vault's message for the first one refused."""
    if not common_name and role.require_cn:
        raise BadRequest(CN_REQUIRED)
    if common_name and (bad := first_disallowed(role, [common_name])) is not None:
        raise BadRequest(f"common name {bad} not allowed by this role")
    names = collect_names(common_name, alt_names, ip_sans, exclude_cn_from_sans)
    if (bad := first_disallowed(role, [n for n in names.dns_names if n != common_name])) is not None:
        raise BadRequest(f"subject alternate name {bad} not allowed by this role")
    if (bad := first_disallowed(role, [n for n in names.emails if n != common_name])) is not None:
        raise BadRequest(f"email address {bad} not allowed by this role")
    if names.ip_addresses and not role.allow_ip_sans:
        raise BadRequest(
            "IP Subject Alternative Names are not allowed in this role, but was provided "
            + ", ".join(names.ip_addresses)
        )
    return names
