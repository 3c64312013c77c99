"""Opening an Hsm: token and key lookup, key generation, login, and the errors for each way it fails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from softhsm import SoftHsmToken, make_token

from hsm import (
    Hsm,
    HsmError,
    KeyNotFound,
    ModuleLoadError,
    PinIncorrect,
    Pkcs11Settings,
    TokenNotFound,
    open_hsm,
)

needs_pkcs11_tool = pytest.mark.skipif(shutil.which("pkcs11-tool") is None, reason="opensc not installed")


def pkcs11_tool(token: SoftHsmToken, *args: str) -> subprocess.CompletedProcess[str]:
    """opensc's pkcs11-tool, in its own process: an observer independent of python-pkcs11 and of us."""
    return subprocess.run(
        ["pkcs11-tool", "--module", token.lib, "--token-label", token.label, "--login", "--pin", token.pin,
         *args],
        env=token.env(), capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip


async def test_open_generates_both_keys_and_describes_the_token(softhsm_token: SoftHsmToken) -> None:
    async with open_hsm(softhsm_token.pkcs11_settings()) as hsm:
        info = hsm.describe()
    assert info["token_label"] == softhsm_token.label
    assert info["library"] == softhsm_token.lib
    assert info["manufacturer"] == "SoftHSM"
    assert info["key_label"] == "sealer-root-wrap"
    assert info["hmac_key_label"] == "sealer-hmac"
    assert len(info["token_serial"]) == 16


@needs_pkcs11_tool
async def test_generated_keys_are_sensitive_and_never_extractable(softhsm_token: SoftHsmToken) -> None:
    await (await Hsm.open(softhsm_token.pkcs11_settings())).close()

    listing = pkcs11_tool(softhsm_token, "--list-objects", "--type", "secrkey").stdout
    objects = {block.split("label:")[1].split()[0]: block for block in listing.split("Secret Key Object")[1:]}
    assert set(objects) == {"sealer-root-wrap", "sealer-hmac"}
    assert "AES length 32" in objects["sealer-root-wrap"]
    assert "Generic secret length 32" in objects["sealer-hmac"]
    for block in objects.values():
        access = block.split("Access:")[1].splitlines()[0]
        assert "sensitive" in access
        assert "never extractable" in access


@needs_pkcs11_tool
async def test_an_existing_extractable_key_is_refused(softhsm_token: SoftHsmToken) -> None:
    keygen = ("--keygen", "--key-type", "AES:32", "--label", "sealer-root-wrap", "--extractable")
    pkcs11_tool(softhsm_token, *keygen)  # neither --sensitive nor non-extractable

    with pytest.raises(HsmError, match=r"'sealer-root-wrap'.*can leave the token"):
        await Hsm.open(softhsm_token.pkcs11_settings())


async def test_a_later_open_finds_the_same_keys(softhsm_token: SoftHsmToken) -> None:
    async with open_hsm(softhsm_token.pkcs11_settings()) as first:
        blob = await first.encrypt(b"root key", b"aad")
        mac = await first.hmac(b"data")

    async with open_hsm(softhsm_token.pkcs11_settings(generate_key=False)) as later:
        assert await later.decrypt(blob, b"aad") == b"root key"
        assert await later.hmac(b"data") == mac


async def test_generate_key_never_replaces_an_existing_key(softhsm_token: SoftHsmToken) -> None:
    async with open_hsm(softhsm_token.pkcs11_settings()) as first:
        blob = await first.encrypt(b"secret", b"")
    async with open_hsm(softhsm_token.pkcs11_settings(generate_key=True)) as again:
        assert await again.decrypt(blob, b"") == b"secret"


async def test_open_by_serial(softhsm_token: SoftHsmToken) -> None:
    async with open_hsm(softhsm_token.pkcs11_settings()) as by_label:
        serial = by_label.describe()["token_serial"]
        blob = await by_label.encrypt(b"x", b"")
    settings = softhsm_token.pkcs11_settings(token_label=None, token_serial=serial, generate_key=False)
    async with open_hsm(settings) as by_serial:
        assert by_serial.describe()["token_label"] == softhsm_token.label
        assert await by_serial.decrypt(blob, b"") == b"x"


async def test_two_hsms_on_one_token_share_the_login(softhsm_token: SoftHsmToken) -> None:
    # Login is per process and token: the second open must not fail with UserAlreadyLoggedIn,
    # and closing the first must not log the second out.
    first = await Hsm.open(softhsm_token.pkcs11_settings())
    second = await Hsm.open(softhsm_token.pkcs11_settings())
    blob = await first.encrypt(b"shared", b"")
    await first.close()
    assert await second.decrypt(blob, b"") == b"shared"
    await second.close()


async def test_a_second_hsm_with_a_wrong_pin_is_refused_while_the_token_is_logged_in(
    softhsm_token: SoftHsmToken,
) -> None:
    async with open_hsm(softhsm_token.pkcs11_settings()):
        with pytest.raises(PinIncorrect):
            await Hsm.open(softhsm_token.pkcs11_settings(pin="not-the-pin"))


async def test_wrong_pin(softhsm_token: SoftHsmToken) -> None:
    with pytest.raises(PinIncorrect) as caught:
        await Hsm.open(softhsm_token.pkcs11_settings(pin="9999-wrong"))
    assert str(caught.value) == f"wrong PIN for token '{softhsm_token.label}'"
    assert "9999-wrong" not in str(caught.value)


async def test_unknown_token_label(softhsm: SoftHsmToken) -> None:
    with pytest.raises(TokenNotFound) as caught:
        await Hsm.open(softhsm.pkcs11_settings(token_label="no-such-token"))
    assert str(caught.value) == f"no token labelled 'no-such-token' in module {softhsm.lib}"


async def test_missing_keys_without_generate_key(softhsm_token: SoftHsmToken) -> None:
    with pytest.raises(KeyNotFound) as caught:
        await Hsm.open(softhsm_token.pkcs11_settings(generate_key=False))
    assert str(caught.value) == (
        f"no key labelled 'sealer-root-wrap' on token '{softhsm_token.label}' "
        "(set generate_key: true to create it)"
    )


async def test_missing_hmac_key_is_named(softhsm_token: SoftHsmToken) -> None:
    await (await Hsm.open(softhsm_token.pkcs11_settings())).close()
    with pytest.raises(KeyNotFound, match="no key labelled 'other-hmac' on token"):
        await Hsm.open(softhsm_token.pkcs11_settings(hmac_key_label="other-hmac", generate_key=False))


async def test_bad_module_path(softhsm: SoftHsmToken) -> None:
    with pytest.raises(ModuleLoadError) as caught:
        await Hsm.open(softhsm.pkcs11_settings(lib="/nonexistent/libnope.so"))
    assert str(caught.value).startswith("cannot load PKCS#11 module /nonexistent/libnope.so: ")
    assert "No such file" in str(caught.value)


async def test_a_file_that_is_not_a_pkcs11_module(softhsm: SoftHsmToken, tmp_path: Path) -> None:
    not_a_module = tmp_path / "libfake.so"
    not_a_module.write_bytes(b"\x7fELF garbage")
    with pytest.raises(ModuleLoadError, match=r"cannot load PKCS#11 module .*libfake\.so"):
        await Hsm.open(softhsm.pkcs11_settings(lib=str(not_a_module)))


async def test_a_token_created_while_the_module_is_in_use_is_found(softhsm_token: SoftHsmToken) -> None:
    # SoftHSM lists only the tokens that existed at C_Initialize; open() re-initialises once to look again.
    async with open_hsm(softhsm_token.pkcs11_settings()) as first:
        newer = make_token(softhsm_token.directory, softhsm_token.label + "-new", "1111", "2222")
        async with open_hsm(newer.pkcs11_settings()) as second:
            assert second.describe()["token_label"] == newer.label
        assert len(await first.hmac(b"still works")) == 32


async def test_a_closed_hsm_refuses_calls_and_closes_twice(softhsm_token: SoftHsmToken) -> None:
    async with open_hsm(softhsm_token.pkcs11_settings()) as hsm:
        pass
    with pytest.raises(HsmError, match="closed"):
        await hsm.encrypt(b"x", b"")
    await hsm.close()


def test_settings_need_a_token_and_hide_the_pin() -> None:
    with pytest.raises(ValueError, match="token_label or token_serial"):
        Pkcs11Settings(lib="/x.so", pin="1234")
    settings = Pkcs11Settings(lib="/x.so", pin="secret-pin", token_label="t")
    assert "secret-pin" not in repr(settings)
