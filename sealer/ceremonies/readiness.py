"""The guard every step of a share ceremony passes first: an initialised daemon that is unsealed."""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import BadRequest, Sealed
from sealer.seal_manager import SealManager
from sealer.seal_record import SealRecord


def unsealed_rules(
    manager: SealManager, record: SealRecord | None, discard: Callable[[str], None]
) -> tuple[SealRecord, int, int]:
    """The seal record and the (threshold, share length) of the shares people hold. A sealed daemon
    ends the attempt in progress (through `discard`): its shares were offered to a key now gone."""
    if record is None:
        raise BadRequest("server is not yet initialized")
    if manager.sealed:
        discard("the daemon is sealed")
        raise Sealed()
    _, threshold, length = manager.share_rules(record)
    return record, threshold, length
