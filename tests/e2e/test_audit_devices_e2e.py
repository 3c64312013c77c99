"""Audit devices with the daemon as a real process: each device type receives every request and response
with sensitive values hashed under its own salt, a device that cannot write fails requests closed (nothing
changes), and no clear token, password or secret value reaches any log."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tests.e2e.audit_helpers import (
    DatagramCollector,
    StreamCollector,
    assert_no_clear_values,
    enable,
    json_lines,
    start,
)
from tests.e2e.daemon import Daemon
from tests.e2e.lifecycle_helpers import sealer

SECRET = "s3cret-audit-value-7f1d"
PASSWORD = "pa55word-audit-91c2"


def audit_hash(daemon: Daemon, root: str, device: str, value: str) -> str:
    status, body = daemon.call("POST", f"sys/audit-hash/{device}", {"input": value}, token=root)
    assert status == 200, body
    hashed: str = body["data"]["hash"]
    assert hashed.startswith("hmac-sha256:")
    return hashed


def secret_lines(entries: list[dict], path: str = "secret/app") -> dict[tuple[str, str], dict]:
    """The request and response lines of `path`, by (type, operation)."""
    return {(e["type"], e["request"]["operation"]): e for e in entries
            if e.get("type") in ("request", "response") and e["request"]["path"] == path}


def test_each_device_type_receives_every_request_hashed(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon, root = start(daemons, softhsm_token, tmp_path)
    tcp = StreamCollector()
    unix = StreamCollector(unix_path=str(tmp_path / "u.sock"))
    udp = DatagramCollector()
    syslog = DatagramCollector(unix_path=str(tmp_path / "log.sock"))
    audit_file = tmp_path / "audit" / "audit.log"
    enable(daemon, root, "file", f"file_path={audit_file}")
    enable(daemon, root, "-path=tcp", "socket", f"address={tcp.address}")
    enable(daemon, root, "-path=udp", "socket", f"address={udp.address}", "socket_type=udp")
    enable(daemon, root, "-path=unix", "socket", f"address={unix.address}", "socket_type=unix")
    enable(daemon, root, "syslog", f"address={syslog.address}", "tag=sealer-e2e", "facility=LOCAL3")
    listed = sealer(daemon, "audit", "list", "-detailed", token=root)
    assert listed.returncode == 0, listed.stderr
    for path, kind in (("file/", "file"), ("tcp/", "socket"), ("udp/", "socket"), ("unix/", "socket"),
                       ("syslog/", "syslog")):
        assert any(line.split()[:2] == [path, kind] for line in listed.stdout.splitlines()), listed.stdout

    assert daemon.call("POST", "secret/app", {"value": SECRET}, token=root)[0] == 204
    status, body = daemon.call("GET", "secret/app", token=root)
    assert status == 200 and body["data"]["value"] == SECRET
    assert daemon.call("POST", "sys/auth/userpass", {"type": "userpass"}, token=root)[0] == 204
    status, _ = daemon.call("POST", "auth/userpass/users/alice", {"password": PASSWORD}, token=root)
    assert status == 204
    status, login = daemon.call("POST", "auth/userpass/login/alice", {"password": PASSWORD})
    assert status == 200
    user_token = login["auth"]["client_token"]

    def received() -> dict[str, list[dict]]:
        return {
            "file": json_lines(audit_file.read_bytes()),
            "tcp": json_lines(tcp.data()),
            "unix": json_lines(unix.data()),
            "udp": [json.loads(m) for m in udp.drain()],
            "syslog": [json.loads(m.partition(b": ")[2]) for m in syslog.drain()],
        }

    def logged_login(entries: list[dict]) -> bool:
        return ("response", "update") in secret_lines(entries, "auth/userpass/login/alice")

    daemon.wait_until(lambda: all(logged_login(e) for e in received().values()), "every device to get the lines")
    assert all(m.startswith(b"<158>") for m in syslog.drain())  # LOCAL3 (19) * 8 + INFO (6)
    devices = received()
    for device, entries in devices.items():
        hashed = audit_hash(daemon, root, device, SECRET)
        lines = secret_lines(entries)
        assert lines[("request", "create")]["request"]["data"] == {"value": hashed}, device
        assert lines[("response", "read")]["response"]["data"] == {"value": hashed}, device
        request = lines[("request", "create")]
        assert request["auth"]["client_token"] == audit_hash(daemon, root, device, root)
        assert request["auth"]["policies"] == ["root"] and request["request"]["namespace"] == {"id": "root"}
        assert entries[0]["type"] == "chain-start" and entries[0]["device_path"] == f"{device}/"
        login_line = secret_lines(entries, "auth/userpass/login/alice")[("response", "update")]
        assert login_line["response"]["auth"]["client_token"] == audit_hash(daemon, root, device, user_token)
        assert login_line["request"]["data"] == {"password": audit_hash(daemon, root, device, PASSWORD)}
    # Each device has its own salt.
    assert len({audit_hash(daemon, root, d, SECRET) for d in devices}) == len(devices)

    # The file and the TCP stream verify against the keys the daemon holds.
    verified = sealer(daemon, "audit", "verify", str(audit_file), token=root)
    assert verified.returncode == 0, verified.stderr
    (tmp_path / "tcp.log").write_bytes(tcp.data())
    verified = sealer(daemon, "audit", "verify", str(tmp_path / "tcp.log"), token=root)
    assert verified.returncode == 0, verified.stderr

    for device in ("tcp", "udp", "unix", "syslog"):
        assert sealer(daemon, "audit", "disable", device, token=root).returncode == 0
    listed = sealer(daemon, "audit", "list", "-format=json", token=root)
    assert list(json.loads(listed.stdout)) == ["file/"]
    for collector in (tcp, unix, udp, syslog):
        collector.close()
    daemon.stop()
    (tmp_path / "unix.log").write_bytes(unix.data())
    (tmp_path / "datagrams.log").write_bytes(b"\n".join(udp.messages + syslog.messages))
    assert_no_clear_values(tmp_path, [SECRET, PASSWORD, root, user_token])


def test_a_closed_socket_fails_requests_closed_and_changes_nothing(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon, root = start(daemons, softhsm_token, tmp_path)
    tcp = StreamCollector()
    enable(daemon, root, "-path=tcp", "socket", f"address={tcp.address}", "write_timeout=1s")
    assert daemon.call("POST", "secret/app", {"value": "before"}, token=root)[0] == 204
    tcp.close()
    # The hang-up reaches the daemon's connection; from then on no line can be written.
    daemon.wait_until(lambda: daemon.call("GET", "sys/mounts", token=root)[0] == 500, "requests to fail closed")
    status, body = daemon.call("POST", "secret/app", {"value": "after-" + SECRET}, token=root)
    assert status == 500 and "failed to log request" in body["errors"][0]
    assert daemon.call("POST", "sys/policies/acl/new", {"policy": ""}, token=root)[0] == 500

    back = StreamCollector(port=tcp.port)
    status, body = daemon.call("GET", "secret/app", token=root)
    assert status == 200 and body["data"]["value"] == "before"
    assert daemon.call("GET", "sys/policies/acl/new", token=root)[0] == 404
    back.close()
    daemon.stop()
    assert "failed to log" in daemon.log()
    assert_no_clear_values(tmp_path, [SECRET, root])


def test_an_unwritable_file_fails_requests_closed_until_it_is_writable(daemons, softhsm_token,
                                                                      tmp_path: Path) -> None:
    daemon, root = start(daemons, softhsm_token, tmp_path)
    none = sealer(daemon, "audit", "list", token=root)
    assert (none.returncode, none.stdout.strip()) == (2, "No audit devices are enabled.")
    audit_file = tmp_path / "audit.log"
    enable(daemon, root, "file", f"path={audit_file}")  # Vault's legacy option name
    assert daemon.call("POST", "secret/app", {"value": "before"}, token=root)[0] == 204
    # A directory where the file was: the reopen on SIGHUP fails, and so does every line after it.
    audit_file.rename(tmp_path / "audit.log.1")
    audit_file.mkdir()
    assert daemon.process is not None
    os.kill(daemon.process.pid, signal.SIGHUP)
    daemon.wait_until(lambda: "could not reopen" in daemon.log(), "the reopen to fail")
    status, body = daemon.call("POST", "secret/app", {"value": SECRET}, token=root)
    assert status == 500 and "failed to log request" in body["errors"][0]
    audit_file.rmdir()
    status, body = daemon.call("GET", "secret/app", token=root)
    assert status == 200 and body["data"]["value"] == "before"
    # Both files together are one intact chain: the failed lines were never chained.
    verified = sealer(daemon, "audit", "verify", str(tmp_path / "audit.log.1"), str(audit_file), token=root)
    assert verified.returncode == 0, verified.stderr
    daemon.stop()
    assert_no_clear_values(tmp_path, [SECRET, root])
