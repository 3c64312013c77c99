"""The `sealer` client commands against a tiny real HTTP server (aiohttp, in-process, a free loopback
port) that answers with Vault-shaped JSON and records every request it gets. Each test checks both
sides: the exact requests the CLI sent, and what it printed and returned."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from sealer.cli.env import Env
from sealer.cli.main import main

ROOT = "root-token-1"
KEYS_HEX = ["aa01", "aa02", "aa03", "aa04", "aa05"]
KEYS_B64 = ["qgE=", "qgI=", "qgM=", "qgQ=", "qgU="]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any          # decoded JSON, or None for an empty body
    token: str | None  # the X-Vault-Token header


@dataclass
class FakeSealer:
    """Just enough of the /v1 API: sys/seal-status, leader, init, unseal, seal, and a KV v1 at secret/."""

    address: str = ""
    requests: list[Seen] = field(default_factory=list)
    initialized: bool = False
    sealed: bool = True
    progress: int = 0
    kv: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (method, path) -> (status, body): answers that replace the simulation for one route.
    canned: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        token = request.headers.get("X-Vault-Token")
        self.requests.append(Seen(request.method, request.path, dict(request.query), body, token))
        if (request.method, request.path) in self.canned:
            status, answer = self.canned[(request.method, request.path)]
            if isinstance(answer, str):
                return web.Response(text=answer, status=status)
            return web.json_response(answer, status=status)
        route = f"{request.method} {request.path}"
        if route == "GET /v1/sys/seal-status":
            return web.json_response(self.seal_status())
        if route == "GET /v1/sys/leader":
            return web.json_response({"ha_enabled": False, "is_self": False, "leader_address": "",
                                      "leader_cluster_address": ""})
        if route == "GET /v1/sys/init":
            return web.json_response({"initialized": self.initialized})
        if route == "PUT /v1/sys/init":
            return self.init(body or {})
        if route == "PUT /v1/sys/unseal":
            return self.unseal(body or {})
        if route == "PUT /v1/sys/seal":
            if token != ROOT:
                return web.json_response({"errors": ["permission denied"]}, status=403)
            self.sealed, self.progress = True, 0
            return web.Response(status=204)
        if request.path.startswith("/v1/secret/"):
            if token != ROOT:
                return web.json_response({"errors": ["permission denied"]}, status=403)
            return self.secret(request, request.path.removeprefix("/v1/secret/"), body)
        return web.json_response({"errors": [f"no handler for route {request.path!r}"]}, status=404)

    def seal_status(self) -> dict[str, Any]:
        return {"type": "shamir", "initialized": self.initialized, "sealed": self.sealed, "t": 3, "n": 5,
                "progress": self.progress, "nonce": "nonce-1" if self.progress else "", "version": "0.1.0",
                "build_date": "2024-01-01T00:00:00Z", "migration": False, "recovery_seal": False,
                "storage_type": "inmem"}

    def init(self, body: dict[str, Any]) -> web.Response:
        if self.initialized:
            return web.json_response({"errors": ["Vault is already initialized"]}, status=400)
        self.initialized = True
        if "secret_shares" in body:
            n = body["secret_shares"]
            return web.json_response({"keys": KEYS_HEX[:n], "keys_base64": KEYS_B64[:n], "root_token": ROOT})
        n = body["recovery_shares"]
        return web.json_response({"keys": [], "keys_base64": [], "recovery_keys": KEYS_HEX[:n],
                                  "recovery_keys_base64": KEYS_B64[:n], "root_token": ROOT})

    def unseal(self, body: dict[str, Any]) -> web.Response:
        if body.get("reset"):
            self.progress = 0
        elif body.get("key") in KEYS_HEX + KEYS_B64:
            self.progress += 1
            if self.progress >= 3:
                self.sealed, self.progress = False, 0
        else:
            return web.json_response({"errors": ["invalid key"]}, status=400)
        return web.json_response(self.seal_status())

    def secret(self, request: web.Request, path: str, body: Any) -> web.Response:
        if request.method == "LIST" or (request.method == "GET" and request.query.get("list") == "true"):
            prefix = path
            below = [k.removeprefix(prefix) for k in self.kv if k.startswith(prefix)]
            names = sorted({rest.split("/")[0] + ("/" if "/" in rest else "") for rest in below})
            if not names:
                return web.json_response({"errors": []}, status=404)
            return web.json_response(envelope({"keys": names}))
        if request.method == "GET":
            if path not in self.kv:
                return web.json_response({"errors": []}, status=404)
            return web.json_response(envelope(self.kv[path], lease_duration=2764800))
        if request.method in ("PUT", "POST"):
            self.kv[path] = body
            return web.Response(status=204)
        if request.method == "DELETE":
            self.kv.pop(path, None)
            return web.Response(status=204)
        return web.json_response({"errors": ["unsupported operation"]}, status=405)


def envelope(data: dict[str, Any], lease_duration: int = 0) -> dict[str, Any]:
    return {"request_id": "req-1", "lease_id": "", "renewable": False, "lease_duration": lease_duration,
            "data": data, "wrap_info": None, "warnings": None, "auth": None, "mount_type": "kv"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSealer]:
    server = FakeSealer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.address = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class TtyStringIO(io.StringIO):
    def isatty(self) -> bool:
        return True


Run = Callable[..., Awaitable[Result]]


@pytest.fixture
def sealer(fake: FakeSealer, tmp_path: Path) -> Run:
    """Run the CLI in a worker thread (it blocks on urllib) while the fake answers on the event loop."""

    async def run(*argv: str, environ: dict[str, str] | None = None, stdin: str = "",
                  tty_stdout: bool = False) -> Result:
        if environ is None:
            environ = {"SEALER_ADDR": fake.address, "SEALER_TOKEN": ROOT}
        environ = {"HOME": str(tmp_path), **environ}
        stdout = TtyStringIO() if tty_stdout else io.StringIO()
        stderr = io.StringIO()
        env = Env(stdin=io.StringIO(stdin), stdout=stdout, stderr=stderr, environ=environ)
        code = await asyncio.to_thread(main, list(argv), env)
        return Result(code, stdout.getvalue(), stderr.getvalue())

    return run


def rows(table: str) -> dict[str, str]:
    """A Key/Value table as a dict (columns are separated by at least two spaces)."""
    result = {}
    for line in table.splitlines()[2:]:
        key, _, value = line.partition("  ")
        result[key.strip()] = value.strip()
    return result


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- status -----------------------------------------------------------------------------------------


async def test_status_unsealed_exits_0_with_vaults_table(fake: FakeSealer, sealer: Run) -> None:
    fake.initialized, fake.sealed = True, False
    result = await sealer("status")
    assert (result.code, result.err) == (0, "")
    lines = result.out.splitlines()
    assert lines[0].split() == ["Key", "Value"] and lines[1].split() == ["---", "-----"]
    assert rows(result.out) == {
        "Seal Type": "shamir", "Initialized": "true", "Sealed": "false", "Total Shares": "5",
        "Threshold": "3", "Version": "0.1.0", "Build Date": "2024-01-01T00:00:00Z",
        "Storage Type": "inmem", "HA Enabled": "false",
    }
    assert fake.requests == [Seen("GET", "/v1/sys/seal-status", {}, None, ROOT),
                             Seen("GET", "/v1/sys/leader", {}, None, ROOT)]


async def test_status_sealed_exits_2_and_shows_progress(fake: FakeSealer, sealer: Run) -> None:
    fake.initialized, fake.progress = True, 1
    result = await sealer("status")
    assert result.code == 2
    table = rows(result.out)
    assert (table["Sealed"], table["Unseal Progress"], table["Unseal Nonce"]) == ("true", "1/3", "nonce-1")


async def test_status_connection_refused_exits_1_naming_the_address(sealer: Run) -> None:
    address = f"http://127.0.0.1:{closed_port()}"
    result = await sealer("status", environ={"SEALER_ADDR": address})
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"Error checking seal status: cannot reach the Sealer server at {address}: "
                          "Connection refused\n")


async def test_status_server_error_exits_1_with_the_servers_message(fake: FakeSealer, sealer: Run) -> None:
    fake.canned[("GET", "/v1/sys/seal-status")] = (500, {"errors": ["storage is on fire"]})
    result = await sealer("status")
    assert (result.code, result.err) == (1, "Error checking seal status: storage is on fire\n")


@pytest.mark.parametrize(
    "flags", [["-format=json"], ["--format", "json"], ["--format=json"], ["-format", "json"]]
)
async def test_status_json_in_one_and_two_dash_spellings(
    fake: FakeSealer, sealer: Run, flags: list[str]
) -> None:
    result = await sealer("status", *flags)
    assert result.code == 2  # sealed
    data = json.loads(result.out)
    assert data == {**fake.seal_status(), "ha_enabled": False}


async def test_status_yaml(fake: FakeSealer, sealer: Run) -> None:
    fake.sealed = False
    result = await sealer("status", "-format=yaml")
    assert result.code == 0
    assert yaml.safe_load(result.out)["sealed"] is False


async def test_format_from_environment(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("status", environ={"SEALER_ADDR": fake.address, "VAULT_FORMAT": "json"})
    assert json.loads(result.out)["type"] == "shamir"


async def test_status_leader_sealed_means_ha(fake: FakeSealer, sealer: Run) -> None:
    # As Vault: sys/leader answering "sealed" happens only on an HA server.
    fake.canned[("GET", "/v1/sys/leader")] = (503, {"errors": ["Vault is sealed"]})
    result = await sealer("status")
    assert (result.code, rows(result.out)["HA Enabled"]) == (2, "true")


async def test_status_leader_missing_means_no_ha(fake: FakeSealer, sealer: Run) -> None:
    fake.canned[("GET", "/v1/sys/leader")] = (404, {"errors": []})
    result = await sealer("status")
    assert (result.code, rows(result.out)["HA Enabled"]) == (2, "false")


async def test_status_shows_ha_mode_when_active(fake: FakeSealer, sealer: Run) -> None:
    fake.sealed = False
    fake.canned[("GET", "/v1/sys/leader")] = (200, {
        "ha_enabled": True, "is_self": True, "active_time": "2024-05-01T10:00:00Z",
        "leader_address": "https://a:8200", "leader_cluster_address": "https://a:8201"})
    table = rows((await sealer("status")).out)
    assert (table["HA Enabled"], table["HA Mode"], table["HA Cluster"], table["Active Since"]) == (
        "true", "active", "https://a:8201", "2024-05-01T10:00:00Z")


async def test_status_leader_error_exits_1(fake: FakeSealer, sealer: Run) -> None:
    fake.canned[("GET", "/v1/sys/leader")] = (500, {"errors": ["lock lost"]})
    result = await sealer("status")
    assert (result.code, result.err) == (1, "Error checking leader status: lock lost\n")


# --- address and token ------------------------------------------------------------------------------


async def test_sealer_addr_wins_over_vault_addr(fake: FakeSealer, sealer: Run) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    assert (await sealer("status", environ={"SEALER_ADDR": fake.address, "VAULT_ADDR": dead})).code == 2
    assert (await sealer("status", environ={"SEALER_ADDR": dead, "VAULT_ADDR": fake.address})).code == 1
    assert (await sealer("status", environ={"VAULT_ADDR": fake.address})).code == 2


@pytest.mark.parametrize("spelling", ["-address={}", "--address={}", "--address {}", "-address {}"])
async def test_address_flag_wins_over_the_environment(fake: FakeSealer, sealer: Run, spelling: str) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    flag = spelling.format(fake.address).split(" ")
    result = await sealer("status", *flag, environ={"SEALER_ADDR": dead, "VAULT_ADDR": dead})
    assert result.code == 2
    assert [seen.path for seen in fake.requests] == ["/v1/sys/seal-status", "/v1/sys/leader"]


async def test_invalid_address_is_an_error(sealer: Run) -> None:
    result = await sealer("status", environ={"SEALER_ADDR": "127.0.0.1:8200"})
    assert (result.code, result.err) == (
        1, "Error: invalid address '127.0.0.1:8200': expected http://host:port or https://host:port\n")


async def test_token_precedence(fake: FakeSealer, sealer: Run, tmp_path: Path) -> None:
    (tmp_path / ".sealer-token").write_text("from-file\n")
    base = {"SEALER_ADDR": fake.address}
    await sealer("status", environ={**base, "SEALER_TOKEN": "s", "VAULT_TOKEN": "v"})
    await sealer("status", environ={**base, "VAULT_TOKEN": "v"})
    await sealer("status", environ=base)
    (tmp_path / ".sealer-token").unlink()
    await sealer("status", environ=base)
    tokens = [seen.token for seen in fake.requests if seen.path == "/v1/sys/seal-status"]
    assert tokens == ["s", "v", "from-file", None]


# --- operator init ----------------------------------------------------------------------------------


async def test_init_defaults_and_prints_keys_the_vault_way(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("operator", "init")
    assert (result.code, result.err) == (0, "")
    body = {"secret_shares": 5, "secret_threshold": 3}
    assert fake.requests == [Seen("PUT", "/v1/sys/init", {}, body, ROOT)]
    lines = result.out.splitlines()
    assert lines[:5] == [f"Unseal Key {i}: {key}" for i, key in enumerate(KEYS_B64, 1)]
    assert lines[5:8] == ["", f"Initial Root Token: {ROOT}", ""]
    text = " ".join(result.out.split())
    assert "Sealer initialized with 5 key shares and a key threshold of 3." in text
    assert "you must supply at least 3 of these keys to unseal it" in text
    assert ("Without at least 3 keys to reconstruct the root key, Sealer will remain permanently sealed!"
            in text)
    assert all(len(line) <= 78 for line in lines)


@pytest.mark.parametrize(
    "flags",
    [["-key-shares=3", "-key-threshold=2"], ["--key-shares", "3", "--key-threshold", "2"],
     ["-n=3", "-t=2"], ["-n", "3", "-t", "2"]],
)
async def test_init_share_flags_one_or_two_dashes(fake: FakeSealer, sealer: Run, flags: list[str]) -> None:
    result = await sealer("operator", "init", *flags, "-format=json")
    assert result.code == 0
    assert fake.requests[0].body == {"secret_shares": 3, "secret_threshold": 2}
    assert json.loads(result.out) == {
        "unseal_keys_b64": KEYS_B64[:3], "unseal_keys_hex": KEYS_HEX[:3], "unseal_shares": 3,
        "unseal_threshold": 2, "recovery_keys_b64": [], "recovery_keys_hex": [], "recovery_keys_shares": 0,
        "recovery_keys_threshold": 0, "root_token": ROOT,
    }


async def test_init_recovery_shares_for_the_hsm_seal(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("operator", "init", "-recovery-shares=2", "-recovery-threshold=2")
    assert result.code == 0
    assert fake.requests[0].body == {"recovery_shares": 2, "recovery_threshold": 2}
    lines = result.out.splitlines()
    assert lines[:5] == ["Recovery Key 1: qgE=", "Recovery Key 2: qgI=", "",
                         f"Initial Root Token: {ROOT}", ""]
    assert "Success! Sealer is initialized" in lines
    assert "Recovery key initialized with 2 key shares and a key threshold of 2." in " ".join(lines)


async def test_init_json_for_the_hsm_seal_reports_one_of_one(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("operator", "init", "-recovery-shares=3", "-format=json")
    assert fake.requests[0].body == {"recovery_shares": 3, "recovery_threshold": 3}
    data = json.loads(result.out)
    assert (data["unseal_shares"], data["unseal_threshold"]) == (1, 1)
    assert (data["recovery_keys_b64"], data["recovery_keys_shares"]) == (KEYS_B64[:3], 3)


async def test_init_twice_is_an_error_from_the_server(fake: FakeSealer, sealer: Run) -> None:
    fake.initialized = True
    result = await sealer("operator", "init")
    assert (result.code, result.out) == (1, "")
    assert result.err == "Error initializing: Vault is already initialized\n"


async def test_init_status(fake: FakeSealer, sealer: Run) -> None:
    before = await sealer("operator", "init", "-status")
    fake.initialized = True
    after = await sealer("operator", "init", "-status", "-format=json")
    assert (before.code, before.out) == (2, "Sealer is not initialized\n")
    assert (after.code, json.loads(after.out)) == (0, {"initialized": True})
    assert [(seen.method, seen.path) for seen in fake.requests] == [("GET", "/v1/sys/init")] * 2


# --- operator unseal / seal -------------------------------------------------------------------------


async def test_unseal_with_keys_as_arguments(fake: FakeSealer, sealer: Run) -> None:
    fake.initialized = True
    first = await sealer("operator", "unseal", KEYS_B64[0])
    assert (first.code, rows(first.out)["Unseal Progress"], rows(first.out)["Sealed"]) == (0, "1/3", "true")
    await sealer("operator", "unseal", KEYS_HEX[1])
    last = await sealer("operator", "unseal", KEYS_B64[2])
    assert (last.code, rows(last.out)["Sealed"]) == (0, "false")
    unseals = [seen for seen in fake.requests if seen.path == "/v1/sys/unseal"]
    assert unseals == [Seen("PUT", "/v1/sys/unseal", {}, {"key": key}, ROOT)
                       for key in (KEYS_B64[0], KEYS_HEX[1], KEYS_B64[2])]


async def test_unseal_reads_the_key_from_stdin_when_not_a_tty(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("operator", "unseal", "-format=json", stdin=f"  {KEYS_B64[0]}\n")
    assert result.code == 0
    assert fake.requests[0] == Seen("PUT", "/v1/sys/unseal", {}, {"key": KEYS_B64[0]}, ROOT)
    assert json.loads(result.out)["progress"] == 1


async def test_unseal_without_a_key_sends_nothing(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("operator", "unseal", stdin="")
    assert (result.code, result.err) == (1, "Error unsealing: no unseal key given\n")
    assert fake.requests == []


async def test_unseal_reset(fake: FakeSealer, sealer: Run) -> None:
    fake.progress = 2
    result = await sealer("operator", "unseal", "-reset")
    assert fake.requests[0] == Seen("PUT", "/v1/sys/unseal", {}, {"reset": True}, ROOT)
    assert (result.code, rows(result.out)["Unseal Progress"]) == (0, "0/3")


async def test_unseal_bad_key(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("operator", "unseal", "not-a-key")
    assert (result.code, result.err) == (1, "Error unsealing: invalid key\n")


async def test_seal_sends_the_token(fake: FakeSealer, sealer: Run) -> None:
    fake.sealed = False
    result = await sealer("operator", "seal")
    assert (result.code, result.out) == (0, "Success! Sealer is sealed.\n")
    assert fake.requests == [Seen("PUT", "/v1/sys/seal", {}, None, ROOT)]
    assert fake.sealed


async def test_seal_without_a_token_is_refused(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("operator", "seal", environ={"SEALER_ADDR": fake.address})
    assert (result.code, result.err) == (1, "Error sealing: permission denied\n")
    assert fake.requests == [Seen("PUT", "/v1/sys/seal", {}, None, None)]


# --- read / write / list / delete -------------------------------------------------------------------


async def test_write_then_read_table(fake: FakeSealer, sealer: Run) -> None:
    written = await sealer("write", "secret/app", "user=alice", "password=s3cret")
    assert (written.code, written.out) == (0, "Success! Data written to: secret/app\n")
    read = await sealer("read", "secret/app")
    assert read.code == 0
    assert read.out.splitlines()[0].split() == ["Key", "Value"]
    assert rows(read.out) == {"refresh_interval": "768h", "password": "s3cret", "user": "alice"}
    assert fake.requests == [
        Seen("PUT", "/v1/secret/app", {}, {"user": "alice", "password": "s3cret"}, ROOT),
        Seen("GET", "/v1/secret/app", {}, None, ROOT),
    ]


async def test_read_field_prints_the_raw_value(fake: FakeSealer, sealer: Run) -> None:
    fake.kv["db"] = {"password": "p@ss word", "port": 5432}
    piped = await sealer("read", "-field=password", "secret/db")
    assert (piped.code, piped.out) == (0, "p@ss word")  # no newline: $(sealer read -field=...) works
    on_tty = await sealer("read", "--field", "port", "secret/db", tty_stdout=True)
    assert on_tty.out == "5432\n"
    as_json = await sealer("read", "-field=port", "-format=json", "secret/db")
    assert json.loads(as_json.out) == 5432


async def test_read_field_missing(fake: FakeSealer, sealer: Run) -> None:
    fake.kv["db"] = {"password": "x"}
    result = await sealer("read", "-field=nope", "secret/db")
    assert (result.code, result.out, result.err) == (1, "", 'Field "nope" not present in secret\n')


async def test_read_json_is_the_whole_response(fake: FakeSealer, sealer: Run) -> None:
    fake.kv["db"] = {"password": "x", "nested": {"a": [1, 2]}}
    result = await sealer("read", "-format=json", "secret/db")
    expected = envelope({"password": "x", "nested": {"a": [1, 2]}}, lease_duration=2764800)
    assert json.loads(result.out) == expected


async def test_read_table_prints_nested_values_like_go(fake: FakeSealer, sealer: Run) -> None:
    fake.kv["db"] = {"nested": {"b": True, "a": [1, "x"]}, "empty": None}
    table = rows((await sealer("read", "secret/db")).out)
    assert (table["nested"], table["empty"]) == ("map[a:[1 x] b:true]", "<nil>")


async def test_read_missing_path(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("read", "/secret/missing/")
    assert (result.code, result.out, result.err) == (1, "", "No value found at secret/missing\n")
    assert fake.requests[0].path == "/v1/secret/missing"


async def test_read_permission_denied(fake: FakeSealer, sealer: Run) -> None:
    fake.kv["app"] = {"a": "b"}
    result = await sealer("read", "secret/app", environ={"SEALER_ADDR": fake.address, "SEALER_TOKEN": "bad"})
    assert (result.code, result.err) == (1, "Error reading secret/app: permission denied\n")


async def test_read_sends_extra_pairs_as_query(fake: FakeSealer, sealer: Run) -> None:
    fake.kv["app"] = {"a": "b"}
    await sealer("read", "secret/app", "version=2")
    assert fake.requests[0].query == {"version": "2"}


async def test_write_values_from_files_and_stdin(fake: FakeSealer, sealer: Run, tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("-----BEGIN CERT-----\n")
    await sealer("write", "secret/tls", f"cert=@{tmp_path / 'cert.pem'}", "key=-", "note=\\@literal",
                 stdin="private\n")
    await sealer("write", "secret/json", "-", "extra=1", stdin='{"a": 1, "b": [true]}')
    await sealer("write", "secret/multi", "tag=a", "tag=b", "tag=c")
    (tmp_path / "pairs.json").write_text('{"from": "file"}')
    await sealer("write", "secret/at", f"@{tmp_path / 'pairs.json'}")
    assert [seen.body for seen in fake.requests] == [
        {"cert": "-----BEGIN CERT-----\n", "key": "private\n", "note": "@literal"},
        {"a": 1, "b": [True], "extra": "1"},
        {"tag": ["a", "b", "c"]},
        {"from": "file"},
    ]


async def test_write_needs_data_or_force(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("write", "secret/x")
    assert result.code == 2
    assert result.err.endswith("Must supply data or use -force\n")
    assert fake.requests == []
    forced = await sealer("write", "-f", "secret/x")
    assert (forced.code, fake.requests[0].body) == (0, {})


async def test_write_bad_data(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("write", "secret/x", "novalue")
    assert result.code == 1
    assert result.err == "Failed to parse K=V data: format must be key=value, got 'novalue'\n"
    assert fake.requests == []


async def test_write_returning_data_prints_it(fake: FakeSealer, sealer: Run) -> None:
    fake.canned[("PUT", "/v1/secret/gen")] = (200, envelope({"generated": "xyz"}))
    result = await sealer("write", "-field=generated", "secret/gen", "a=b")
    assert (result.code, result.out) == (0, "xyz")


async def test_write_error(fake: FakeSealer, sealer: Run) -> None:
    fake.canned[("PUT", "/v1/secret/x")] = (400, {"errors": ["bad input", "really bad"]})
    result = await sealer("write", "secret/x", "a=b")
    assert (result.code, result.err) == (1, "Error writing data to secret/x: bad input; really bad\n")


async def test_list(fake: FakeSealer, sealer: Run) -> None:
    fake.kv.update({"b-app": {}, "a-app": {}, "folder/inner": {}})
    table = await sealer("list", "secret")
    assert (table.code, table.out) == (0, "Keys\n----\na-app\nb-app\nfolder/\n")
    as_json = await sealer("list", "-format=json", "secret/")
    assert json.loads(as_json.out) == ["a-app", "b-app", "folder/"]
    assert fake.requests == [Seen("GET", "/v1/secret/", {"list": "true"}, None, ROOT)] * 2


async def test_list_nothing(fake: FakeSealer, sealer: Run) -> None:
    result = await sealer("list", "secret/none")
    assert (result.code, result.err) == (1, "No value found at secret/none/\n")


async def test_delete(fake: FakeSealer, sealer: Run) -> None:
    fake.kv["app"] = {"a": "b"}
    result = await sealer("delete", "secret/app")
    assert (result.code, result.out) == (0, "Success! Data deleted (if it existed) at: secret/app\n")
    assert fake.requests == [Seen("DELETE", "/v1/secret/app", {}, None, ROOT)]
    assert "app" not in fake.kv


async def test_warnings_go_to_stderr(fake: FakeSealer, sealer: Run) -> None:
    answer = envelope({"a": "b"})
    answer["warnings"] = ["this path is deprecated"]
    fake.canned[("GET", "/v1/secret/old")] = (200, answer)
    result = await sealer("read", "secret/old")
    assert rows(result.out) == {"a": "b"}
    assert "* this path is deprecated" in result.err


async def test_non_json_error_body(fake: FakeSealer, sealer: Run) -> None:
    fake.canned[("GET", "/v1/sys/seal-status")] = (502, "bad gateway")
    result = await sealer("status")
    assert (result.code, result.err) == (1, "Error checking seal status: bad gateway\n")
