"""The system backend, mounted at sys/: what the engine serves about itself from behind the barrier.
(sys/init, sys/seal, sys/unseal, sys/health and sys/seal-status work while sealed, so they live in
the daemon, outside the engine.)

It is assembled from sections, one module each (sys_mounts, sys_keys, ...): a section takes the
SystemContext and contributes paths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from engine.backends.sys_audit import AuditSection
from engine.backends.sys_auth import AuthSection
from engine.backends.sys_internal_ui import InternalUiSection
from engine.backends.sys_keys import KeysSection
from engine.backends.sys_leases import LeasesSection
from engine.backends.sys_metrics import MetricsSection
from engine.backends.sys_mounts import MountsSection
from engine.backends.sys_openapi import OpenApiSection
from engine.backends.sys_policy import PolicySection
from engine.backends.sys_quotas import QuotasSection
from engine.backends.sys_remount import RemountSection
from engine.backends.sys_wrapping import WrappingSection
from engine.backends.system_context import BarrierKeys, SystemContext
from engine.framework import Backend, Path, SpecialPaths


class Section(Protocol):
    def paths(self) -> list[Path]: ...


SectionFactory = Callable[[SystemContext], Section]

SECTIONS: list[SectionFactory] = [
    MountsSection,
    AuthSection,
    RemountSection,
    KeysSection,
    LeasesSection,
    PolicySection,
    WrappingSection,
    AuditSection,
    InternalUiSection,
    QuotasSection,
    MetricsSection,
    OpenApiSection,
]

# Vault's root-protected sys paths (sudo required), relative to sys/: its system backend's
# PathsSpecial.Root, no more (sys/mounts/*, sys/policy/* and sys/policies/* need no sudo in Vault).
ROOT_PATHS = (
    "auth/*", "remount", "audit", "audit/*", "raw", "raw/*", "rotate", "config/cors", "config/auditing/*",
    "config/ui/headers/*", "plugins/catalog/*", "revoke-prefix/*", "revoke-force/*", "leases/revoke-prefix/*",
    "leases/revoke-force/*", "leases/lookup/*", "storage/raft/snapshot-auto/config/*", "leases",
    "internal/inspect/*", "seal", "step-down",
)


# Vault's unauthenticated sys paths, of those served here: a wrapping token's holder may look it up
# without using it, and without any other token; the UI mount lookups check the token themselves.
UNAUTHENTICATED_PATHS = ("wrapping/lookup", "internal/ui/mounts", "internal/ui/mounts/*", "internal/specs/openapi")


class SystemBackend(Backend):
    special_paths = SpecialPaths(unauthenticated=UNAUTHENTICATED_PATHS, root=ROOT_PATHS)

    def __init__(self, context: SystemContext, sections: Sequence[SectionFactory] = SECTIONS) -> None:
        self.context = context
        self.paths = [path for make in sections for path in make(context).paths()]


__all__ = ["SECTIONS", "BarrierKeys", "SystemBackend", "SystemContext"]
