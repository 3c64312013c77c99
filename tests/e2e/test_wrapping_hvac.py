"""Response wrapping and the cubbyhole against a running daemon, through the real hvac client and raw
HTTP: X-Vault-Wrap-TTL on reads, logins and secret-ID generation, sys/wrapping/wrap, unwrap (once),
lookup (anonymous), rewrap, and per-token cubbyholes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest
from hvac.exceptions import Forbidden, InvalidRequest

from tests.e2e.conftest import shamir_config
from tests.e2e.daemon import Daemon

INVALID = "wrapping token is not valid or does not exist"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    workdir: Path = tmp_path_factory.mktemp("wrapping")
    daemon = Daemon(workdir=workdir, config=shamir_config(workdir)).start()
    init = daemon.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})[1]
    daemon.call("PUT", "sys/unseal", {"key": init["keys"][0]})
    root = hvac.Client(url=daemon.address, token=init["root_token"])
    root.secrets.kv.v1.create_or_update_secret(path="app/db", secret={"password": "db-pass"})
    yield daemon, init["root_token"]
    daemon.kill()


@pytest.fixture
def root(daemon: tuple[Daemon, str]) -> hvac.Client:
    server, token = daemon
    return hvac.Client(url=server.address, token=token)


def as_token(root: hvac.Client, token: str | None) -> hvac.Client:
    return hvac.Client(url=root.url, token=token)


def wrap_info(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["data"] is None and answer["auth"] is None
    info = answer["wrap_info"]
    assert info["token"].startswith("hvs.")
    return dict(info)


def test_a_wrapped_read_unwraps_once(root: hvac.Client) -> None:
    info = wrap_info(root.read("secret/app/db", wrap_ttl="5m"))
    assert info["ttl"] == 300 and info["creation_path"] == "secret/app/db"
    holder = as_token(root, info["token"])
    assert holder.sys.unwrap()["data"] == {"password": "db-pass"}
    with pytest.raises(InvalidRequest, match=INVALID):
        holder.sys.unwrap()
    with pytest.raises(InvalidRequest, match=INVALID):
        root.sys.unwrap(token=info["token"])


def test_wrap_and_third_party_unwrap(root: hvac.Client) -> None:
    info = wrap_info(root.sys.wrap(payload={"handed": "over", "n": 3}, ttl=60))
    assert info["ttl"] == 60 and info["creation_path"] == "sys/wrapping/wrap"
    # Anyone with the default policy may unwrap a token handed to them.
    other = root.auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
    assert as_token(root, other).sys.unwrap(token=info["token"])["data"] == {"handed": "over", "n": 3}
    with pytest.raises(InvalidRequest, match=INVALID):
        as_token(root, other).sys.unwrap(token=info["token"])


def test_a_wrapped_secret_id_logs_in(root: hvac.Client) -> None:
    root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle("web", token_policies=["default"])
    role_id = root.auth.approle.read_role_id("web")["data"]["role_id"]
    info = wrap_info(root.auth.approle.generate_secret_id("web", wrap_ttl="2m"))
    assert info["ttl"] == 120 and info["creation_path"] == "auth/approle/role/web/secret-id"
    secret_id = as_token(root, info["token"]).sys.unwrap()["data"]["secret_id"]
    app = hvac.Client(url=root.url)
    app.auth.approle.login(role_id=role_id, secret_id=secret_id)
    assert app.auth.token.lookup_self()["data"]["policies"] == ["default"]


def test_a_wrapped_userpass_login(root: hvac.Client) -> None:
    root.sys.enable_auth_method("userpass")
    root.auth.userpass.create_or_update_user("bob", password="pw-of-bob", policies=["default"])
    anonymous = hvac.Client(url=root.url)
    answer = anonymous.adapter.login(
        "/v1/auth/userpass/login/bob", use_token=False, json={"password": "pw-of-bob"}, wrap_ttl="90s"
    )
    info = wrap_info(answer)
    assert info["ttl"] == 90 and info["creation_path"] == "auth/userpass/login/bob"
    auth = as_token(root, info["token"]).sys.unwrap()["auth"]
    assert auth["accessor"] == info["wrapped_accessor"]
    me = as_token(root, auth["client_token"]).auth.token.lookup_self()["data"]
    assert me["display_name"] == "userpass-bob"


def test_lookup_is_anonymous_and_rewrap_replaces_the_token(daemon: tuple[Daemon, str], root: hvac.Client) -> None:
    server, _ = daemon
    info = wrap_info(root.read("secret/app/db", wrap_ttl=600))
    status, body = server.call("POST", "sys/wrapping/lookup", {"token": info["token"]})
    assert status == 200
    assert body["data"]["creation_ttl"] == 600 and body["data"]["creation_path"] == "secret/app/db"
    assert body["data"]["creation_time"] == info["creation_time"]
    status, body = server.call("POST", "sys/wrapping/rewrap", {"token": info["token"]}, token=root.token)
    assert status == 200
    new = body["wrap_info"]
    assert new["token"] != info["token"] and new["ttl"] == 600 and new["creation_path"] == "secret/app/db"
    status, body = server.call("POST", "sys/wrapping/lookup", {"token": info["token"]})
    assert (status, body) == (400, {"errors": [INVALID]})
    assert root.sys.unwrap(token=new["token"])["data"] == {"password": "db-pass"}


def test_the_wrap_ttl_header_over_raw_http(daemon: tuple[Daemon, str], root: hvac.Client) -> None:
    server, token = daemon
    status, body = server.call("GET", "secret/app/db", token=token, headers={"X-Vault-Wrap-TTL": "5m"})
    assert status == 200 and body["data"] is None and body["wrap_info"]["ttl"] == 300
    assert set(body["wrap_info"]) == {"token", "accessor", "ttl", "creation_time", "creation_path"}
    status, body = server.call("GET", "secret/app/db", token=token, headers={"X-Vault-Wrap-TTL": "45"})
    assert status == 200 and body["wrap_info"]["ttl"] == 45
    for bad, message in (
        ("soon", 'error parsing X-Vault-Wrap-TTL header: time: invalid duration "soon"'),
        ("-5m", "error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative"),
    ):
        status, body = server.call("GET", "secret/app/db", token=token, headers={"X-Vault-Wrap-TTL": bad})
        assert (status, body) == (400, {"errors": [message]})
    status, body = server.call("POST", "sys/wrapping/wrap", {"a": "b"}, token=token)
    assert (status, body) == (400, {"errors": ["endpoint requires response wrapping to be used"]})


def test_policy_wrapping_ttl_bounds(root: hvac.Client) -> None:
    root.sys.create_or_update_policy(
        "wrapped-db",
        'path "secret/app/db" { capabilities = ["read"]\n min_wrapping_ttl = "1m"\n max_wrapping_ttl = "5m" }',
    )
    reader = as_token(root, root.auth.token.create(policies=["wrapped-db"], ttl="10m")["auth"]["client_token"])
    for ttl in (None, "30s", "10m"):
        with pytest.raises(Forbidden):
            reader.read("secret/app/db", wrap_ttl=ttl)
    info = wrap_info(reader.read("secret/app/db", wrap_ttl="2m"))
    assert root.sys.unwrap(token=info["token"])["data"] == {"password": "db-pass"}


def test_cubbyholes_are_private_to_their_token(daemon: tuple[Daemon, str], root: hvac.Client) -> None:
    alice = as_token(root, root.auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"])
    bob = as_token(root, root.auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"])
    alice.write_data("cubbyhole/note", data={"for": "alice only"})
    assert alice.read("cubbyhole/note")["data"] == {"for": "alice only"}
    assert alice.list("cubbyhole")["data"]["keys"] == ["note"]
    assert bob.read("cubbyhole/note") is None and root.read("cubbyhole/note") is None
    assert root.sys.list_mounted_secrets_engines()["cubbyhole/"]["type"] == "cubbyhole"
    server, token = daemon
    status, body = server.call("DELETE", "sys/mounts/cubbyhole", token=token)
    assert (status, body) == (400, {"errors": ['cannot unmount "cubbyhole/"']})
    # Revoked with its token: a new token never sees it (nor could the old one).
    alice.auth.token.revoke_self()
    with pytest.raises(Forbidden):
        alice.read("cubbyhole/note")
