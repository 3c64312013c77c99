"""The daemon's ceremonies, as one object the HTTP layer keeps: one attempt of each kind at a time."""

from __future__ import annotations

from sealer.ceremonies.generate_root import GenerateRoot
from sealer.ceremonies.rekey import Rekey, Target
from sealer.seal_manager import SealManager


class Ceremonies:
    """The daemon's ceremonies, one attempt of each kind at a time (as in Vault, a rekey and a root
    generation may run side by side)."""

    def __init__(self, manager: SealManager) -> None:
        self.manager = manager
        self.rekey = Rekey(manager, Target.BARRIER)
        self.rekey_recovery = Rekey(manager, Target.RECOVERY)
        self.generate_root = GenerateRoot(manager)

    def rekey_for(self, target: Target) -> Rekey:
        return self.rekey if target is Target.BARRIER else self.rekey_recovery

    async def discard_all(self, reason: str) -> None:
        await self.rekey.discard(reason)
        await self.rekey_recovery.discard(reason)
        await self.generate_root.discard(reason)

    async def discard_on_seal(self) -> None:
        """Run for the daemon's lifetime: every seal ends the attempts in progress. A pending rekey
        verification is dropped with them, so the current shares stay the valid ones, as in Vault."""
        while True:
            await self.manager.unsealed_event.wait()
            await self.manager.sealed_event.wait()
            await self.discard_all("the daemon was sealed")


