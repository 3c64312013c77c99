"""A token that hangs: calls into it time out with a clear error and the daemon keeps serving.

The hang is real, not a double: SoftHSM serialises access to a token's files with blocking fcntl locks
(F_SETLKW), so while this test process holds those locks, the daemon's calls that look at the token's
objects block inside the module, as a hung HSM would.
"""

from __future__ import annotations

import base64
import fcntl
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from softhsm import SoftHsmToken

from tests.e2e.daemon import Daemon
from tests.faults.conftest import FaultDaemons, new_token, root_token

CALL_TIMEOUT = 1  # seconds: seal.pkcs11.call_timeout of the daemon under test


@contextmanager
def token_hung(directory: Path) -> Iterator[None]:
    """Hold every lock SoftHSM takes on the token's files. (Never open these files a second time inside:
    closing any descriptor of a file drops this process's fcntl locks on it.)"""
    with ExitStack() as stack:
        for lock_file in [*sorted(directory.glob("*.lock")), directory / "generation"]:
            handle = stack.enter_context(lock_file.open("r+b"))
            fcntl.lockf(handle, fcntl.LOCK_EX)
        yield


def encrypt(daemon: Daemon, token: str, plaintext: bytes) -> tuple[int, Any]:
    return daemon.call("POST", "transit/encrypt/in-token", {"plaintext": base64.b64encode(plaintext).decode()},
                       token=token)


def seal_health(daemon: Daemon) -> dict[str, Any]:
    status, body = daemon.call("GET", "sys/seal-status")
    assert status == 200
    (seal,) = body["seals"]
    return dict(seal)


def test_a_hung_token_times_out_while_the_daemon_keeps_serving(
    fault_daemons: FaultDaemons, softhsm: SoftHsmToken
) -> None:
    hsm_token, directory = new_token(softhsm)
    daemon = fault_daemons.start(hsm_token, call_timeout=CALL_TIMEOUT, seal_options={"health_check_interval": 0.2})
    token = root_token(daemon)
    assert daemon.call("POST", "sys/mounts/transit", {"type": "transit"}, token=token)[0] == 204
    assert daemon.call("POST", "transit/keys/in-token", {"type": "hsm-aes256-gcm96"}, token=token)[0] in (200, 204)
    status, before = encrypt(daemon, token, b"before the hang")
    assert status == 200, before
    assert daemon.call("PUT", "secret/app", {"v": "kept"}, token=token)[0] == 204
    daemon.wait_until(lambda: seal_health(daemon)["healthy"] is True, "the first token check")

    with token_hung(directory):
        status, body = encrypt(daemon, token, b"during the hang")
        assert status == 500, body
        assert f"did not finish within {CALL_TIMEOUT} s" in body["errors"][0]
        # Requests that need no token call are answered while the token is stuck.
        assert daemon.call("GET", "sys/health")[0] == 200
        assert daemon.call("GET", "secret/app", token=token)[1]["data"] == {"v": "kept"}
        assert daemon.call("PUT", "secret/during", {"v": "written"}, token=token)[0] == 204
        daemon.wait_until(lambda: seal_health(daemon)["healthy"] is False, "the token check to report the hang")
        assert "did not finish within" in seal_health(daemon)["error"]

    daemon.wait_until(lambda: seal_health(daemon)["healthy"] is True, "the token check to see the token again")
    status, after = encrypt(daemon, token, b"after the hang")
    assert status == 200, after
    status, body = daemon.call("POST", "transit/decrypt/in-token", {"ciphertext": before["data"]["ciphertext"]},
                               token=token)
    assert status == 200, body
    assert base64.b64decode(body["data"]["plaintext"]) == b"before the hang"
    assert "did not finish within" in daemon.log()
