"""What the approle path groups share: the mount, the clock, the lockout and one lock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from engine.backends.lockout import Lockout
from engine.mounts import MountEntry
from engine.tokens import Clock

# Vault's framework.GenericNameRegex, for role names.
NAME = r"\w(?:[\w.-]*\w)?"
ROLE = rf"role/(?P<role_name>{NAME})"


@dataclass
class ApproleContext:
    mount: MountEntry
    clock: Clock
    lockout: Lockout
    # Serialises read-modify-write of roles and secret IDs (role-id index, use counts).
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def now(self) -> float:
        return self.clock().timestamp()
