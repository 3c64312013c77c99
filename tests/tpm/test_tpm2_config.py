"""`seal: tpm2:` in the configuration, and the seal the daemon builds from it."""

from __future__ import annotations

from typing import Any

import pytest

from sealer.config import ConfigError, Tpm2SealConfig, parse_config
from sealer.seals.factory import seal_setup
from sealer.seals.tpm2 import Tpm2Seal


def config(seal: object) -> Any:
    return parse_config({"storage": {"memory": {}}, "seal": seal}, {})


def error_of(seal: object) -> str:
    with pytest.raises(ConfigError) as info:
        config(seal)
    return str(info.value)


def test_the_tpm2_block_with_its_defaults_and_a_pcr_policy() -> None:
    assert config({"tpm2": {}}).seal == Tpm2SealConfig(tcti="device:/dev/tpmrm0", pcrs=None)
    parsed = config({"tpm2": {"tcti": "swtpm:host=127.0.0.1,port=2321", "pcrs": "SHA256:7,0"}})
    assert parsed.seal == Tpm2SealConfig(tcti="swtpm:host=127.0.0.1,port=2321", pcrs="sha256:0,7")
    # Recovery shares must be able to re-seal after a PCR change: break-glass is always on for this seal.
    assert parsed.break_glass is True
    assert parsed.describe()["seal"] == {"type": "tpm2", "tcti": "swtpm:host=127.0.0.1,port=2321",
                                         "pcrs": "sha256:0,7", "break_glass": True}


def test_the_daemon_builds_a_tpm2_seal_with_break_glass() -> None:
    setup = seal_setup(config({"tpm2": {"pcrs": "sha256:0"}}))
    assert isinstance(setup.active, Tpm2Seal) and setup.active.type == "tpm2"
    assert str(setup.active.device.pcrs) == "sha256:0" and setup.active.auto_unseal
    assert setup.options.break_glass is True


@pytest.mark.parametrize(("seal", "message"), [
    ({"tpm2": {"pcrs": "sha256:0,24"}}, "seal.tpm2.pcrs: PCR indices are numbers from 0 to 23, got '24' in sha256"),
    ({"tpm2": {"pcrs": "0,7"}}, "seal.tpm2.pcrs: expected BANK:INDEX,INDEX..."),
    ({"tpm2": {"pcrs": 7}}, "seal.tpm2.pcrs: expected a string, got 7"),
    ({"tpm2": {"tcti": "/dev/tpmrm0"}}, "seal.tpm2.tcti: expected NAME:CONFIG"),
    ({"tpm2": {"pcr": "sha256:0"}}, "seal.tpm2.pcr: unknown key (did you mean 'pcrs'?)"),
    ({"tpm2": {}, "break_glass": False}, "seal.break_glass: the tpm2 seal always keeps the root key"),
    ({"tpm2": {}, "shamir": {"disabled": True}}, "seal: seal migration to or from the tpm2 seal is not supported"),
])
def test_bad_tpm2_blocks_name_the_key(seal: object, message: str) -> None:
    assert error_of(seal).startswith(message)


def test_the_pkcs11_mechanism_defaults_to_aes_gcm_and_takes_rsa_oaep() -> None:
    token = {"lib": "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so", "token_label": "tpm", "pin": "1234"}
    assert config({"pkcs11": token}).seal.mechanism == "aes-gcm"
    parsed = config({"pkcs11": {**token, "mechanism": "rsa-oaep"}})
    assert parsed.seal.mechanism == "rsa-oaep" and seal_setup(parsed).active.tokens[0].settings.mechanism == "rsa-oaep"
    assert error_of({"pkcs11": {**token, "mechanism": "aes-cbc"}}) == (
        "seal.pkcs11.mechanism: expected one of aes-gcm, rsa-oaep (rsa-oaep for a TPM through tpm2-pkcs11); "
        "got 'aes-cbc'")
