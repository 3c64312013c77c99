"""What an operator (with a root token) can do to the seal's keys while unsealed, beyond Vault's API:
see them, rotate a token's key (sealer/seal_rotation.py), abort a rotation, check the tokens now, and
remove the wrapping of a token taken out of the configuration."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from engine.errors import BadRequest
from sealer import seal_report, seal_rotation
from sealer import seal_wrappings as wrappings
from sealer.seal_manager import SealManager, SealUnavailableError
from sealer.seal_record import SealRecord
from sealer.seals.base import SealKeyInvalid, SealUnavailable
from sealer.seals.tokens import TokenSet

log = logging.getLogger("sealer.seal")


def _tokens(manager: SealManager) -> TokenSet:
    tokens = manager.tokens
    if tokens is None:
        raise BadRequest(f"this needs the pkcs11 seal; the seal in force is {manager.seal.type}")
    return tokens


async def describe(manager: SealManager) -> dict[str, Any]:
    async with manager.editing() as edit:
        record = edit.record
    users = _users(record, manager.tokens)
    body: dict[str, Any] = {
        "type": record.type,
        "wrappings": [{**w.describe(), "used_by": users.get(w.id, [])} for w in record.wrappings],
        "change": asdict(record.change) if record.change else None,
    }
    body.update(seal_report.report(record, manager.seal, manager.migrate_from, manager.options,
                                   break_glass_active=False))
    return body


def _users(record: SealRecord, tokens: TokenSet | None) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    if tokens is None:
        return users
    for token in tokens.tokens:
        for candidate in wrappings.candidates(record, tokens, token):
            users.setdefault(candidate.wrapping.id, []).append(token.name)
    return users


async def rewrap(manager: SealManager, request: seal_rotation.RewrapRequest) -> dict[str, Any]:
    tokens = _tokens(manager)
    async with manager.editing() as edit:
        if edit.record.type != "pkcs11":
            raise BadRequest(f"the store is sealed by the {edit.record.type} seal")
        try:
            edit.record, result = await seal_rotation.rewrap(manager.storage, edit.record, tokens, edit.root_key,
                                                             request)
        except SealUnavailable as exc:
            raise SealUnavailableError(str(exc)) from exc
        except SealKeyInvalid as exc:
            raise BadRequest(str(exc)) from None
        except ValueError as exc:  # settings the hsm package refuses (e.g. equal key labels)
            raise BadRequest(str(exc)) from None
    return result


async def rewrap_status(manager: SealManager) -> dict[str, Any]:
    async with manager.editing() as edit:
        record = edit.record
    change = record.change
    if change is None or change.op != "rewrap":
        return {"pending": False}
    return {"pending": True, "token": change.target, "started": change.started,
            "staged": [w.describe() for w in record.staged()]}


async def abort_rewrap(manager: SealManager) -> dict[str, Any]:
    async with manager.editing() as edit:
        change = edit.record.change
        if change is None or change.op != "rewrap":
            raise BadRequest("no HSM key rotation is in progress")
        dropped = [w.id for w in edit.record.staged()]
        edit.record = await wrappings.abandon(manager.storage, edit.record)
    log.warning("HSM key rotation for token %s aborted: dropped staged wrapping(s) %s; the old key stays in force",
                change.target, ", ".join(dropped))
    return {"aborted": True, "token": change.target, "dropped": dropped}


async def reconcile(manager: SealManager) -> dict[str, Any]:
    _tokens(manager)
    record = await manager.reconcile()
    return seal_report.report(record, manager.seal, manager.migrate_from, manager.options, break_glass_active=False)


async def remove_wrapping(manager: SealManager, wrapping_id: str) -> dict[str, Any]:
    async with manager.editing() as edit:
        record = edit.record
        wrapping = next((w for w in record.wrappings if w.id == wrapping_id), None)
        if wrapping is None:
            raise BadRequest(f"no wrapping {wrapping_id!r} (GET sys/sealer/seal lists them)")
        if wrapping.staged:
            raise BadRequest("this wrapping belongs to a change in progress: abort it (DELETE sys/sealer/seal/rewrap)")
        users = _users(record, manager.tokens).get(wrapping.id)
        if users:
            raise BadRequest(f"configured token(s) {', '.join(users)} use this wrapping: take them out of the "
                             "configuration (and restart) first")
        if not [w for w in record.active() if w.id != wrapping.id]:
            raise BadRequest("this is the last wrapping of the root key in force")
        edit.record = await wrappings.remove(manager.storage, record, wrapping)
    log.warning("removed wrapping %s (key '%s' on token '%s') of the root key", wrapping.id, wrapping.key_label,
                wrapping.token_label)
    return {"removed": wrapping.describe()}
