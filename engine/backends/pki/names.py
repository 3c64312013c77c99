"""Which names a role lets a certificate carry: Vault's validateNames (builtin/logical/pki/cert_util.go),
for the common name, DNS and e-mail subject alternative names."""

from __future__ import annotations

import re

from engine.backends.pki.roles import Role

# Vault's hostnameRegex: labels of letters, digits and inner hyphens, an optional trailing dot.
_HOSTNAME = re.compile(
    r"^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])\.?$"
)
_LOCAL = ("localhost", "localdomain")


def is_hostname(name: str) -> bool:
    return bool(_HOSTNAME.match(name))


def _glob(pattern: str, name: str) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.lower().split("*"))
    return re.fullmatch(regex, name.lower()) is not None


def _in_allowed_domains(role: Role, name: str, domain_part: str, is_wildcard: bool, reduced: str) -> bool:
    for domain in role.allowed_domains:
        if not domain:
            continue
        lowered = domain.lower()
        if role.allow_bare_domains and lowered in (name.lower(), domain_part.lower()):
            return True
        if role.allow_subdomains and (
            reduced.lower().endswith("." + lowered) or (is_wildcard and reduced.lower() == lowered)
        ):
            return True
        if role.allow_glob_domains and "*" in domain and _glob(domain, name):
            return True
    return False


def _local(role: Role, reduced: str, is_wildcard: bool) -> bool:
    if reduced in _LOCAL:
        return True
    return role.allow_subdomains and any(
        reduced.endswith("." + local) or (is_wildcard and reduced == local) for local in _LOCAL
    )


def first_disallowed(role: Role, names: list[str]) -> str | None:
    """The first of `names` the role does not allow, or None when all are allowed. The checks run in
    Vault's order: wildcards, host name syntax, allow_any_name, localhost, then allowed_domains."""
    for name in names:
        is_email = "@" in name
        if is_email and name.count("@") != 1:
            return name
        domain_part = name.split("@")[1] if is_email else name
        is_wildcard = domain_part.startswith("*.")
        reduced = domain_part[2:] if is_wildcard else domain_part
        if is_wildcard and (not role.allow_wildcard_certificates or is_email):
            return name
        if role.enforce_hostnames and reduced and not is_hostname(reduced):
            return name
        if role.allow_any_name:
            continue
        if role.allow_localhost and _local(role, reduced, is_wildcard):
            continue
        if _in_allowed_domains(role, name, domain_part, is_wildcard, reduced):
            continue
        return name
    return None
