"""The `storage: postgresql:` block: its keys, the URL from the environment, and the password kept out of
reprs and the start-up description."""

from __future__ import annotations

from typing import Any

import pytest

from sealer.config import ConfigError, PostgresStorageConfig, parse_config

URL = "postgresql://sealer:pg-Secret-in-url@db.example.com:5432/sealer"


def config_with(block: dict[str, Any], environ: dict[str, str] | None = None) -> Any:
    return parse_config({"storage": {"postgresql": block}}, environ=environ or {})


def test_every_key_parses() -> None:
    config = config_with({"connection_url": URL, "table": "vault_kv", "max_connections": 16})
    assert config.storage == PostgresStorageConfig(connection_url=URL, table="vault_kv", max_connections=16)


def test_defaults() -> None:
    storage = config_with({"connection_url": URL}).storage
    assert (storage.table, storage.max_connections) == ("sealer_store", 8)


def test_the_url_may_come_from_the_environment() -> None:
    storage = config_with({}, {"SEALER_PG_CONNECTION_URL": URL}).storage
    assert storage.connection_url == URL


def test_the_file_wins_over_the_environment() -> None:
    other = "postgres://x:y@elsewhere/db"
    assert config_with({"connection_url": URL}, {"SEALER_PG_CONNECTION_URL": other}).storage.connection_url == URL


@pytest.mark.parametrize(
    ("block", "path", "message"),
    [
        ({}, "storage.postgresql.connection_url", "SEALER_PG_CONNECTION_URL"),
        ({"connection_url": "mysql://u:p@h/db"}, "storage.postgresql.connection_url", "postgres://"),
        ({"connection_url": URL, "table": "Bad-Name"}, "storage.postgresql.table", "lower-case"),
        ({"connection_url": URL, "max_connections": 0}, "storage.postgresql.max_connections", "at least 1"),
        ({"connection_url": URL, "ha_enabled": "yes"}, "storage.postgresql", "ha_enabled"),
    ],
)
def test_mistakes_name_the_key(block: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_with(block)
    text = str(raised.value)
    assert path in text and message in text
    assert "pg-Secret-in-url" not in text


def test_the_password_stays_out_of_repr_and_description() -> None:
    config = config_with({"connection_url": URL})
    assert "pg-Secret-in-url" not in repr(config)
    described = config.describe()["storage"]
    assert described == {"type": "postgresql", "table": "sealer_store", "max_connections": 8}
