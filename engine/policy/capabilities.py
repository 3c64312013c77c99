"""Capabilities: what a policy rule grants on a path (Vault's capability bitmap), and which one each
operation needs."""

from __future__ import annotations

import enum

from engine.request import Op


class Capability(enum.IntFlag):
    NONE = 0
    DENY = enum.auto()
    CREATE = enum.auto()
    READ = enum.auto()
    UPDATE = enum.auto()
    DELETE = enum.auto()
    LIST = enum.auto()
    SUDO = enum.auto()
    PATCH = enum.auto()


BY_NAME: dict[str, Capability] = {
    "deny": Capability.DENY,
    "create": Capability.CREATE,
    "read": Capability.READ,
    "update": Capability.UPDATE,
    "delete": Capability.DELETE,
    "list": Capability.LIST,
    "sudo": Capability.SUDO,
    "patch": Capability.PATCH,
}

# What the root policy shows in sys/capabilities: it holds every capability, on every path.
ROOT = "root"

# The capability each operation needs (Vault's AllowOperation switch).
REQUIRED: dict[Op, Capability] = {
    Op.READ: Capability.READ,
    Op.LIST: Capability.LIST,
    Op.UPDATE: Capability.UPDATE,
    Op.DELETE: Capability.DELETE,
    Op.CREATE: Capability.CREATE,
    Op.PATCH: Capability.PATCH,
}

# Vault's pre-0.5 `policy = "..."` shorthand.
OLD_STYLE: dict[str, Capability] = {
    "deny": Capability.DENY,
    "read": Capability.READ | Capability.LIST,
    "write": Capability.CREATE | Capability.READ | Capability.UPDATE | Capability.DELETE | Capability.LIST,
    "sudo": Capability.CREATE
    | Capability.READ
    | Capability.UPDATE
    | Capability.DELETE
    | Capability.LIST
    | Capability.SUDO,
}


def names(bits: Capability) -> list[str]:
    """The capability names in `bits`, sorted (the order sys/capabilities answers in). A bitmap with
    deny, or with nothing at all, reads as ["deny"], as in Vault."""
    if bits & Capability.DENY or not bits:
        return ["deny"]
    return sorted(name for name, bit in BY_NAME.items() if bits & bit)
