"""What init writes for the seal: the first wrappings of the root key, the recovery key and break-glass."""

from __future__ import annotations

import logging

from engine.storage.base import BatchOp
from sealer import seal_break_glass as break_glass
from sealer import seal_wrappings as wrappings
from sealer.seal_record import SealRecord, Wrapping
from sealer.seals.base import SealUnavailable
from sealer.seals.tokens import TokenSet

log = logging.getLogger("sealer.seal")


async def wrappings_at_init(record: SealRecord, tokens: TokenSet | None, root_key: bytes, unseal_key: bytes | None,
                            recovery_key: bytes | None) -> tuple[SealRecord, list[BatchOp]]:
    """The new store's wrappings of the root key (under the unseal key, or under every token that
    answers), its recovery key and break-glass: the writes that go into init's final batch."""
    if unseal_key is not None:
        wrapping, put = wrappings.wrap_under_shamir(unseal_key, record, root_key)
        return record.with_wrappings([wrapping]), [put]
    assert tokens is not None and recovery_key is not None
    made: list[Wrapping] = []
    batch: list[BatchOp] = []
    for token in tokens.tokens:
        try:
            if not token.is_open:  # seal.open() found it unusable and noted why
                raise SealUnavailable(tokens.health[token.name].error or "not open")
            wrapping, put = await wrappings.wrap_under_token(token, record, root_key)
        except SealUnavailable as exc:
            tokens.health[token.name].record(str(exc))
            log.warning("init: token %s is not usable now (%s); it gets its wrapping when it answers",
                        token.name, exc)
            continue
        made.append(wrapping)
        batch.append(put)
    if not made:
        raise SealUnavailable("no PKCS#11 token could wrap the root key")
    batch.append(wrappings.recovery_put(record, root_key, recovery_key))
    if record.break_glass:
        batch.append(break_glass.store(record, recovery_key, root_key))
    return record.with_wrappings(made), batch
