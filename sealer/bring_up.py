"""What the daemon does on its own after it starts listening: unseal through the token (retrying with
backoff while the token is unreachable), or initialise an empty store when `auto_init` asks for it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path

from engine.errors import EngineError
from sealer.config import AutoInitConfig
from sealer.seal_manager import AlreadyInitialized, InitRequest, InitResult, SealManager, SealUnavailableError
from sealer.seals.base import SealUnavailable

log = logging.getLogger("sealer")

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0


async def run(manager: SealManager, auto_init: AutoInitConfig | None, stopping: asyncio.Event,
              *, root_token_id: str | None = None) -> None:
    delay = FIRST_RETRY_SECONDS
    while not stopping.is_set():
        try:
            await _step(manager, auto_init, root_token_id)
            return
        except (SealUnavailable, SealUnavailableError) as exc:
            manager.seal_error = str(exc)
            log.warning("staying sealed: %s (retrying in %.0fs)", exc, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=delay)
        delay = min(delay * 2, MAX_RETRY_SECONDS)


async def _step(manager: SealManager, auto_init: AutoInitConfig | None, root_token_id: str | None) -> None:
    if await manager.initialized():
        if manager.seal.auto_unseal:
            await manager.auto_unseal()
        else:
            log.info("sealed: waiting for %s unseal keys (sys/unseal)", (await manager.status())["t"])
        return
    if auto_init is None:
        if manager.seal.auto_unseal:
            await manager.seal.open()  # report a broken token now rather than at init
        log.info("not initialised: waiting for sys/init (sealer operator init)")
        return
    try:
        await _initialise(manager, auto_init, root_token_id)
    except AlreadyInitialized:
        # Another daemon sharing the storage got there first: unseal from what it made.
        log.info("auto_init: the store was initialised by another node meanwhile; unsealing from it")
        await _step(manager, None, root_token_id)


async def _initialise(manager: SealManager, auto_init: AutoInitConfig, root_token_id: str | None) -> None:
    async def deliver(result: InitResult) -> None:
        # Before the daemon reports unsealed: a client that sees it ready finds the file complete.
        _announce(result, auto_init.output_file)
        if auto_init.output_file:
            try:
                _write_private(Path(auto_init.output_file), result)
            except OSError as exc:
                log.error("could not write %s: %s; the root token and shares were printed on stdout once",
                          auto_init.output_file, exc)

    if manager.seal.auto_unseal:
        request = InitRequest(recovery_shares=auto_init.secret_shares, recovery_threshold=auto_init.secret_threshold,
                              root_token_id=root_token_id, deliver=deliver)
    else:
        request = InitRequest(secret_shares=auto_init.secret_shares, secret_threshold=auto_init.secret_threshold,
                              root_token_id=root_token_id, deliver=deliver)
    result = await manager.initialize(request)
    if not manager.seal.auto_unseal:
        # The shares are in our hands only this once: use them so the first start ends unsealed.
        for share in result.keys[: auto_init.secret_threshold]:
            try:
                await manager.submit_share(share.hex(), reset=False)
            except EngineError as exc:
                log.error("could not unseal with the new shares: %s", exc.message)
                return


def _write_private(path: Path, result: InitResult) -> None:
    """Mode 0600 from the start, complete or absent: written beside it, synced, then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        json.dump(result.body(), out, indent=2)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
    log.info("wrote the root token and shares to %s (mode 0600)", path)


def _announce(result: InitResult, output_file: str) -> None:
    """Print the initial secrets once, on stdout (never to the log)."""
    body = result.body()
    lines = ["", "Sealer initialised. Keep these safe: they are shown only once."]
    for number, key in enumerate(body.get("recovery_keys_base64") or [], 1):
        lines.append(f"Recovery Key {number}: {key}")
    for number, key in enumerate(body["keys_base64"], 1):
        lines.append(f"Unseal Key {number}: {key}")
    lines.append(f"Root Token: {result.root_token}")
    if output_file:
        lines.append(f"(also written to {output_file}, mode 0600)")
    lines.append("")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
