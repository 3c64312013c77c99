"""The one-off figures: unseal latency, start-up with a large store, mass expiry, KV reads as data grows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import seeding, wrk
from bench.processes import Ceiling, Daemon, SoftHsm, call, must, wait_until
from bench.report import CEILING, DAEMON, Row

KV_SIZES = (1_000, 100_000, 1_000_000)
STARTUP_LEASES = 100_000
STARTUP_KV = 100_000
EXPIRING_LEASES = 10_000

Say = Callable[[str], None]


def _initialised(workdir: Path, hsm: SoftHsm) -> Daemon:
    """A pkcs11-sealed daemon that has initialised its store, then stopped."""
    daemon = Daemon(workdir, hsm)
    daemon.start()
    daemon.wait_unsealed()
    daemon.stop()
    return daemon


def _in_process(daemon: Daemon) -> Any:
    assert daemon.hsm is not None
    return seeding.engine(daemon.workdir / "sealer.yaml", daemon.hsm.conf)


def kv_growth(
    workdir: Path, hsm: SoftHsm, ceiling: Ceiling, seconds: float, say: Say
) -> tuple[dict[str, Any], list[Row]]:
    """Unseal latency (pkcs11, in-process), start-up time and RSS with 100k leases + 100k KV entries,
    and KV v1 read throughput over 1k, 100k and 1M keys (random keys, concurrency 16)."""
    daemon = _initialised(workdir / "growth", hsm)
    root = daemon.root_token()
    figures: dict[str, Any] = {}
    rows: list[Row] = []
    try:
        _grow_and_read(daemon, root, ceiling, seconds, say, figures, rows)
    finally:
        daemon.stop()
    figures["db_mb_1m_keys"] = round(daemon.db_path.stat().st_size / 2**20, 1)
    return figures, rows


def _grow_and_read(
    daemon: Daemon, root: str, ceiling: Ceiling, seconds: float, say: Say, figures: dict[str, Any], rows: list[Row]
) -> None:
    written = 0
    for size in KV_SIZES:
        seed_start = time.perf_counter()

        async def grow(start: int = written, target: int = size) -> float:
            async with _in_process(daemon) as engine:
                if target >= STARTUP_LEASES and "startup_100k_s" not in figures:
                    await seeding.write_leases(engine, root, STARTUP_LEASES)
                await seeding.write_kv_v1(engine.core, "secret/", start, target)
                return engine.unseal_seconds

        unseal = asyncio.run(grow())
        # In-process: the seal opens the token, unwraps the root key, the core loads (leases included).
        figures.setdefault("unseal_pkcs11_ms", round(unseal * 1000, 1))
        if size == KV_SIZES[-1]:
            figures["unseal_pkcs11_ms_100k_leases"] = round(unseal * 1000, 1)
        say(f"  seeded {size:,} KV entries in {time.perf_counter() - seed_start:.1f} s")
        written = size
        started = time.perf_counter()
        daemon.start()
        daemon.wait_unsealed()
        if size == STARTUP_KV:
            figures["startup_100k_s"] = round(time.perf_counter() - started, 2)
            assert daemon.process is not None
            figures["startup_100k_rss_mb"] = round(daemon.process.rss_mb(), 1)
            # The daemon answers before its leases are all scheduled (restored in the background, as
            # Vault does): the count reaches what was seeded once the restore is over.
            restored = wait_until(
                lambda: _lease_count(daemon.url, root) >= STARTUP_LEASES, "the lease restore", timeout=120
            )
            figures["startup_100k_restored_s"] = round(figures["startup_100k_s"] + restored, 2)
            figures["startup_100k_leases"] = _lease_count(daemon.url, root)
        load = wrk.Load("GET", "/v1/secret/k-{n}", 16, seconds, token=root, rotate=size)
        scenario = f"kv1_read_{size // 1000}k_keys"
        rows.append(Row.of(scenario, 16, CEILING, wrk.run(ceiling.url, load)))
        rows.append(Row.of(scenario, 16, DAEMON, wrk.run(daemon.url, load)))
        say(f"  {scenario}: {rows[-1].rps:.0f} rps (ceiling {rows[-2].rps:.0f}), errors {rows[-1].errors}")
        daemon.stop()


def _lease_count(url: str, token: str) -> int:
    return int(must(url, "GET", "sys/leases/count?type=all", token=token)["data"]["lease_count"])


def mass_expiry(workdir: Path, hsm: SoftHsm, say: Say) -> dict[str, Any]:
    """10,000 token leases made, then all due at once: the expiration manager's time to revoke them,
    with durable writes (as the daemon does)."""
    daemon = _initialised(workdir / "expiry", hsm)
    root = daemon.root_token()

    async def measure() -> dict[str, Any]:
        async with _in_process(daemon) as engine:
            core = engine.core
            await core.expiration.load()  # the restore a running daemon does in the background
            before = len(core.expiration)
            await seeding.create_tokens(core, root, EXPIRING_LEASES, "1h")
            await engine.storage.flush()
            engine.storage.buffering = False
            start = time.perf_counter()
            handled = await core.expiration.expire_due(core._clock() + timedelta(hours=2))
            seconds = time.perf_counter() - start
            return {"expire_10k_s": round(seconds, 2), "expire_10k_handled": handled,
                    "expire_10k_left": len(core.expiration) - before}

    figures = asyncio.run(measure())
    say(f"  revoked {figures['expire_10k_handled']} leases in {figures['expire_10k_s']} s")
    return figures


def shamir_unseal(workdir: Path, say: Say) -> dict[str, Any]:
    """sys/seal, then sys/unseal with the one key of a 1-of-1 shamir seal until sys/health says unsealed
    (over HTTP, so about a millisecond of it is the round trips); the median of five."""
    daemon = Daemon(workdir / "shamir", None)
    daemon.start()
    timings = []
    try:
        answer = must(daemon.url, "PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
        key, root = answer["keys"][0], answer["root_token"]
        must(daemon.url, "PUT", "sys/unseal", {"key": key})
        daemon.wait_unsealed()
        for _ in range(5):
            must(daemon.url, "PUT", "sys/seal", None, root)
            start = time.perf_counter()
            must(daemon.url, "PUT", "sys/unseal", {"key": key})
            wait_until(lambda: call(daemon.url, "GET", "sys/health")[0] == 200, "the daemon to unseal")
            timings.append(time.perf_counter() - start)
    finally:
        daemon.stop()
    median = sorted(timings)[len(timings) // 2]
    say(f"  shamir unseal (median of 5, over HTTP): {median * 1000:.1f} ms")
    return {"unseal_shamir_ms": round(median * 1000, 1)}
