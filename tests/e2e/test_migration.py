"""Seal migration with the daemon as a real process: shamir -> pkcs11 driven by `sealer operator migrate`,
pkcs11 -> shamir through sys/unseal with migrate=true, and the daemon killed (SIGKILL, by itself at a
named step) during each step: after every kill it still unseals with the old seal or the new one."""

from __future__ import annotations

from pathlib import Path

import hvac

from tests.e2e.lifecycle_helpers import (
    config,
    crash_at,
    init_output,
    read_secret,
    seal_status,
    sealer,
    token_block,
    unseal,
    write_secret,
)


def test_shamir_to_pkcs11_survives_a_kill_at_every_step(daemons, softhsm_token, tmp_path: Path) -> None:
    old_config = config(tmp_path, {"shamir": {}})
    new_config = config(tmp_path, {"shamir": {"disabled": True}, "pkcs11": token_block(softhsm_token)})
    daemon = daemons(tmp_path, old_config).start(wait_for="unsealed")
    secrets_out = init_output(tmp_path)
    root, shares = secrets_out["root_token"], secrets_out["keys"]
    write_secret(daemon, root, "before-migration")
    daemon.stop()

    def migrate() -> None:
        sealer(daemon, "operator", "migrate", stdin=f"{shares[0]}\n{shares[2]}\n")

    def old_seal_still_unseals() -> None:
        daemon.config = old_config
        daemon.start()
        assert seal_status(daemon)["migration"] is False
        assert unseal(daemon, shares[1:])["sealed"] is False
        assert read_secret(daemon, root) == "before-migration"
        status, layout = daemon.call("GET", "sys/sealer/seal", token=root)
        assert status == 200 and [w["kind"] for w in layout["wrappings"]] == ["shamir"]  # staging dropped
        daemon.stop()
        daemon.config = new_config

    daemon.config = new_config
    crash_at(daemon, "migrate-proven", migrate)
    old_seal_still_unseals()

    def resume() -> None:
        assert seal_status(daemon)["migration"] is True
        migrate()

    crash_at(daemon, "migrate-staged", migrate)
    # Same configuration again: still pending, and the migration resumes (restaging what was staged).
    crash_at(daemon, "migrate-verified", resume)
    old_seal_still_unseals()

    crash_at(daemon, "migrate-committed", migrate)
    daemon.start(wait_for="unsealed")  # the new seal is in force: the token unseals it alone
    status = seal_status(daemon)
    assert (status["type"], status["recovery_seal"], status["migration"], status["t"], status["n"]) == (
        "pkcs11", True, False, 2, 3)
    assert read_secret(daemon, root) == "before-migration"
    assert "remove the disabled shamir block" in daemon.log()
    # The old unseal shares are now the recovery shares.
    assert daemon.call("PUT", "sys/seal", token=root)[0] == 204
    assert unseal(daemon, [shares[2], shares[1]])["sealed"] is False
    assert all(share not in daemon.log() for share in shares)


def test_pkcs11_to_shamir_with_the_cli_and_hvac(daemons, softhsm_token, tmp_path: Path) -> None:
    pkcs11 = token_block(softhsm_token)
    daemon = daemons(tmp_path, config(tmp_path, {"pkcs11": pkcs11})).start(wait_for="unsealed")
    secrets_out = init_output(tmp_path)
    root, recovery = secrets_out["root_token"], secrets_out["recovery_keys"]
    write_secret(daemon, root, "kept")
    daemon.stop()

    daemon.config = config(tmp_path, {"pkcs11": {**pkcs11, "disabled": True}})
    client = hvac.Client(url=f"http://127.0.0.1:{daemon.port}")

    def migrate_with_cli_and_hvac() -> None:
        first = sealer(daemon, "operator", "unseal", "-migrate", recovery[0])
        assert first.returncode == 0 and "Seal Migration in Progress" in first.stdout, first.stderr
        client.sys.submit_unseal_key(recovery[1], migrate=True)

    crash_at(daemon, "migrate-staged", migrate_with_cli_and_hvac)
    # Back to the old configuration: the token unseals as before.
    daemon.config = config(tmp_path, {"pkcs11": pkcs11})
    daemon.start(wait_for="unsealed")
    assert read_secret(daemon, root) == "kept"
    daemon.stop()

    daemon.config = config(tmp_path, {"pkcs11": {**pkcs11, "disabled": True}})
    daemon.start()
    pending = sealer(daemon, "operator", "migrate", "-status")
    assert pending.returncode == 0 and "pending" in pending.stdout
    refused = daemon.call("PUT", "sys/unseal", {"key": recovery[0]})
    assert refused == (400, {"errors": ["migrate option not provided and seal migration is pending"]})
    done = sealer(daemon, "operator", "migrate", stdin=f"{recovery[2]}\n{recovery[0]}\n")
    assert done.returncode == 0, done.stderr
    assert "Success! Seal migration from pkcs11 to shamir complete." in done.stdout
    assert "1 of 2 shares" in done.stderr
    assert seal_status(daemon)["type"] == "shamir"
    assert read_secret(daemon, root) == "kept"
    daemon.stop()

    # Shamir alone from now on: the recovery shares are the unseal shares.
    daemon.config = config(tmp_path, {"shamir": {}})
    daemon.start()
    assert seal_status(daemon)["sealed"] is True
    assert unseal(daemon, recovery[1:])["sealed"] is False
    assert read_secret(daemon, root) == "kept"
