"""Clients that never finish their request (slowloris): the daemon keeps serving everyone else. One that
announced a body and stopped sending it is answered 408 once the listener's read timeout passes, and its
connection closed; one that never finishes its headers is disconnected after the idle timeout."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import hvac

from tests.e2e.daemon import Daemon
from tests.faults.conftest import FaultDaemons, root_token

READ_TIMEOUT = 1  # seconds: listener.http_read_timeout of the daemon under test
IDLE_TIMEOUT = 2  # seconds: listener.http_idle_timeout
SLOW_CLIENTS = 10


@contextmanager
def stalled_upload(daemon: Daemon, token: str, path: str) -> Iterator[socket.socket]:
    """A raw connection that sends the headers of a 1000-byte JSON body, then 10 bytes of it, then nothing."""
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=30)
    head = (
        f"PUT /v1/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"value": ')
    try:
        yield sock
    finally:
        sock.close()


@contextmanager
def stalled_headers(daemon: Daemon) -> Iterator[socket.socket]:
    """A raw connection that sends the start of a request's headers and never the blank line that ends them."""
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=30)
    sock.sendall(b"GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    try:
        yield sock
    finally:
        sock.close()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the daemon sends until it closes the connection (socket timeout: 30 s, a bound only)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_stalled_uploads_time_out_while_other_clients_are_served(fault_daemons: FaultDaemons) -> None:
    daemon = fault_daemons.make(listener={"http_read_timeout": READ_TIMEOUT, "http_idle_timeout": IDLE_TIMEOUT})
    token = root_token(daemon)
    client = hvac.Client(url=daemon.address, token=token)

    with ExitStack() as stack:
        slow = [stack.enter_context(stalled_upload(daemon, token, f"secret/slow/{n}")) for n in range(SLOW_CLIENTS)]
        unfinished = [stack.enter_context(stalled_headers(daemon)) for _ in range(SLOW_CLIENTS)]
        for n in range(25):
            client.secrets.kv.v1.create_or_update_secret(path=f"busy/{n}", secret={"n": n})
        for n in range(25):
            assert client.secrets.kv.v1.read_secret(path=f"busy/{n}")["data"] == {"n": n}

        for sock in slow:
            answer = read_until_closed(sock)
            status_line = answer.split(b"\r\n", 1)[0]
            assert status_line == b"HTTP/1.1 408 Request Timeout", answer[:200]
            assert b"did not arrive within 1 s" in answer
        for sock in unfinished:
            assert read_until_closed(sock) == b""  # closed without an answer: there was no request to answer

    status, body = daemon.call("LIST", "secret/", token=token)
    assert (status, body["data"]["keys"]) == (200, ["busy/"])  # no half-read write landed
    assert "the request body did not arrive within 1 s; connection closed" in daemon.log()


def test_a_client_that_hangs_up_mid_body_is_noted_quietly(fault_daemons: FaultDaemons) -> None:
    daemon = fault_daemons.make()
    token = root_token(daemon)
    for n in range(5):
        with stalled_upload(daemon, token, f"secret/gone/{n}"):
            pass  # closed at once, 990 bytes short
    client = hvac.Client(url=daemon.address, token=token)
    client.secrets.kv.v1.create_or_update_secret(path="after", secret={"ok": "yes"})

    def noted() -> bool:
        return daemon.log().count("the client closed the connection before its request was complete") == 5

    daemon.wait_until(noted, "the five hang-ups to be noted")
    assert "Traceback" not in daemon.log() and "unexpected error" not in daemon.log()
    assert daemon.call("LIST", "secret/", token=token)[1]["data"]["keys"] == ["after"]
