"""hsm/tpm2 against swtpm: sealing under a PCR policy, what a PCR change does, and the TPM's failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsm.tpm2 import (
    PcrMismatch,
    SealedObject,
    Tpm2Settings,
    TpmError,
    TpmObjectInvalid,
    TpmUnreachable,
    parse_pcrs,
)
from hsm.tpm2.device import Tpm
from tests.tpm.swtpm import SwTpm

SECRET = b"k" * 32


async def test_seal_and_unseal_under_a_pcr_policy(swtpm: SwTpm) -> None:
    tpm = await Tpm.open(Tpm2Settings(swtpm.tcti))
    try:
        sealed = await tpm.seal(SECRET, parse_pcrs("sha256:0,7"))
        assert SECRET not in sealed.public + sealed.private
        assert set(sealed.pcr_values) == {"sha256:0", "sha256:7"}
        assert await tpm.unseal(sealed) == SECRET
        assert tpm.describe()["manufacturer"] == "IBM"  # swtpm's
    finally:
        await tpm.close()


async def test_a_pcr_extend_refuses_the_unseal_and_names_the_changed_pcr(swtpm: SwTpm) -> None:
    tpm = await Tpm.open(Tpm2Settings(swtpm.tcti))
    try:
        sealed = await tpm.seal(SECRET, parse_pcrs("sha256:1,2"))
        unbound = await tpm.seal(SECRET, None)
        swtpm.extend_pcr(2)
        with pytest.raises(PcrMismatch) as caught:
            await tpm.unseal(sealed)
        assert caught.value.changed == ("sha256:2",)
        assert caught.value.sealed_to == "sha256:1,2"
        assert "changed: sha256:2" in caught.value.message
        # Without a policy the object is bound to the TPM alone, not to its boot state.
        assert await tpm.unseal(unbound) == SECRET
        # Sealed again in the new state, it opens again (what tpm-reseal does).
        assert await tpm.unseal(await tpm.seal(SECRET, parse_pcrs("sha256:1,2"))) == SECRET
    finally:
        await tpm.close()


async def test_another_tpm_cannot_load_the_object(swtpm: SwTpm, tmp_path: Path) -> None:
    other = SwTpm(tmp_path).start()
    first, second = await Tpm.open(Tpm2Settings(swtpm.tcti)), await Tpm.open(Tpm2Settings(other.tcti))
    try:
        sealed = await first.seal(SECRET, None)
        with pytest.raises(TpmObjectInvalid, match="sealed by another TPM"):
            await second.unseal(sealed)
    finally:
        await first.close()
        await second.close()
        other.stop()


async def test_an_unreachable_tpm_is_reported_and_a_restarted_one_reconnects(tmp_path: Path) -> None:
    with pytest.raises(TpmUnreachable, match=r"cannot reach a TPM at TCTI 'swtpm:host=127\.0\.0\.1,port=1'"):
        await Tpm.open(Tpm2Settings("swtpm:host=127.0.0.1,port=1", call_timeout=5))
    own = SwTpm(tmp_path).start()
    tpm = await Tpm.open(Tpm2Settings(own.tcti))
    try:
        sealed = await tpm.seal(SECRET, parse_pcrs("sha256:3"))
        own.stop()
        with pytest.raises(TpmUnreachable):
            await tpm.unseal(sealed)
        own.start(same_port=True)
        # The primary is re-derived from the same seed: the object sealed before the restart still opens.
        assert await tpm.unseal(sealed) == SECRET
    finally:
        await tpm.close()
        own.stop()


async def test_a_tampered_object_does_not_unseal(swtpm: SwTpm) -> None:
    tpm = await Tpm.open(Tpm2Settings(swtpm.tcti))
    try:
        sealed = await tpm.seal(SECRET, None)
        private = bytearray(sealed.private)
        private[-1] ^= 1
        with pytest.raises(TpmObjectInvalid):
            await tpm.unseal(SealedObject(public=sealed.public, private=bytes(private)))
    finally:
        await tpm.close()


async def test_a_tpm_whose_object_slots_are_full_says_how_to_free_them(tmp_path: Path) -> None:
    own = SwTpm(tmp_path).start()
    try:
        # Without a resource manager, what another process loaded stays loaded: swtpm has three slots.
        for number in range(3):
            own.tool("tpm2_createprimary", "-Q", "-C", "o", "-c", str(tmp_path / f"primary-{number}.ctx"))
        with pytest.raises(TpmError, match=r"no free slot .* tpm2_flushcontext -t"):
            await Tpm.open(Tpm2Settings(own.tcti))
        own.tool("tpm2_flushcontext", "-t")
        await (await Tpm.open(Tpm2Settings(own.tcti))).close()
    finally:
        own.stop()


@pytest.mark.parametrize(("text", "canonical"), [
    ("sha256:0,7", "sha256:0,7"),
    ("SHA256: 7, 0 ,7", "sha256:0,7"),
    ("sha1:0+sha256:7", "sha1:0+sha256:7"),
])
def test_pcr_selections_parse_to_their_canonical_form(text: str, canonical: str) -> None:
    assert str(parse_pcrs(text)) == canonical


@pytest.mark.parametrize(("text", "message"), [
    ("0,7", "expected BANK:INDEX"),
    ("md5:0", "expected BANK:INDEX"),
    ("sha256:24", "from 0 to 23"),
    ("sha256:", "from 0 to 23"),
    ("sha256:0+sha256:1", "given twice"),
])
def test_bad_pcr_selections_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_pcrs(text)
