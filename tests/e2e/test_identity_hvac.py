"""Who may do what, through the real hvac client against a running daemon: tokens, policies, userpass,
approle and leases (issue 3's "done when")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest
from hvac.exceptions import Forbidden, InvalidPath, InvalidRequest

from tests.e2e.conftest import shamir_config
from tests.e2e.daemon import Daemon

APP_POLICY = """
# what the app may touch
path "secret/app/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "secret/app" {
  capabilities = ["list"]
}
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    workdir: Path = tmp_path_factory.mktemp("identity")
    daemon = Daemon(workdir=workdir, config=shamir_config(workdir)).start()
    init = daemon.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})[1]
    daemon.call("PUT", "sys/unseal", {"key": init["keys"][0]})
    root = hvac.Client(url=daemon.address, token=init["root_token"])
    root.sys.create_or_update_policy("app", APP_POLICY)
    root.sys.create_or_update_policy("token-maker", 'path "auth/token/create" { capabilities = ["update"] }')
    root.secrets.kv.v1.create_or_update_secret(path="app/config", secret={"db": "app-db"})
    root.secrets.kv.v1.create_or_update_secret(path="other/config", secret={"db": "other-db"})
    yield daemon, init["root_token"]
    daemon.kill()


@pytest.fixture
def root(daemon: tuple[Daemon, str]) -> hvac.Client:
    server, token = daemon
    return hvac.Client(url=server.address, token=token)


def client_for(root: hvac.Client, token: str) -> hvac.Client:
    return hvac.Client(url=root.url, token=token)


def test_policies_crud_and_builtins(root: hvac.Client) -> None:
    root.sys.create_or_update_policy("temp", 'path "secret/temp/*" { capabilities = ["read"] }')
    assert "temp" in root.sys.list_policies()["data"]["policies"]
    assert {"default", "root", "app"} <= set(root.sys.list_policies()["data"]["policies"])
    assert "secret/temp/*" in root.sys.read_policy("temp")["data"]["rules"]
    root.sys.delete_policy("temp")
    assert "temp" not in root.sys.list_policies()["data"]["policies"]
    with pytest.raises(InvalidRequest):
        root.sys.delete_policy("root")
    with pytest.raises(InvalidRequest):
        root.sys.delete_policy("default")
    with pytest.raises(InvalidRequest):
        root.sys.create_or_update_policy("broken", 'path "x" { capabilities = ["fly"] }')


def test_a_narrow_token_gets_exactly_its_policy(root: hvac.Client) -> None:
    token = root.auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"]
    app = client_for(root, token)
    assert app.secrets.kv.v1.read_secret(path="app/config")["data"] == {"db": "app-db"}
    app.secrets.kv.v1.create_or_update_secret(path="app/new", secret={"a": "b"})
    assert "new" in app.secrets.kv.v1.list_secrets(path="app")["data"]["keys"]
    for forbidden in (
        lambda: app.secrets.kv.v1.read_secret(path="other/config"),
        lambda: app.secrets.kv.v1.create_or_update_secret(path="other/x", secret={"a": "b"}),
        lambda: app.sys.list_policies(),
        lambda: app.sys.enable_secrets_engine("kv", path="mine"),
        lambda: app.auth.token.create(policies=["root"]),
    ):
        with pytest.raises(Forbidden):
            forbidden()


@pytest.mark.parametrize(
    "path",
    [
        "secret/app/../other/config",
        "secret/app/%2e%2e/other/config",
        "secret/app/..%2fother/config",
        "secret//other/config",
        "secret/other/config/",
        "secret/./other/config",
        "secret/app%2f..%2f..%2fsecret/other/config",
        "SECRET/other/config",
        "secret/\u0430pp/config",  # a Cyrillic "a"
        "secret/app/\u2025/other/config",
    ],
)
def test_path_tricks_do_not_widen_a_narrow_policy(daemon: tuple[Daemon, str], root: hvac.Client, path: str) -> None:
    server, _ = daemon
    token = root.auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"]
    status, body = server.call("GET", path, token=token)
    assert status in (400, 403, 404), (path, status, body)
    assert "other-db" not in str(body)


