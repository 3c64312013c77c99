"""The pkcs11 seal on a TPM through tpm2-pkcs11, with the daemon as a real process: mechanism rsa-oaep
inits, restarts and unseals on its own; mechanism aes-gcm on that token stays sealed and says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.daemon import Daemon
from tests.e2e.lifecycle_helpers import config, init_output, read_secret, seal_status, write_secret
from tests.tpm.tpm2_pkcs11 import Tpm2Pkcs11Token


@pytest.fixture(scope="module")
def tpm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tpm2Pkcs11Token]:
    token = Tpm2Pkcs11Token(tmp_path_factory.mktemp("tpm2-pkcs11-e2e")).start()
    yield token
    token.stop()


def token_seal(token: Tpm2Pkcs11Token, mechanism: str) -> dict[str, Any]:
    return {"pkcs11": {"lib": token.lib, "token_label": token.label, "pin": token.pin, "mechanism": mechanism,
                       "key_label": token.rsa_key_label, "hmac_key_label": token.hmac_key_label}}


def test_rsa_oaep_unseals_on_its_own_and_aes_gcm_is_refused(daemons, tpm_token, tmp_path: Path) -> None:
    daemon: Daemon = daemons(tmp_path, config(tmp_path, token_seal(tpm_token, "rsa-oaep")))
    daemon.env.update(tpm_token.env())
    daemon.start(wait_for="unsealed")
    root = init_output(tmp_path)["root_token"]
    write_secret(daemon, root, "s3cret")
    assert seal_status(daemon)["seals"][0]["wrapped"] is True
    daemon.stop()

    daemon.start(wait_for="unsealed")
    assert read_secret(daemon, root) == "s3cret"
    assert seal_status(daemon)["seals"][0]["healthy"] is True
    daemon.stop()

    daemon.config = config(tmp_path, token_seal(tpm_token, "aes-gcm"))
    daemon.start()
    daemon.wait_until(lambda: "seal_error" in seal_status(daemon), "the seal error to be reported")
    status = seal_status(daemon)
    assert status["sealed"] is True
    assert "does not support CKM_AES_GCM, which mechanism aes-gcm needs; it supports mechanism rsa-oaep" in (
        status["seal_error"])
    daemon.stop()
    assert tpm_token.pin not in daemon.log()
