"""Vault's lease tidy: every lease whose token is gone or expired is revoked (forcibly: this is
clean-up after bugs or crashes), and a token's own lease whose token is gone is dropped."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime

from engine.expiration.entry import TOKEN, LeaseEntry
from engine.expiration.links import TokenLink
from engine.expiration.store import LeaseStore

log = logging.getLogger("engine.expiration")

Action = Callable[[LeaseEntry], Awaitable[None]]


async def tidy(
    store: LeaseStore, tokens: TokenLink, now: datetime, *, drop: Action, force_revoke: Action
) -> dict[str, int]:
    log.info("beginning tidy operation on leases")
    valid: dict[str, bool] = {}  # token hash -> alive, so each token is looked up once
    report = Counter(scanned=0, empty_token=0, invalid_token=0, revoked=0)
    for lease_id in await store.ids_under(""):
        entry = await store.get(lease_id)
        if entry is None:
            continue
        report["scanned"] += 1
        if not entry.token_hash:
            if entry.token_type == "batch":
                continue  # an orphan batch token's lease: capped by the token's life already
            report["empty_token"] += 1
        else:
            if entry.token_hash not in valid:
                token = await tokens.find(entry.token_hash)
                expires = token.expire_time() if token is not None else None
                valid[entry.token_hash] = token is not None and (expires is None or expires > now)
            if valid[entry.token_hash]:
                continue
            report["invalid_token"] += 1
        await (drop if entry.kind == TOKEN else force_revoke)(entry)
        report["revoked"] += 1
    log.info("finished tidy operation on leases: %s", dict(report))
    return dict(report)
