"""The key holders' ceremonies against a running daemon: rekey (shamir, with and without verification;
recovery shares on a SoftHSM-backed pkcs11 daemon), generate-root (generated and given OTP, the new root
token used through hvac), refusals that change nothing, a kill -9 in the middle of a verification, and
the ceremony log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hvac

from sealer.ceremonies.otp import decode_token, generate_otp
from tests.e2e.conftest import pkcs11_config, shamir_config
from tests.e2e.daemon import Daemon


def ok(daemon: Daemon, method: str, path: str, body: Any = None) -> Any:
    status, answer = daemon.call(method, path, body)
    assert status in (200, 204), (method, path, status, answer)
    return answer


def refused(daemon: Daemon, method: str, path: str, body: Any = None, status: int = 400) -> str:
    got, answer = daemon.call(method, path, body)
    assert got == status, (method, path, got, answer)
    return "; ".join(answer["errors"])


def shamir_daemon(daemons, workdir: Path) -> tuple[Daemon, list[str], str]:
    """A started shamir daemon, initialised 3/2 and unsealed: (daemon, base64 shares, root token)."""
    daemon = daemons(workdir, shamir_config(workdir)).start()
    init = ok(daemon, "PUT", "sys/init", {"secret_shares": 3, "secret_threshold": 2})
    unseal(daemon, init["keys_base64"][:2])
    return daemon, init["keys_base64"], init["root_token"]


def unseal(daemon: Daemon, shares: list[str]) -> dict[str, Any]:
    status: dict[str, Any] = {}
    for share in shares:
        status = ok(daemon, "PUT", "sys/unseal", {"key": share})
    return status


def generate_root(daemon: Daemon, shares: list[str], otp: str | None = None) -> str:
    """A root token from these shares through sys/generate-root, decoded with the OTP."""
    started = ok(daemon, "PUT", "sys/generate-root/attempt", {"otp": otp} if otp else {})
    otp = otp or started["otp"]
    done: dict[str, Any] = {}
    for share in shares:
        done = ok(daemon, "PUT", "sys/generate-root/update", {"key": share, "nonce": started["nonce"]})
    assert done["complete"] is True
    return decode_token(done["encoded_token"], otp)


def shares_work(daemon: Daemon, shares: list[str]) -> bool:
    """Whether these shares are the valid ones now (a threshold of them): a generate-root with them
    completes. The probe leaves no attempt behind."""
    started = ok(daemon, "PUT", "sys/generate-root/attempt", {})
    complete = False
    for share in shares:
        status, answer = daemon.call("PUT", "sys/generate-root/update", {"key": share, "nonce": started["nonce"]})
        if status != 200:
            assert "verification failed" in "; ".join(answer["errors"]), answer
            break
        complete = answer["complete"]
    ok(daemon, "DELETE", "sys/generate-root/attempt")  # too few shares leave the attempt open
    return complete


def test_shamir_rekey_with_verification_then_restart(daemons, tmp_path: Path) -> None:
    daemon, old, root = shamir_daemon(daemons, tmp_path)
    client = hvac.Client(url=daemon.address, token=root)
    client.secrets.kv.v1.create_or_update_secret(path="kept", secret={"value": "across the rekey"})

    started = client.sys.start_rekey(secret_shares=4, secret_threshold=3, require_verification=True)
    nonce = started["nonce"]
    assert started["required"] == 2 and started["verification_required"] is True
    # Bad input on the way: refused, and the rekey is where it was.
    assert "rekey already in progress" in refused(daemon, "PUT", "sys/rekey/init",
                                                  {"secret_shares": 2, "secret_threshold": 2})
    assert "incorrect nonce" in refused(daemon, "PUT", "sys/rekey/update", {"key": old[0], "nonce": "wrong"})
    first = client.sys.rekey(old[0], nonce=nonce)
    assert first["progress"] == 1
    assert "already been provided" in refused(daemon, "PUT", "sys/rekey/update", {"key": old[0], "nonce": nonce})
    assert "wrong length" in refused(daemon, "PUT", "sys/rekey/update", {"key": old[1][:20], "nonce": nonce})
    assert client.sys.read_rekey_progress()["progress"] == 1
    done = client.sys.rekey(old[2], nonce=nonce)
    assert done["complete"] is True and done["verification_required"] is True
    new = done["keys_base64"]

    # Until verification the old shares are the valid ones, the new are not.
    assert shares_work(daemon, old[:2]) and not shares_work(daemon, new[:3])
    verification = client.sys.read_rekey_verify_progress()
    assert verification["started"] is True and verification["t"] == 3 and verification["n"] == 4
    verified = client.sys.rekey_verify_multi(new[1:4], nonce=done["verification_nonce"])
    assert verified["complete"] is True
    assert not shares_work(daemon, old[:2]) and shares_work(daemon, new[:3])

    daemon.stop()
    daemon.start()
    unseal(daemon, old[:2])
    status, _ = daemon.call("PUT", "sys/unseal", {"key": old[2]})
    assert status == 400  # the old shares (now three are needed) no longer open the store
    assert unseal(daemon, new[:3])["sealed"] is False
    assert hvac.Client(url=daemon.address, token=root).secrets.kv.v1.read_secret(path="kept")["data"] == {
        "value": "across the rekey"}

    log = daemon.log()
    assert f"rekey [nonce {nonce}]: started" in log
    assert "rekey verification [nonce" in log and "completed: the new shares are in effect" in log
    assert not any(share in log for share in [*old, *new])


def test_shamir_rekey_without_verification_and_kill_during_a_verification(daemons, tmp_path: Path) -> None:
    daemon, old, _ = shamir_daemon(daemons, tmp_path)
    nonce = ok(daemon, "PUT", "sys/rekey/init", {"secret_shares": 2, "secret_threshold": 2})["nonce"]
    ok(daemon, "PUT", "sys/rekey/update", {"key": old[1], "nonce": nonce})
    new = ok(daemon, "PUT", "sys/rekey/update", {"key": old[2], "nonce": nonce})["keys_base64"]
    assert not shares_work(daemon, old[:2]) and shares_work(daemon, new)

    # A second rekey, killed while its new shares await verification: they never take effect.
    nonce = ok(daemon, "PUT", "sys/rekey/init", {"secret_shares": 3, "secret_threshold": 2,
                                                  "require_verification": True})["nonce"]
    ok(daemon, "PUT", "sys/rekey/update", {"key": new[0], "nonce": nonce})
    pending = ok(daemon, "PUT", "sys/rekey/update", {"key": new[1], "nonce": nonce})
    ok(daemon, "PUT", "sys/rekey/verify", {"key": pending["keys_base64"][0], "nonce": pending["verification_nonce"]})
    daemon.kill()
    daemon.start()
    assert unseal(daemon, new)["sealed"] is False
    assert ok(daemon, "GET", "sys/rekey/init")["started"] is False
    assert not shares_work(daemon, pending["keys_base64"][:2])


def test_recovery_rekey_on_a_pkcs11_daemon(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, pkcs11_config(softhsm_token, tmp_path)).start(wait_for="unsealed")
    init = json.loads((tmp_path / "init.json").read_text())
    old, root = init["recovery_keys_base64"], init["root_token"]

    assert "rekey-recovery-key" in refused(daemon, "PUT", "sys/rekey/init", {"secret_shares": 3,
                                                                            "secret_threshold": 2})
    client = hvac.Client(url=daemon.address, token=root)
    started = client.sys.start_rekey(secret_shares=5, secret_threshold=3, recovery_key=True,
                                     require_verification=True)
    done = client.sys.rekey_multi(old[:2], nonce=started["nonce"], recovery_key=True)
    new = done["keys_base64"]
    assert len(new) == 5 and shares_work(daemon, old[1:3]) and not shares_work(daemon, new[:3])
    verified = {}
    for share in new[2:5]:
        verified = ok(daemon, "PUT", "sys/rekey-recovery-key/verify",
                      {"key": share, "nonce": done["verification_nonce"]})
    assert verified["complete"] is True
    assert shares_work(daemon, new[:3]) and not shares_work(daemon, old[:2])

    # The recovery shares are what an operator's seal asks for afterwards, also after a restart.
    daemon.stop()
    daemon.start(wait_for="unsealed")
    assert hvac.Client(url=daemon.address, token=root).sys.seal().status_code == 204
    assert unseal(daemon, new[1:4])["sealed"] is False
    log = daemon.log()
    assert f"rekey-recovery-key [nonce {started['nonce']}]: started" in log
    assert not any(share in log for share in [*old, *new])


def test_generate_root_with_generated_and_given_otps(daemons, tmp_path: Path) -> None:
    daemon, shares, _ = shamir_daemon(daemons, tmp_path)
    assert "no root generation in progress" in refused(daemon, "PUT", "sys/generate-root/update",
                                                       {"key": shares[0], "nonce": "x"})
    assert refused(daemon, "PUT", "sys/generate-root/attempt", {"otp": "too-short"}) == "OTP string is wrong length"

    started = ok(daemon, "PUT", "sys/generate-root/attempt", {})
    assert len(started["otp"]) == started["otp_length"] == 28
    assert ok(daemon, "GET", "sys/generate-root/attempt")["otp"] == ""
    assert refused(daemon, "PUT", "sys/generate-root/attempt", {}) == "root generation already in progress"
    ok(daemon, "PUT", "sys/generate-root/update", {"key": shares[2], "nonce": started["nonce"]})
    assert "already been provided" in refused(daemon, "PUT", "sys/generate-root/update",
                                              {"key": shares[2], "nonce": started["nonce"]})
    done = ok(daemon, "PUT", "sys/generate-root/update", {"key": shares[0], "nonce": started["nonce"]})
    generated = decode_token(done["encoded_token"], started["otp"])

    client = hvac.Client(url=daemon.address, token=generated)
    assert client.auth.token.lookup_self()["data"]["policies"] == ["root"]
    client.secrets.kv.v1.create_or_update_secret(path="by-new-root", secret={"ok": "yes"})

    otp = generate_otp(28)
    hvac_started = hvac.Client(url=daemon.address).sys.start_root_token_generation(otp=otp)
    for share in shares[:2]:
        result = hvac.Client(url=daemon.address).sys.generate_root(key=share, nonce=hvac_started["nonce"])
    given = decode_token(result["encoded_root_token"], otp)
    assert given != generated
    assert hvac.Client(url=daemon.address, token=given).secrets.kv.v1.read_secret(
        path="by-new-root")["data"] == {"ok": "yes"}
    log = daemon.log()
    assert f"generate-root [nonce {started['nonce']}]: completed" in log
    assert generated not in log and given not in log and started["otp"] not in log


def test_generate_root_with_recovery_shares_on_a_pkcs11_daemon(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, pkcs11_config(softhsm_token, tmp_path)).start(wait_for="unsealed")
    recovery = json.loads((tmp_path / "init.json").read_text())["recovery_keys"]  # hex, as Vault's `keys`
    token = generate_root(daemon, recovery[1:3])
    assert hvac.Client(url=daemon.address, token=token).auth.token.lookup_self()["data"]["policies"] == ["root"]
