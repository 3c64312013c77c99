"""The PKCS#11 token removed, or replaced by a re-initialised one, while the daemon serves: it keeps serving
from the keys it holds in memory, transit's in-token keys fail clearly, the periodic token check reports the
problem in sys/seal-status, and everything works again once the original token is back."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

from softhsm import SoftHsmToken, make_token

from tests.conftest import SOFTHSM_PIN, SOFTHSM_SO_PIN
from tests.e2e.daemon import Daemon
from tests.faults.conftest import FaultDaemons, new_token, root_token


def seal_health(daemon: Daemon) -> dict[str, Any]:
    status, body = daemon.call("GET", "sys/seal-status")
    assert status == 200
    (seal,) = body["seals"]
    return dict(seal)


def assert_serving(daemon: Daemon, token: str, name: str) -> None:
    """KV reads and writes need no token call: they go on whatever state the token is in."""
    assert daemon.call("GET", "sys/health")[0] == 200
    assert daemon.call("PUT", f"secret/{name}", {"v": name}, token=token)[0] == 204
    assert daemon.call("GET", f"secret/{name}", token=token)[1]["data"] == {"v": name}
    assert daemon.call("GET", "secret/before", token=token)[1]["data"] == {"v": "before"}


def transit_encrypt(daemon: Daemon, token: str) -> tuple[int, Any]:
    return daemon.call("POST", "transit/encrypt/in-token", {"plaintext": base64.b64encode(b"x").decode()},
                       token=token)


def restore(saved: Path, directory: Path) -> None:
    shutil.copytree(saved, directory)


def test_token_removed_then_reinitialised_then_restored(
    fault_daemons: FaultDaemons, softhsm: SoftHsmToken, tmp_path: Path
) -> None:
    hsm_token, directory = new_token(softhsm)
    daemon = fault_daemons.start(hsm_token, seal_options={"health_check_interval": 0.2})
    token = root_token(daemon)
    assert daemon.call("POST", "sys/mounts/transit", {"type": "transit"}, token=token)[0] == 204
    assert daemon.call("POST", "transit/keys/in-token", {"type": "hsm-aes256-gcm96"}, token=token)[0] in (200, 204)
    status, sealed = transit_encrypt(daemon, token)
    assert status == 200, sealed
    assert daemon.call("PUT", "secret/before", {"v": "before"}, token=token)[0] == 204
    daemon.wait_until(lambda: seal_health(daemon)["healthy"] is True, "the first token check")
    saved = tmp_path / "token-copy"
    shutil.copytree(directory, saved)

    # Removed (the directory deleted, as if the HSM were unplugged).
    shutil.rmtree(directory)
    daemon.wait_until(lambda: seal_health(daemon)["healthy"] is False, "the token check to notice")
    assert f"no token labelled '{hsm_token.label}'" in seal_health(daemon)["error"]
    assert_serving(daemon, token, "while-removed")
    status, body = transit_encrypt(daemon, token)
    assert status == 500, body
    assert "the PKCS#11 token could not" in body["errors"][0]
    assert daemon.call("GET", "sys/seal-status")[1]["sealed"] is False

    # Re-initialised: a token with the same label and PIN, but none of the keys.
    tokens = softhsm.directory / "tokens"
    before = set(tokens.iterdir())
    make_token(softhsm.directory, hsm_token.label, SOFTHSM_PIN, SOFTHSM_SO_PIN)
    (impostor,) = set(tokens.iterdir()) - before
    daemon.wait_until(lambda: "no key labelled" in (seal_health(daemon)["error"] or ""),
                      "the token check to find the new token without the keys")
    assert seal_health(daemon)["healthy"] is False
    assert_serving(daemon, token, "while-reinitialised")
    assert transit_encrypt(daemon, token)[0] == 500

    # The original token back: the daemon reconnects on its own, with the same keys.
    shutil.rmtree(impostor)
    restore(saved, directory)
    daemon.wait_until(lambda: seal_health(daemon)["healthy"] is True, "the token check to reconnect")
    status, body = daemon.call("POST", "transit/decrypt/in-token", {"ciphertext": sealed["data"]["ciphertext"]},
                               token=token)
    assert status == 200, body
    assert base64.b64decode(body["data"]["plaintext"]) == b"x"
    assert transit_encrypt(daemon, token)[0] == 200
    assert_serving(daemon, token, "after")
    log = daemon.log()
    assert f"token {hsm_token.label} is unhealthy" in log
    assert f"token {hsm_token.label} is healthy" in log
