"""The daemon's lifespan: storage, seal, HTTP listener and the start-up task, owned in one place and
torn down in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from engine.storage.base import Storage
from engine.storage.memory import MemoryStorage
from engine.storage.postgresql import PostgresSettings, PostgresStorage
from engine.storage.postgresql_ha import PostgresHaLock
from engine.storage.sqlite import SqliteStorage
from sealer import background, bring_up, dev_token
from sealer.config import (
    AutoInitConfig,
    Config,
    DevOptions,
    ListenerConfig,
    MemoryStorageConfig,
    Pkcs11SealConfig,
    PostgresStorageConfig,
    SqliteStorageConfig,
)
from sealer.ha import HaCoordinator
from sealer.http.app import build_app
from sealer.http.read_timeout import HTTP_READ_TIMEOUT
from sealer.seal_manager import SealManager
from sealer.seals.base import Seal
from sealer.seals.factory import seal_setup

log = logging.getLogger("sealer")


@dataclass(frozen=True)
class Running:
    manager: SealManager
    address: str  # the URL clients use, e.g. http://127.0.0.1:8200


def make_seal(config: Config) -> Seal:
    return seal_setup(config).active


def _ha_lock(config: Config, storage: Storage) -> PostgresHaLock | None:
    """The HA lock when several daemons share a PostgreSQL storage with ha_enabled."""
    if not (isinstance(config.storage, PostgresStorageConfig) and config.storage.ha_enabled):
        return None
    assert isinstance(storage, PostgresStorage)
    scheme = "https" if config.listener.tls else "http"
    api_addr = config.api_addr or f"{scheme}://{_url_host(config.listener.host)}:{config.listener.port}"
    return PostgresHaLock(storage, config.storage.ha_table, uuid.uuid4().hex, api_addr, socket.gethostname())


def _init_guard(storage: Storage) -> Callable[[], contextlib.AbstractAsyncContextManager[None]] | None:
    """A storage several daemons share initialises under a lock, so only one of them makes the keys."""
    if isinstance(storage, PostgresStorage):
        return lambda: storage.exclusive("init")
    return None


async def open_storage(config: Config) -> Storage:
    if isinstance(config.storage, SqliteStorageConfig):
        return await SqliteStorage.open(config.storage.path)
    if isinstance(config.storage, PostgresStorageConfig):
        pg = config.storage
        return await PostgresStorage.open(
            PostgresSettings(pg.connection_url, table=pg.table, max_connections=pg.max_connections)
        )
    assert isinstance(config.storage, MemoryStorageConfig)
    return MemoryStorage()


def _tls_context(listener: ListenerConfig) -> ssl.SSLContext | None:
    if not listener.tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(listener.tls_cert_file, listener.tls_key_file)
    return context


@asynccontextmanager
async def running(config: Config, *, dev: DevOptions | None = None) -> AsyncIterator[Running]:
    """Start everything; yields once the listener accepts connections. Unsealing goes on in an owned task."""
    async with AsyncExitStack() as stack:
        storage = await open_storage(config)
        if hasattr(storage, "close"):
            stack.push_async_callback(storage.close)
        seals = seal_setup(config)
        stack.push_async_callback(seals.close)
        seal = seals.active
        ha_lock = _ha_lock(config, storage)
        manager = SealManager(storage, seal, migrate_from=seals.migrate_from, options=seals.options,
                              ha=ha_lock is not None, init_guard=_init_guard(storage))
        ha = None if ha_lock is None else HaCoordinator(manager, ha_lock)
        app = build_app(manager, ha, forward=config.request_forwarding, listener=config.listener)
        app[HTTP_READ_TIMEOUT] = config.listener.http_read_timeout
        # aiohttp's keep-alive timer is also what closes a connection that never completes its headers.
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               keepalive_timeout=config.listener.http_idle_timeout)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        tls = _tls_context(config.listener)
        site = web.TCPSite(runner, config.listener.host, config.listener.port, ssl_context=tls)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else config.listener.port
        scheme = "https" if tls else "http"
        address = f"{scheme}://{_url_host(config.listener.host)}:{port}"
        log.info("listening on %s (seal: %s, storage: %s)", address, seal.type, type(storage).__name__)

        stopping = asyncio.Event()
        tasks = await stack.enter_async_context(asyncio.TaskGroup())
        stack.callback(stopping.set)  # LIFO: tells the start-up task to stop before the group joins
        root_token_id = dev.root_token_id if dev else None
        tasks.create_task(bring_up.run(manager, config.auto_init, stopping, root_token_id=root_token_id))
        tasks.create_task(background.supervise(manager, stopping))
        if ha is not None:
            tasks.create_task(ha.run(stopping))
        yield Running(manager=manager, address=address)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def dev_config(dev: DevOptions, token_dir: str) -> Config:
    return Config(
        listener=ListenerConfig(address=dev.listen_address),
        storage=MemoryStorageConfig(),
        seal=Pkcs11SealConfig(
            lib=dev_token.MODULE_PATH,
            pin=dev_token.DEV_PIN,
            token_label="sealer-dev",
            generate_key=True,
        ),
        auto_init=AutoInitConfig(secret_shares=1, secret_threshold=1, output_file=""),
        log_level="info",
    )


def _configure_logging(level: str) -> None:
    levels = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
              "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR}
    logging.basicConfig(
        level=levels.get(level, logging.INFO),
        format="%(asctime)s [%(levelname)s] %(name)s: %(message)s",
    )
    # aiohttp logs client errors with request details; keep its chatter at warning.
    logging.getLogger("aiohttp").setLevel(logging.WARNING)


async def reopen_audit(manager: SealManager) -> None:
    """SIGHUP: the audit devices reopen their files (log rotation) or reconnect. A failure is logged, not
    raised: the daemon keeps serving, and the next request finds out whether its devices can write."""
    try:
        await manager.core.audit_reopen()
    except Exception as exc:  # any device error: a signal handler has no caller to tell
        log.error("SIGHUP: reopening the audit devices failed: %s", exc)
    else:
        log.info("SIGHUP: audit devices reopened")


async def serve(config: Config, *, dev: DevOptions | None = None,
                on_ready: Callable[[Running], None] | None = None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    reopening: set[asyncio.Task[None]] = set()  # strong references until each reopen is done
    async with running(config, dev=dev) as daemon:

        def on_sighup() -> None:
            task = loop.create_task(reopen_audit(daemon.manager))
            reopening.add(task)
            task.add_done_callback(reopening.discard)

        loop.add_signal_handler(signal.SIGHUP, on_sighup)
        if on_ready:
            on_ready(daemon)
        await stop.wait()
        log.info("shutting down")


def run_server(config: Config | None, *, dev: DevOptions | None = None) -> int:
    if dev is not None:
        with dev_token.create() as token_dir:
            config = dev_config(dev, token_dir)
            _configure_logging(config.log_level)
            asyncio.run(serve(config, dev=dev))
        return 0
    assert config is not None
    _configure_logging(config.log_level)
    asyncio.run(serve(config))
    return 0
