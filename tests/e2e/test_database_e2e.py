"""The database engine end to end: the daemon as a real process, the real hvac client, a real PostgreSQL
cluster. A service's whole life (approle login, credentials, use, renew, revoke), expiry with no request
to the daemon at all, revoke-prefix on the mount, static roles and root rotation. Every step is proven
by logging in to PostgreSQL as the generated user."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import hvac
import pytest

from tests.e2e.conftest import shamir_config
from tests.e2e.daemon import Daemon
from tests.postgres import PostgresCluster

CREATE = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
GRANT = 'GRANT SELECT ON inventory TO "{{name}}";'
SERVICE_POLICY = """
path "database/creds/app" { capabilities = ["read"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
"""
# How asyncpg reports a session the server ended, depending on when it notices.
SESSION_GONE = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, ConnectionError)
POLL_LIMIT = 30.0  # seconds: a bound on waiting, never an expectation of how long it takes


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresCluster) -> Iterator[tuple[Daemon, str]]:
    workdir: Path = tmp_path_factory.mktemp("database")
    server = Daemon(workdir=workdir, config=shamir_config(workdir)).start()
    init = server.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})[1]
    server.call("PUT", "sys/unseal", {"key": init["keys"][0]})
    root = hvac.Client(url=server.address, token=init["root_token"])
    root.sys.enable_secrets_engine(backend_type="database", path="database")
    run(_admin_execute(postgres, "CREATE TABLE IF NOT EXISTS inventory (item text); "
                                 "INSERT INTO inventory VALUES ('bolts')"))
    root.secrets.database.configure(
        name="pg", plugin_name="postgresql-database-plugin", allowed_roles=["*"],
        connection_url=postgres.templated_url, username=postgres.superuser, password=postgres.password,
    )
    yield server, init["root_token"]
    server.kill()


@pytest.fixture
def root(daemon: tuple[Daemon, str]) -> hvac.Client:
    server, token = daemon
    return hvac.Client(url=server.address, token=token)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _admin_execute(postgres: PostgresCluster, sql: str) -> None:
    conn = await asyncpg.connect(postgres.dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _admin_fetchval(postgres: PostgresCluster, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(postgres.dsn, timeout=10)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def _read_inventory(postgres: PostgresCluster, user: str, password: str) -> str | None:
    """What the user reads from the inventory table, or None when PostgreSQL refuses the login or the read
    (a revocation under way has taken the grant away before dropping the role). No test reads while a
    revocation ends the user's sessions: asyncpg fails such a read in several ways, not all of them named."""
    try:
        conn = await asyncpg.connect(postgres.dsn_for(user, password), timeout=10)
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        return None
    try:
        item: str = await conn.fetchval("SELECT item FROM inventory LIMIT 1")
        return item
    except asyncpg.InsufficientPrivilegeError:
        return None
    finally:
        await conn.close()


def logs_in(postgres: PostgresCluster, user: str, password: str) -> bool:
    return run(_read_inventory(postgres, user, password)) == "bolts"


def valid_until(postgres: PostgresCluster, user: str) -> datetime:
    found: datetime = run(_admin_fetchval(postgres, "SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1", user))
    return found


def poll(condition: Any, what: str) -> None:
    deadline = time.monotonic() + POLL_LIMIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {POLL_LIMIT}s: {what}")
        time.sleep(0.2)  # poll


class OpenSession:
    """A session as the generated user kept open across calls to the daemon."""

    def __init__(self, postgres: PostgresCluster, user: str, password: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(asyncpg.connect(postgres.dsn_for(user, password), timeout=10))

    def query(self) -> Any:
        return self.loop.run_until_complete(self.conn.fetchval("SELECT item FROM inventory LIMIT 1"))

    def close(self) -> None:
        self.conn.terminate()
        self.loop.close()


def test_a_service_whole_life(daemon: tuple[Daemon, str], root: hvac.Client, postgres: PostgresCluster) -> None:
    server, _ = daemon
    root.secrets.database.create_role(
        name="app", db_name="pg", creation_statements=[CREATE + GRANT], default_ttl="1h", max_ttl="2h"
    )
    root.sys.create_or_update_policy("db-app", SERVICE_POLICY)
    root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle("svc", token_policies=["db-app"], token_ttl="10m")
    role_id = root.auth.approle.read_role_id("svc")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("svc")["data"]["secret_id"]

    service = hvac.Client(url=server.address)
    service.auth.approle.login(role_id=role_id, secret_id=secret_id)
    issued = service.secrets.database.generate_credentials(name="app")
    user, password = issued["data"]["username"], issued["data"]["password"]
    assert issued["lease_duration"] == 3600 and issued["renewable"] is True
    assert user.startswith("v-approle-app-")
    assert logs_in(postgres, user, password)
    first_expiry = valid_until(postgres, user)

    session = OpenSession(postgres, user, password)
    try:
        assert session.query() == "bolts"
        renewed = service.sys.renew_lease(lease_id=issued["lease_id"], increment=5400)
        assert renewed["lease_duration"] == 5400
        assert valid_until(postgres, user) > first_expiry

        service.sys.revoke_lease(lease_id=issued["lease_id"])
        assert not logs_in(postgres, user, password)
        with pytest.raises(SESSION_GONE):
            session.query()
    finally:
        session.close()
    with pytest.raises(hvac.exceptions.Forbidden):
        service.secrets.database.read_connection(name="pg")
    assert password not in server.log()


def test_credentials_stop_working_at_ttl_without_any_request(root: hvac.Client, postgres: PostgresCluster) -> None:
    root.secrets.database.create_role(name="brief", db_name="pg", creation_statements=[CREATE + GRANT],
                                      default_ttl="2s")
    issued = root.secrets.database.generate_credentials(name="brief")
    user, password = issued["data"]["username"], issued["data"]["password"]
    assert logs_in(postgres, user, password)
    # From here on only PostgreSQL is asked: the daemon's expiration manager drops the user by itself. The
    # test waits for the role to be gone rather than reading meanwhile (see _read_inventory).
    poll(lambda: not run(_admin_fetchval(postgres, "SELECT exists(SELECT 1 FROM pg_roles WHERE rolname = $1)",
                                         user)), "the expired user is dropped")
    assert not logs_in(postgres, user, password)


def test_revoke_prefix_on_the_mount_revokes_every_credential(root: hvac.Client, postgres: PostgresCluster) -> None:
    root.secrets.database.create_role(name="batch", db_name="pg", creation_statements=[CREATE + GRANT])
    issued = [root.secrets.database.generate_credentials(name="batch")["data"] for _ in range(3)]
    assert all(logs_in(postgres, c["username"], c["password"]) for c in issued)
    root.sys.revoke_prefix(prefix="database/")
    assert not any(logs_in(postgres, c["username"], c["password"]) for c in issued)


def test_static_role_rotates_on_schedule(root: hvac.Client, postgres: PostgresCluster) -> None:
    run(_admin_execute(postgres, "DROP ROLE IF EXISTS reporting; "
                                 "CREATE ROLE reporting WITH LOGIN PASSWORD 'Reporting-initial-1'; "
                                 "GRANT SELECT ON inventory TO reporting"))
    root.secrets.database.create_static_role(name="reports", db_name="pg", username="reporting",
                                             rotation_statements=[], rotation_period=5)
    creds = root.secrets.database.get_static_credentials(name="reports")["data"]
    assert creds["username"] == "reporting" and creds["rotation_period"] == 5 and 0 <= creds["ttl"] <= 5
    assert logs_in(postgres, "reporting", creds["password"])
    assert not logs_in(postgres, "reporting", "Reporting-initial-1")
    # The schedule alone changes it: the password handed out stops working, the new one works.
    poll(lambda: not logs_in(postgres, "reporting", creds["password"]), "the scheduled rotation")
    rotated = root.secrets.database.get_static_credentials(name="reports")["data"]
    assert rotated["password"] != creds["password"] and logs_in(postgres, "reporting", rotated["password"])
    root.secrets.database.rotate_static_role_credentials(name="reports")
    root.secrets.database.delete_static_role(name="reports")


def test_rotate_root_and_config_read(root: hvac.Client, postgres: PostgresCluster) -> None:
    run(_admin_execute(postgres, "DROP ROLE IF EXISTS engine_root; "
                                 "CREATE ROLE engine_root WITH LOGIN SUPERUSER PASSWORD 'Engine-root-initial-1'"))
    root.secrets.database.configure(
        name="rotated", plugin_name="postgresql-database-plugin", allowed_roles=["rotated-app"],
        connection_url=postgres.templated_url, username="engine_root", password="Engine-root-initial-1",
    )
    root.secrets.database.rotate_root_credentials(name="rotated")
    assert not logs_in(postgres, "engine_root", "Engine-root-initial-1")
    shown = root.secrets.database.read_connection(name="rotated")["data"]
    assert shown["connection_details"] == {"connection_url": postgres.templated_url, "username": "engine_root"}
    assert shown["allowed_roles"] == ["rotated-app"] and shown["plugin_name"] == "postgresql-database-plugin"
    assert "Engine-root-initial-1" not in json.dumps(shown)
    root.secrets.database.create_role(name="rotated-app", db_name="rotated", creation_statements=[CREATE + GRANT])
    issued = root.secrets.database.generate_credentials(name="rotated-app")["data"]
    assert logs_in(postgres, issued["username"], issued["password"])
    assert set(root.secrets.database.list_connections()["data"]["keys"]) == {"pg", "rotated"}
