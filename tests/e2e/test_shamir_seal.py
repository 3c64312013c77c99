"""A shamir-sealed daemon driven by the real hvac client: init, unseal, seal, write and read."""

from __future__ import annotations

from pathlib import Path

import hvac
import pytest
from hvac.exceptions import InvalidRequest, VaultDown

from tests.e2e.conftest import shamir_config


@pytest.fixture
def daemon(daemons, tmp_path: Path):
    return daemons(tmp_path, shamir_config(tmp_path)).start()


def test_hvac_init_unseal_write_read_seal(daemon) -> None:
    client = hvac.Client(url=daemon.address)
    assert client.sys.is_initialized() is False
    assert daemon.health_status() == 501

    result = client.sys.initialize(secret_shares=5, secret_threshold=3)
    keys, root_token = result["keys"], result["root_token"]
    assert len(keys) == 5 and len(result["keys_base64"]) == 5
    assert client.sys.is_initialized() is True
    assert client.sys.is_sealed() is True

    first = client.sys.submit_unseal_key(keys[0])
    assert first["sealed"] is True and first["progress"] == 1 and first["t"] == 3 and first["n"] == 5
    assert first["nonce"]
    # base64 shares work as well as hex ones.
    client.sys.submit_unseal_key(result["keys_base64"][3])
    final = client.sys.submit_unseal_key(keys[4])
    assert final["sealed"] is False and final["progress"] == 0
    assert daemon.health_status() == 200

    client.token = root_token
    client.secrets.kv.v1.create_or_update_secret(path="team/app", secret={"user": "app", "pass": "s3cret"})
    assert client.secrets.kv.v1.read_secret(path="team/app")["data"] == {"user": "app", "pass": "s3cret"}
    assert client.secrets.kv.v1.list_secrets(path="team")["data"]["keys"] == ["app"]

    client.sys.seal()
    assert client.sys.is_sealed() is True
    with pytest.raises(VaultDown):
        client.secrets.kv.v1.read_secret(path="team/app")

    # The data survives a seal and a restart, and any 3 of the 5 shares open it.
    daemon.stop()
    daemon.start()
    client.sys.submit_unseal_keys([keys[1], keys[2], keys[3]])
    assert client.secrets.kv.v1.read_secret(path="team/app")["data"]["pass"] == "s3cret"


def test_wrong_shares_reset_progress_and_keep_it_sealed(daemon) -> None:
    client = hvac.Client(url=daemon.address)
    keys = client.sys.initialize(secret_shares=3, secret_threshold=2)["keys"]
    other = bytes(33).hex()  # right length, wrong share
    client.sys.submit_unseal_key(keys[0])
    with pytest.raises(InvalidRequest) as excinfo:
        client.sys.submit_unseal_key(other)
    assert "progress was reset" in str(excinfo.value)
    status = client.sys.read_seal_status()
    assert status["sealed"] is True and status["progress"] == 0


def test_bad_unseal_input_is_refused_without_changing_progress(daemon) -> None:
    keys = daemon.call("PUT", "sys/init", {"secret_shares": 3, "secret_threshold": 3})[1]["keys"]
    assert daemon.call("PUT", "sys/unseal", {"key": keys[0]})[1]["progress"] == 1

    cases = [
        ({"key": keys[0]}, "already provided"),
        ({"key": keys[1][:-4]}, "wrong length"),
        ({"key": "not a share!"}, "hex or base64"),
        ({"key": 12}, "must be a string"),
        ({}, "'key' must be specified"),
    ]
    for body, message in cases:
        status, response = daemon.call("PUT", "sys/unseal", body)
        assert status == 400, body
        assert message in response["errors"][0]
        assert daemon.call("GET", "sys/seal-status")[1]["progress"] == 1

    status, body = daemon.call("PUT", "sys/unseal", {"reset": True})
    assert status == 200 and body["progress"] == 0 and body["nonce"] == ""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"secret_shares": 256, "secret_threshold": 3}, "255"),
        ({"secret_shares": 3, "secret_threshold": 4}, "cannot be larger"),
        ({"secret_shares": 3, "secret_threshold": 1}, "at least 2"),
        ({"secret_shares": 0, "secret_threshold": 0}, "at least 1"),
        ({"secret_shares": "five", "secret_threshold": 3}, "expected an integer"),
        ({"secret_threshold": 3}, "required"),
        ({"recovery_shares": 3, "recovery_threshold": 2}, "not applicable"),
        ({"secret_shares": 3, "secret_threshold": 2, "surprise": 1}, "unknown fields: surprise"),
    ],
)
def test_bad_init_is_refused_and_leaves_it_uninitialised(daemon, body, message) -> None:
    status, response = daemon.call("PUT", "sys/init", body)
    assert status == 400
    assert message in response["errors"][0]
    assert daemon.call("GET", "sys/init")[1] == {"initialized": False}


def test_init_twice_is_refused(daemon) -> None:
    first = daemon.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})[1]
    assert len(bytes.fromhex(first["keys"][0])) == 32  # one share is the key itself, as in Vault
    status, body = daemon.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
    assert status == 400 and "already initialized" in body["errors"][0]
    # The first init's key still unseals: nothing was replaced.
    assert daemon.call("PUT", "sys/unseal", {"key": first["keys"][0]})[1]["sealed"] is False


def test_malformed_json_is_a_clear_400(daemon) -> None:
    status, body = daemon.call("PUT", "sys/init", raw=b"{not json")
    assert status == 400 and body["errors"][0].startswith("failed to parse JSON input")
    status, body = daemon.call("PUT", "sys/init", raw=b"[1, 2]")
    assert status == 400 and "expected a JSON object" in body["errors"][0]