def test_token_tree_renew_and_revoke(root: hvac.Client) -> None:
    parent = root.auth.token.create(policies=["app", "token-maker"], ttl="1h")["auth"]
    parent_client = client_for(root, parent["client_token"])
    child = parent_client.auth.token.create(policies=["app"], ttl="30m")["auth"]
    orphan = root.auth.token.create_orphan(policies=["app"], ttl="30m")["auth"]
    assert parent_client.auth.token.lookup_self()["data"]["policies"] == ["app", "default", "token-maker"]
    renewed = parent_client.auth.token.renew_self(increment="2h")
    assert renewed["auth"]["lease_duration"] > 0
    with pytest.raises(InvalidRequest, match="subset"):
        parent_client.auth.token.create(policies=["root"])

    root.auth.token.revoke(parent["client_token"])
    with pytest.raises(Forbidden):
        client_for(root, child["client_token"]).auth.token.lookup_self()
    assert client_for(root, orphan["client_token"]).auth.token.lookup_self()["data"]["orphan"] is True
    assert root.auth.token.lookup_accessor(orphan["accessor"])["data"]["accessor"] == orphan["accessor"]
    root.auth.token.revoke_accessor(orphan["accessor"])
    with pytest.raises(Forbidden):
        client_for(root, orphan["client_token"]).auth.token.lookup_self()


def test_num_uses_is_enforced(root: hvac.Client) -> None:
    token = root.auth.token.create(policies=["app"], num_uses=2)["auth"]["client_token"]
    app = client_for(root, token)
    app.secrets.kv.v1.read_secret(path="app/config")
    app.secrets.kv.v1.read_secret(path="app/config")
    with pytest.raises(Forbidden):
        app.secrets.kv.v1.read_secret(path="app/config")


def test_userpass_login_and_its_leases(root: hvac.Client) -> None:
    root.sys.enable_auth_method("userpass")
    assert "userpass/" in root.sys.list_auth_methods()["data"]
    root.auth.userpass.create_or_update_user("alice", password="correct horse", policies=["app"])
    user = hvac.Client(url=root.url)
    login = user.auth.userpass.login("alice", "correct horse")
    assert set(login["auth"]["policies"]) == {"app", "default"}
    assert login["auth"]["metadata"]["username"] == "alice"
    assert user.secrets.kv.v1.read_secret(path="app/config")["data"]["db"] == "app-db"
    with pytest.raises(InvalidRequest):
        hvac.Client(url=root.url).auth.userpass.login("alice", "wrong")

    leases = root.sys.list_leases("auth/userpass/login/alice")["data"]["keys"]
    assert len(leases) == 1
    lease = root.sys.read_lease(f"auth/userpass/login/alice/{leases[0]}")["data"]
    assert lease["ttl"] > 0
    root.sys.revoke_prefix("auth/userpass/login/alice")
    with pytest.raises(Forbidden):
        user.secrets.kv.v1.read_secret(path="app/config")


def test_approle_login(root: hvac.Client) -> None:
    root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle("ci", token_policies=["app"], token_ttl="10m")
    role_id = root.auth.approle.read_role_id("ci")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("ci")["data"]["secret_id"]
    login = hvac.Client(url=root.url).auth.approle.login(role_id=role_id, secret_id=secret_id)
    assert "app" in login["auth"]["policies"]
    assert 0 < login["auth"]["lease_duration"] <= 600
    with pytest.raises(InvalidRequest):
        hvac.Client(url=root.url).auth.approle.login(role_id=role_id, secret_id="not-the-secret")


def test_capabilities(daemon: tuple[Daemon, str], root: hvac.Client) -> None:
    server, _ = daemon
    token = root.auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"]
    status, body = server.call("POST", "sys/capabilities-self", {"paths": ["secret/app/x", "secret/other"]},
                               token=token)
    assert status == 200
    assert set(body["secret/app/x"]) == {"create", "read", "update", "delete", "list"}
    assert body["secret/other"] == ["deny"]


def test_unknown_mount_is_invisible_without_permission(root: hvac.Client) -> None:
    token = root.auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"]
    with pytest.raises(Forbidden):
        client_for(root, token).read("nowhere/at/all")
    # hvac turns a 404 into None; the root token is allowed to learn the route does not exist.
    assert root.read("nowhere/at/all") is None


def test_the_daemon_revokes_expired_token_leases_on_its_own(daemon: tuple[Daemon, str], root: hvac.Client) -> None:
    server, _ = daemon
    created = root.auth.token.create(policies=["app"], ttl="2s")["auth"]
    prefix = "auth/token/create"

    def listed() -> set[str]:
        try:
            return set(root.sys.list_leases(prefix)["data"]["keys"])
        except InvalidPath:  # an empty listing is a 404
            return set()

    short_lived = [
        lease for lease in listed() if root.sys.read_lease(f"{prefix}/{lease}")["data"]["ttl"] <= 2
    ]
    assert len(short_lived) == 1, "the new token's lease should be listed"
    # No request touches the token: only the daemon's own expiration task can remove its lease.
    server.wait_until(lambda: short_lived[0] not in listed(), "the expiration manager to revoke the lease")
    with pytest.raises(Forbidden):
        client_for(root, created["client_token"]).auth.token.lookup_self()
