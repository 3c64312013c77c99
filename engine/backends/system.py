"""The system backend, mounted at sys/: what the engine serves about itself from behind the barrier.
(sys/init, sys/seal, sys/unseal, sys/health and sys/seal-status work while sealed, so they live in
the daemon, outside the engine.)

It is assembled from sections, one module each (sys_mounts, sys_keys, ...): a section takes the
SystemContext and contributes paths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from engine.backends.sys_keys import KeysSection
from engine.backends.sys_mounts import MountsSection
from engine.backends.system_context import BarrierKeys, SystemContext
from engine.framework import Backend, Path, SpecialPaths


class Section(Protocol):
    def paths(self) -> list[Path]: ...


SectionFactory = Callable[[SystemContext], Section]

SECTIONS: list[SectionFactory] = [MountsSection, KeysSection]

# Vault's root-protected sys paths (sudo required), relative to sys/.
ROOT_PATHS = (
    "audit", "audit/*", "auth/*", "mounts/*", "policy/*", "policies/*", "raw/*", "rotate", "remount",
    "revoke-prefix/*", "revoke-force/*", "leases/revoke-prefix/*", "leases/revoke-force/*",
    "leases/lookup/*", "seal", "step-down", "rekey/*", "generate-root/*", "key-status",
    "internal/counters/*", "storage/raft/*", "config/*",
)


class SystemBackend(Backend):
    special_paths = SpecialPaths(root=ROOT_PATHS)

    def __init__(self, context: SystemContext, sections: Sequence[SectionFactory] = SECTIONS) -> None:
        self.context = context
        self.paths = [path for make in sections for path in make(context).paths()]


__all__ = ["SECTIONS", "BarrierKeys", "SystemBackend", "SystemContext"]
