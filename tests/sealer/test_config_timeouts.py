"""The bounds that keep a broken peer from holding the daemon: seal.pkcs11.call_timeout (a hung token),
listener.http_read_timeout (a client that never finishes its body) and listener.http_idle_timeout (one that
never finishes a request at all)."""

from __future__ import annotations

from typing import Any

import pytest

from hsm import Pkcs11Settings
from sealer.config import ConfigError, Pkcs11SealConfig, parse_config
from sealer.seals.factory import seal_setup
from sealer.seals.tokens import TokenSet

PIN = "4711-not-a-real-pin"


def config(listener: dict[str, Any] | None = None, **pkcs11: Any) -> dict[str, Any]:
    block = {"lib": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "sealer", "pin": PIN, **pkcs11}
    data: dict[str, Any] = {"storage": {"memory": {}}, "seal": {"pkcs11": block}}
    if listener is not None:
        data["listener"] = listener
    return data


def test_defaults_are_vaults_listener_timeouts_and_ten_seconds_per_token_call() -> None:
    parsed = parse_config(config(), {})
    assert parsed.listener.http_read_timeout == 30.0
    assert parsed.listener.http_idle_timeout == 300.0
    assert isinstance(parsed.seal, Pkcs11SealConfig)
    assert parsed.seal.call_timeout == 10.0


def test_given_timeouts_reach_the_listener_and_the_token_settings() -> None:
    parsed = parse_config(config({"http_read_timeout": 2.5, "http_idle_timeout": 60}, call_timeout=3), {})
    assert parsed.listener.http_read_timeout == 2.5
    assert parsed.listener.http_idle_timeout == 60.0
    tokens = seal_setup(parsed).active
    assert isinstance(tokens, TokenSet)
    (token,) = tokens.tokens
    assert isinstance(token.settings, Pkcs11Settings)
    assert token.settings.call_timeout == 3.0


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (config(call_timeout=0), "seal.pkcs11.call_timeout: must be a positive number of seconds, got 0"),
        (config(call_timeout="10s"), "seal.pkcs11.call_timeout: expected a number"),
        (config({"http_read_timeout": -1}), "listener.http_read_timeout: must be a positive number of seconds"),
        (config({"http_idle_timeout": 0}), "listener.http_idle_timeout: must be a positive number of seconds"),
    ],
)
def test_a_timeout_that_is_not_a_positive_number_is_refused(data: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, {})
    assert where in str(info.value)
