"""Every `sealer` command group against one real pkcs11-sealed daemon (module-scoped): login, token, policy,
secrets, auth, kv (v1 and v2), lease, operator keyring, transit. Each test checks both what the command
printed and what the server now holds (read back through the API or another command)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from softhsm import make_token

from tests.e2e.cli_helpers import Cli
from tests.e2e.conftest import pkcs11_config
from tests.e2e.daemon import Daemon, free_port


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, softhsm: Any) -> Iterator[tuple[Daemon, str]]:
    workdir: Path = tmp_path_factory.mktemp("cli")
    token = make_token(softhsm.directory, f"cli-e2e-{workdir.name}", softhsm.pin, softhsm.so_pin)
    server = Daemon(workdir=workdir, config=pkcs11_config(token, workdir), env={"SOFTHSM2_CONF": str(softhsm.conf)})
    server.start(wait_for="unsealed")
    root = json.loads((workdir / "init.json").read_text())["root_token"]
    yield server, root
    server.kill()


@pytest.fixture
def cli(daemon: tuple[Daemon, str], tmp_path: Path) -> Cli:
    server, root = daemon
    return Cli(address=server.address, home=tmp_path, token=root)


@pytest.fixture
def userpass(cli: Cli) -> Iterator[str]:
    """A userpass mount with user alice (password wonderland, policy app); yields the mount path."""
    cli.ok("auth", "enable", "-path=people", "userpass")
    cli.ok("policy", "write", "app", "-", stdin='path "secret/app/*" { capabilities = ["read", "create"] }')
    cli.ok("write", "auth/people/users/alice", "password=wonderland", "token_policies=app")
    yield "people/"
    cli.ok("auth", "disable", "people")
    cli.ok("policy", "delete", "app")


# --- login ------------------------------------------------------------------------------------------


def test_login_with_a_token_writes_the_token_file_that_later_commands_use(cli: Cli, daemon: tuple[Daemon, str]) -> None:
    _, root = daemon
    result = cli("login", stdin=root + "\n", token="")
    assert result.code == 0, result.err
    assert result.out.startswith("Success! You are now authenticated.")
    token_file = cli.home / ".sealer-token"
    assert token_file.read_text() == root
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    # No SEALER_TOKEN now: the file is used.
    assert json.loads(cli.ok("token", "lookup", "-format=json", token=""))["data"]["policies"] == ["root"]

    refused = cli("login", "not-a-token", token="")
    assert refused.code == 1 and "permission denied" in refused.err
    assert token_file.read_text() == root  # a failed login leaves the stored token alone

    overridden = cli("login", root, "-no-print")  # SEALER_TOKEN is set for this one
    assert overridden.code == 0 and overridden.out == ""
    assert "SEALER_TOKEN environment variable is set" in overridden.err


def test_login_userpass_asks_for_the_password_and_never_prints_it(cli: Cli, userpass: str) -> None:
    result = cli("login", "-method=userpass", f"-path={userpass}", "username=alice", "-format=json",
                 stdin="wonderland\n", token="")
    assert result.code == 0, result.err
    assert "wonderland" not in result.out + result.err
    auth = json.loads(result.out)["auth"]
    assert auth["policies"] == ["app", "default"]
    assert (cli.home / ".sealer-token").read_text() == auth["client_token"]
    # The stored token is alice's: it may write under secret/app/ and nothing else.
    assert cli("write", "secret/app/x", "k=v", token="").code == 0
    denied = cli("write", "secret/other", "k=v", token="")
    assert denied.code == 1 and "permission denied" in denied.err

    wrong = cli("login", "-method=userpass", f"-path={userpass}", "username=alice", "password=nope", token="")
    assert wrong.code == 1 and "invalid username or password" in wrong.err

    only = cli("login", "-method=userpass", f"-path={userpass}", "username=alice", "-token-only",
               stdin="wonderland\n", token="")
    assert only.code == 0 and only.out.startswith("hvs.") and "\n" not in only.out
    assert (cli.home / ".sealer-token").read_text() == auth["client_token"]  # -token-only stores nothing


def test_login_approle(cli: Cli) -> None:
    cli.ok("auth", "enable", "approle")
    try:
        cli.ok("write", "auth/approle/role/ci", "token_policies=default", "secret_id_num_uses=1")
        role_id = cli.ok("read", "-field=role_id", "auth/approle/role/ci/role-id")
        secret_id = cli.ok("write", "-f", "-field=secret_id", "auth/approle/role/ci/secret-id")
        token = cli.ok("login", "-method=approle", f"role_id={role_id}", "secret_id=-", "-field=token",
                       stdin=secret_id + "\n", token="")
        assert json.loads(cli.ok("token", "lookup", "-format=json", token))["data"]["meta"]["role_name"] == "ci"
        again = cli("login", "-method=approle", f"role_id={role_id}", f"secret_id={secret_id}", token="")
        assert again.code == 1 and "invalid role or secret ID" in again.err  # the one use is spent
    finally:
        cli.ok("auth", "disable", "approle")


# --- tokens -----------------------------------------------------------------------------------------


def test_token_create_lookup_renew_capabilities_revoke(cli: Cli) -> None:
    cli.ok("policy", "write", "reader", "-", stdin='path "secret/r/*" { capabilities = ["read", "list"] }')
    token = cli.ok("token", "create", "-policy=reader", "-ttl=1h", "-metadata=team=ops", "-field=token")
    assert token.startswith("hvs.") and not token.endswith("\n")  # raw for $(...) when piped

    looked = json.loads(cli.ok("token", "lookup", "-format=json", token))["data"]
    assert looked["policies"] == ["default", "reader"] and looked["meta"] == {"team": "ops"}
    assert 3500 < looked["ttl"] <= 3600
    by_accessor = json.loads(cli.ok("token", "lookup", "-accessor", "-format=json", looked["accessor"]))["data"]
    assert by_accessor["accessor"] == looked["accessor"]
    assert cli.ok("token", "lookup", "-field=display_name", token=token) == "token"  # lookup-self

    renewed = json.loads(cli.ok("token", "renew", "-increment=30m", "-format=json", token))["auth"]
    assert renewed["lease_duration"] == 1800

    assert cli.ok("token", "capabilities", token, "secret/r/x") == "list, read\n"
    assert cli.ok("token", "capabilities", "secret/r/x", token=token) == "list, read\n"
    assert json.loads(cli.ok("token", "capabilities", "-format=json", token, "sys/mounts")) == ["deny"]

    assert cli.ok("token", "revoke", token) == "Success! Revoked token (if it existed)\n"
    gone = cli("token", "lookup", token)
    assert gone.code == 1 and "bad token" in gone.err
    cli.ok("policy", "delete", "reader")


def test_token_create_orphan_period_and_usage_errors(cli: Cli) -> None:
    created = json.loads(cli.ok("token", "create", "-orphan", "-period=2h", "-renewable=false", "-format=json"))
    auth = created["auth"]
    assert (auth["orphan"], auth["renewable"], auth["lease_duration"]) == (True, False, 7200)
    assert cli("token", "revoke").code == 2  # nothing named: a usage error
    assert cli("token", "create", "-renewable=maybe").code == 2
    assert cli.ok("token", "revoke", "-self", token=auth["client_token"]).startswith("Success!")


# --- policies ---------------------------------------------------------------------------------------


def test_policy_write_read_list_delete(cli: Cli, tmp_path: Path) -> None:
    text = 'path "secret/ops/*" {\n  capabilities = ["read"]\n}\n'
    (tmp_path / "ops.hcl").write_text(text)
    assert cli.ok("policy", "write", "ops", str(tmp_path / "ops.hcl")) == "Success! Uploaded policy: ops\n"
    assert cli.ok("policy", "read", "ops") == text
    assert json.loads(cli.ok("policy", "read", "-format=json", "ops")) == {"name": "ops", "policy": text}
    assert "ops" in cli.ok("policy", "list").split()
    assert "ops" in json.loads(cli.ok("policy", "list", "-format=json"))

    bad = cli("policy", "write", "broken", "-", stdin='path "x" { capabilities = ["fly"] }')
    assert bad.code == 1 and 'invalid capability "fly"' in bad.err
    assert "broken" not in cli.ok("policy", "list").split()

    assert cli.ok("policy", "delete", "ops") == "Success! Deleted policy: ops\n"
    missing = cli("policy", "read", "ops")
    assert (missing.code, missing.err) == (1, "No policy named: ops\n")


def test_policy_fmt_rewrites_in_place_and_refuses_an_invalid_policy(cli: Cli, tmp_path: Path) -> None:
    messy = tmp_path / "messy.hcl"
    messy.write_text('# keep me\npath "secret/*"{\ncapabilities=["read"]\n    max_wrapping_ttl="1h"\n}\n\n\n')
    assert cli.ok("policy", "fmt", str(messy), token="") == f"Success! Formatted policy: {messy}\n"
    assert messy.read_text() == ('# keep me\npath "secret/*" {\n  capabilities     = ["read"]\n'
                                 '  max_wrapping_ttl = "1h"\n}\n')
    invalid = tmp_path / "invalid.hcl"
    invalid.write_text('path "x" {\ncapabilities=["fly"]\n}\n')
    result = cli("policy", "fmt", str(invalid))
    assert result.code == 1 and 'invalid capability "fly"' in result.err
    assert invalid.read_text() == 'path "x" {\ncapabilities=["fly"]\n}\n'


# --- secrets and auth mounts ------------------------------------------------------------------------


def test_secrets_enable_list_tune_move_disable(cli: Cli) -> None:
    out = cli.ok("secrets", "enable", "-path=team-kv", "-version=2", "-description=team data", "kv")
    assert out == "Success! Enabled the kv secrets engine at: team-kv/\n"
    mounts = json.loads(cli.ok("secrets", "list", "-format=json"))
    assert mounts["team-kv/"]["options"] == {"version": "2"}
    assert mounts["team-kv/"]["description"] == "team data"
    table = cli.ok("secrets", "list")
    assert table.splitlines()[0].split() == ["Path", "Type", "Accessor", "Description"]
    assert any(line.startswith("team-kv/") for line in table.splitlines())
    assert "Default TTL" in cli.ok("secrets", "list", "-detailed")

    cli.ok("secrets", "tune", "-default-lease-ttl=1h", "-max-lease-ttl=2h", "team-kv")
    tuned = json.loads(cli.ok("read", "-format=json", "sys/mounts/team-kv/tune"))["data"]
    assert (tuned["default_lease_ttl"], tuned["max_lease_ttl"]) == (3600, 7200)
    assert cli("secrets", "tune", "team-kv").code == 2  # nothing to tune

    cli.ok("kv", "put", "team-kv/a", "k=v")
    moved = cli.ok("secrets", "move", "team-kv", "team-kv2")
    assert moved.splitlines()[-1] == "Success! Finished moving secrets engine team-kv/ to team-kv2/"
    assert cli.ok("kv", "get", "-field=k", "team-kv2/a") == "v"

    assert cli.ok("secrets", "disable", "team-kv2/").startswith("Success! Disabled the secrets engine")
    assert "team-kv2/" not in json.loads(cli.ok("secrets", "list", "-format=json"))
    refused = cli("secrets", "enable", "-path=sys", "kv")
    assert refused.code == 1 and refused.err.startswith("Error enabling kv secrets engine:")


def test_auth_enable_list_tune_disable(cli: Cli) -> None:
    assert cli.ok("auth", "enable", "-path=staff", "userpass") == "Success! Enabled userpass auth method at: staff/\n"
    methods = yaml.safe_load(cli.ok("auth", "list", "-format=yaml"))
    assert methods["staff/"]["type"] == "userpass"
    cli.ok("auth", "tune", "-default-lease-ttl=30m", "-token-type=batch", "staff/")
    tuned = json.loads(cli.ok("read", "-format=json", "sys/auth/staff/tune"))["data"]
    assert (tuned["default_lease_ttl"], tuned["token_type"]) == (1800, "batch")
    cli.ok("auth", "disable", "staff")
    assert "staff/" not in cli.ok("auth", "list")


# --- kv -------------------------------------------------------------------------------------------


@pytest.fixture
def kv2(cli: Cli) -> Iterator[str]:
    cli.ok("secrets", "enable", "-path=kv2", "kv-v2")
    yield "kv2"
    cli.ok("secrets", "disable", "kv2")


def test_kv_v2_versions_patch_cas_delete_undelete_destroy(cli: Cli, kv2: str) -> None:
    put = cli.ok("kv", "put", f"{kv2}/app/db", "user=app", "password=s3cret")
    assert put.startswith("= Secret Path =\nkv2/data/app/db\n\n======= Metadata =======\n")
    assert cli.ok("kv", "put", "-field=version", f"{kv2}/app/db", "user=app", "password=rotated") == "2"
    assert cli.ok("kv", "get", "-field=password", f"{kv2}/app/db") == "rotated"
    assert cli.ok("kv", "get", "-version=1", "-field=password", f"{kv2}/app/db") == "s3cret"
    got = json.loads(cli.ok("kv", "get", "-format=json", f"{kv2}/app/db"))
    assert got["data"]["data"] == {"user": "app", "password": "rotated"} and got["data"]["metadata"]["version"] == 2
    table = cli.ok("kv", "get", f"{kv2}/app/db")
    assert "\n\n====== Data ======\nKey         Value\n" in table and "password    rotated" in table

    cli.ok("kv", "patch", f"{kv2}/app/db", "user=app2")
    assert json.loads(cli.ok("kv", "get", "-format=json", f"{kv2}/app/db"))["data"]["data"] == {
        "user": "app2", "password": "rotated"}
    cli.ok("kv", "patch", "-method=rw", f"{kv2}/app/db", "extra=1")
    assert cli.ok("kv", "get", "-field=extra", f"{kv2}/app/db") == "1"
    stale = cli("kv", "put", "-cas=1", f"{kv2}/app/db", "user=late")
    assert stale.code == 1 and "check-and-set parameter did not match" in stale.err

    assert cli.ok("kv", "delete", f"{kv2}/app/db") == "Success! Data deleted (if it existed) at: kv2/data/app/db\n"
    assert cli("kv", "get", f"{kv2}/app/db").code == 1
    cli.ok("kv", "undelete", "-versions=4", f"{kv2}/app/db")
    assert cli.ok("kv", "get", "-field=user", f"{kv2}/app/db") == "app2"
    cli.ok("kv", "destroy", "-versions=1", f"{kv2}/app/db")
    versions = json.loads(cli.ok("kv", "metadata", "get", "-format=json", f"{kv2}/app/db"))["data"]["versions"]
    assert versions["1"]["destroyed"] is True and versions["4"]["destroyed"] is False
    assert cli("kv", "undelete", f"{kv2}/app/db").code == 2  # -versions is required


def test_kv_v2_metadata_list_and_mount_flag(cli: Cli, kv2: str) -> None:
    cli.ok("kv", "put", "-mount=kv2", "team/a", "k=1")
    cli.ok("kv", "put", f"{kv2}/team/b", "k=2")
    assert json.loads(cli.ok("kv", "list", "-format=json", f"{kv2}/team")) == ["a", "b"]
    assert cli.ok("kv", "list", "-mount=kv2", "team").split()[2:] == ["a", "b"]

    cli.ok("kv", "metadata", "put", "-max-versions=3", "-cas-required", "-custom-metadata=owner=ops", f"{kv2}/team/a")
    meta = json.loads(cli.ok("kv", "metadata", "get", "-format=json", f"{kv2}/team/a"))["data"]
    assert (meta["max_versions"], meta["cas_required"], meta["custom_metadata"]) == (3, True, {"owner": "ops"})
    assert cli.ok("kv", "metadata", "get", "-field=current_version", f"{kv2}/team/a") == "1"
    assert "\n====== Version 1 ======\n" in cli.ok("kv", "metadata", "get", f"{kv2}/team/a")
    needs_cas = cli("kv", "put", f"{kv2}/team/a", "k=3")
    assert needs_cas.code == 1 and "check-and-set" in needs_cas.err
    assert cli.ok("kv", "put", "-cas=1", "-field=version", f"{kv2}/team/a", "k=3") == "2"

    cli.ok("kv", "metadata", "delete", f"{kv2}/team/a")
    assert cli("kv", "metadata", "get", f"{kv2}/team/a").code == 1
    assert json.loads(cli.ok("kv", "list", "-format=json", f"{kv2}/team")) == ["b"]


def test_kv_v1_is_detected_and_v2_only_verbs_are_refused(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("-----BEGIN CERT-----\n")
    assert cli.ok("kv", "put", "secret/v1/app", "user=u", f"cert=@{tmp_path / 'cert.pem'}") == (
        "Success! Data written to: secret/v1/app\n")
    assert cli.ok("read", "-field=cert", "secret/v1/app") == "-----BEGIN CERT-----\n"
    assert json.loads(cli.ok("kv", "get", "-format=json", "secret/v1/app"))["data"]["user"] == "u"
    assert cli.ok("kv", "get", "secret/v1/app").startswith("==== Data ====\nKey     Value\n---     -----\ncert    ")
    assert json.loads(cli.ok("kv", "list", "-format=json", "secret/v1")) == ["app"]
    patch = cli("kv", "patch", "secret/v1/app", "user=x")
    assert (patch.code, patch.err) == (1, "KV engine mount must be version 2 for patch support\n")
    cli.ok("kv", "delete", "secret/v1/app")
    missing = cli("kv", "get", "secret/v1/app")
    assert (missing.code, missing.err) == (1, "No value found at secret/v1/app\n")


# --- leases -----------------------------------------------------------------------------------------


def test_lease_lookup_renew_revoke(cli: Cli, userpass: str) -> None:
    cli.ok("login", "-method=userpass", f"-path={userpass}", "username=alice", "-no-print", stdin="wonderland",
           token="")
    alice = (cli.home / ".sealer-token").read_text()
    keys = json.loads(cli.ok("list", "-format=json", f"sys/leases/lookup/auth/{userpass}login/alice"))
    lease_id = f"auth/{userpass}login/alice/{keys[0]}"

    looked = cli.ok("lease", "lookup", lease_id)
    assert f"id              {lease_id}" in looked and "renewable       true" in looked
    assert int(cli.ok("lease", "lookup", "-field=ttl", lease_id)) > 0

    assert cli.ok("lease", "revoke", "-sync", lease_id) == f"Success! Revoked lease: {lease_id}\n"
    gone = cli("lease", "lookup", lease_id)
    assert gone.code == 1 and "invalid lease" in gone.err
    assert cli("token", "lookup", token=alice).code == 1  # the login's token went with its lease
    assert cli("lease", "revoke", "-force", lease_id).code == 2  # -force needs -prefix


# --- operator, transit, errors -----------------------------------------------------------------------


def test_operator_rotate_key_status_and_step_down(cli: Cli) -> None:
    before = json.loads(cli.ok("operator", "key-status", "-format=json"))["term"]
    rotated = cli.ok("operator", "rotate")
    assert rotated.startswith("Success! Rotated key\n")
    assert f"Key Term        {before + 1}" in rotated
    assert json.loads(cli.ok("operator", "key-status", "-format=json"))["term"] == before + 1
    # Without HA there is nothing to step down from: Vault answers 204, and so does Sealer.
    assert cli.ok("operator", "step-down") == f"Success! Stepped down: {cli.address}\n"
    # Only a root token may ask.
    limited = cli.ok("token", "create", "-policy=default", "-field=token")
    refused = cli("operator", "step-down", token=limited)
    assert refused.code == 1 and refused.err.startswith("Error stepping down: ")


def test_transit_helpers_encode_for_you(cli: Cli) -> None:
    cli.ok("secrets", "enable", "transit")
    try:
        assert cli.ok("transit", "create", "orders") == "Success! Created key: orders\n"
        assert cli.ok("transit", "list").split()[2:] == ["orders"]
        ciphertext = cli.ok("transit", "encrypt", "orders", "card 4111").strip()
        assert ciphertext.startswith("vault:v1:")
        assert cli.ok("transit", "decrypt", "orders", ciphertext) == "card 4111"
        cli.ok("transit", "rotate", "orders")
        from_stdin = cli.ok("transit", "encrypt", "orders", stdin="line one\nline two\n").strip()
        assert from_stdin.startswith("vault:v2:")
        assert cli.ok("transit", "decrypt", "orders", "-", stdin=from_stdin) == "line one\nline two\n"
        raw = json.loads(cli.ok("transit", "decrypt", "-format=json", "orders", ciphertext))
        assert raw["data"]["plaintext"] == "Y2FyZCA0MTEx"
        bad = cli("transit", "decrypt", "orders", "vault:v1:AAAA")
        assert bad.code == 1 and bad.err.startswith("Error decrypting with key orders:")
    finally:
        cli.ok("secrets", "disable", "transit")


def test_errors_go_to_stderr_with_exit_1_and_usage_errors_exit_2(cli: Cli) -> None:
    unreachable = Cli(address=f"http://127.0.0.1:{free_port()}", home=cli.home, token="x")
    down = unreachable("kv", "get", "secret/x")
    assert (down.code, down.out) == (1, "")
    assert "cannot reach the Sealer server" in down.err
    denied = cli("token", "create", token="hvs.not-a-real-token-000000")
    assert (denied.code, denied.out) == (1, "") and "permission denied" in denied.err
    usage = cli("kv", "put", "secret/x")
    assert usage.code == 2 and "Must supply data" in usage.err
    assert cli("kv", "frobnicate").code == 2
    # -format=yaml and -format=json print the same data.
    cli.ok("write", "secret/fmt", "a=1")
    as_yaml = yaml.safe_load(cli.ok("read", "-format=yaml", "secret/fmt"))
    assert as_yaml["data"] == json.loads(cli.ok("read", "-format=json", "secret/fmt"))["data"] == {"a": "1"}


def test_kv_with_a_token_that_cannot_read_sys_mounts(cli: Cli, kv2: str) -> None:
    cli.ok("kv", "put", f"{kv2}/shared", "k=v")
    cli.ok("policy", "write", "kv2-reader", "-", stdin=f'path "{kv2}/data/*" {{ capabilities = ["read"] }}')
    reader = cli.ok("token", "create", "-policy=kv2-reader", "-field=token")
    # sys/internal/ui/mounts tells this token the mount is KV v2, as Vault's CLI relies on.
    assert cli.ok("kv", "get", "-field=k", f"{kv2}/shared", token=reader) == "v"
    # A mount the token has nothing on stays unknown to it, and the command says what to do.
    other = cli.ok("token", "create", "-policy=default", "-field=token")
    unsure = cli("kv", "get", f"{kv2}/shared", token=other)
    assert unsure.code == 1 and "use `sealer read MOUNT/data/KEY`" in unsure.err
    cli.ok("policy", "delete", "kv2-reader")
