"""Certificates over their life: signing a CSR, revocation and the CRL, cert/:serial reads, leased
certificates (revoking or expiring the lease revokes the certificate; revoke-prefix on the mount revokes
all of them), no_store, the der format and tidy."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from engine.request import BytesResponse, Op
from tests.engine.pki_harness import Pki, load_pem, start_pki, stop_pki, verify_chain


@pytest.fixture
async def pki() -> AsyncIterator[Pki]:
    engine = await start_pki()
    await engine.root_ca()
    await engine.role()
    yield engine
    await stop_pki(engine)


def make_csr(common_name: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, *dns: str) -> str:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


async def crl_serials(pki: Pki) -> set[int]:
    response = await pki.call(Op.READ, "pki/crl", token=None)
    assert isinstance(response, BytesResponse)
    crl = x509.load_der_x509_crl(response.body)
    ca = load_pem((await pki.read("pki/cert/ca"))["certificate"])
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    return {entry.serial_number for entry in crl}


def serial_int(serial: str) -> int:
    return int(serial.replace(":", ""), 16)


async def test_sign_a_csr(pki: Pki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signed = await pki.write("pki/sign/web", csr=make_csr("svc.example.com", key, "svc.example.com", "alt.example.com"))
    assert "private_key" not in signed
    cert = load_pem(signed["certificate"])
    assert cert.public_key() == key.public_key()
    assert cert.subject.rfc4514_string() == "CN=svc.example.com"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["svc.example.com", "alt.example.com"]
    verify_chain(signed["certificate"], signed["issuing_ca"], pki.clock(), "alt.example.com")
    assert (
        await pki.fails("pki/sign/web", csr=make_csr("evil.org", key))
        == "common name evil.org not allowed by this role"
    )
    assert await pki.fails("pki/sign/web", csr="-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n") == (
        "certificate request could not be parsed"
    )
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await pki.fails("pki/sign/web", csr=make_csr("svc.example.com", rsa_key)) == "role requires keys of type ec"
    await pki.role(key_type="any")
    assert load_pem((await pki.write("pki/sign/web", csr=make_csr("r.example.com", rsa_key)))["certificate"])


async def test_revoke_lists_the_serial_on_the_crl(pki: Pki) -> None:
    issued = await pki.write("pki/issue/web", common_name="gone.example.com")
    kept = await pki.write("pki/issue/web", common_name="kept.example.com")
    assert await crl_serials(pki) == set()
    revoked = await pki.write("pki/revoke", serial_number=issued["serial_number"])
    assert revoked["revocation_time"] == int(pki.clock().timestamp())
    assert revoked["state"] == "revoked" and revoked["revocation_time_rfc3339"].endswith("Z")
    assert await crl_serials(pki) == {serial_int(issued["serial_number"])}
    read = await pki.call(Op.READ, f"pki/cert/{issued['serial_number']}", token=None)
    assert read.data is not None and read.data["revocation_time"] == revoked["revocation_time"]
    assert (await pki.read(f"pki/cert/{kept['serial_number'].replace(':', '-')}"))["revocation_time"] == 0
    # Revoking again keeps the first revocation; the serial may be spelt with '-' and upper case.
    pki.clock.advance(60)
    again = await pki.write("pki/revoke", serial_number=issued["serial_number"].replace(":", "-").upper())
    assert again["revocation_time"] == revoked["revocation_time"]
    listed = await pki.call(Op.LIST, "pki/certs/revoked")
    assert listed.data == {"keys": [issued["serial_number"]]}
    crl_pem = (await pki.call(Op.READ, "pki/crl/pem", token=None)).body.decode()  # type: ignore[attr-defined]
    assert x509.load_pem_x509_crl(crl_pem.encode()).get_revoked_certificate_by_serial_number(
        serial_int(issued["serial_number"])
    )


async def test_revoke_refusals(pki: Pki) -> None:
    assert await pki.fails("pki/revoke", serial_number="01:02:03") == "certificate with serial 01:02:03 not found."
    ca_serial = (await pki.call(Op.LIST, "pki/certs")).data["keys"][0]  # type: ignore[index]
    assert await pki.fails("pki/revoke", serial_number=ca_serial) == "adding CA to CRL is not allowed"
    assert await pki.fails("pki/revoke", serial_number="zz") == (
        "invalid serial number 'zz': expected hex bytes separated by ':' or '-'"
    )
    assert await pki.fails("pki/revoke") == "field 'serial_number': missing required field"
    assert await crl_serials(pki) == set()
    assert await pki.fails("pki/cert/01:02", 404, op=Op.READ) == ""


async def test_crl_rotate_bumps_the_number(pki: Pki) -> None:
    def number(der: bytes) -> int:
        return int(x509.load_der_x509_crl(der).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)

    before = number((await pki.call(Op.READ, "pki/crl")).body)  # type: ignore[attr-defined]
    assert (await pki.read("pki/crl/rotate")) == {"success": True}
    assert number((await pki.call(Op.READ, "pki/crl")).body) == before + 1  # type: ignore[attr-defined]


async def test_leased_certificates_are_revoked_with_their_lease(pki: Pki) -> None:
    await pki.role(generate_lease=True, ttl="1h")
    response = await pki.call(Op.UPDATE, "pki/issue/web", {"common_name": "leased.example.com"})
    assert response.data is not None
    assert response.lease_id.startswith("pki/issue/web/")
    assert response.lease_duration == 3600 and not response.renewable
    serial = response.data["serial_number"]
    await pki.call(Op.UPDATE, "sys/leases/revoke", {"lease_id": response.lease_id})
    assert serial_int(serial) in await crl_serials(pki)


async def test_a_lease_ending_before_its_certificate_revokes_it(pki: Pki) -> None:
    # The mount caps leases at 1h; the role's certificates last 10h.
    await pki.call(Op.UPDATE, "sys/mounts/pki/tune", {"max_lease_ttl": "1h"})
    await pki.role(generate_lease=True, ttl="10h", max_ttl="10h")
    response = await pki.call(Op.UPDATE, "pki/issue/web", {"common_name": "capped.example.com"})
    assert response.data is not None and response.lease_duration == 3600
    cert = load_pem(response.data["certificate"])
    assert (cert.not_valid_after_utc - pki.clock()).total_seconds() == 10 * 3600
    pki.clock.advance(3601)
    assert await pki.core.expiration.expire_due(pki.clock()) == 1
    assert serial_int(response.data["serial_number"]) in await crl_serials(pki)


async def test_an_expired_certificate_is_not_put_on_the_crl(pki: Pki) -> None:
    """As Vault: once a certificate has expired it needs no CRL entry, whether its lease ends or it is
    revoked by serial."""
    await pki.role(generate_lease=True, ttl="10m")
    leased = await pki.write("pki/issue/web", common_name="short.example.com")
    await pki.role(ttl="10m")
    plain = await pki.write("pki/issue/web", common_name="plain.example.com")
    pki.clock.advance(601)
    assert await pki.core.expiration.expire_due(pki.clock()) == 1
    response = await pki.call(Op.UPDATE, "pki/revoke", {"serial_number": plain["serial_number"]})
    assert response.data is None
    assert response.warnings == [
        f"certificate with serial {plain['serial_number']} already expired; refusing to add to CRL"
    ]
    assert await crl_serials(pki) == set()
    assert serial_int(leased["serial_number"]) not in await crl_serials(pki)


async def test_revoke_prefix_on_the_mount_revokes_every_leased_certificate(pki: Pki) -> None:
    await pki.role(generate_lease=True)
    leased = [(await pki.write("pki/issue/web", common_name=f"n{i}.example.com"))["serial_number"] for i in range(3)]
    await pki.role(name="plain")
    plain = (await pki.write("pki/issue/plain", common_name="plain.example.com"))["serial_number"]
    listed = (await pki.call(Op.LIST, "sys/leases/lookup/pki/issue/web/")).data
    assert listed is not None and len(listed["keys"]) == 3
    await pki.call(Op.UPDATE, "sys/leases/revoke-prefix/pki/")
    assert await crl_serials(pki) == {serial_int(s) for s in leased}
    assert serial_int(plain) not in await crl_serials(pki)
    assert await pki.fails("sys/leases/lookup/pki/issue/web/", 404, op=Op.LIST) == ""


async def test_no_store_certificates_are_not_kept(pki: Pki) -> None:
    await pki.role(no_store=True)
    issued = await pki.write("pki/issue/web", common_name="ephemeral.example.com")
    listed = (await pki.call(Op.LIST, "pki/certs")).data
    assert listed is not None and issued["serial_number"] not in listed["keys"]
    message = await pki.fails("pki/revoke", serial_number=issued["serial_number"])
    assert message == f"certificate with serial {issued['serial_number']} not found."


async def test_der_format(pki: Pki) -> None:
    issued = await pki.write("pki/issue/web", common_name="der.example.com", format="der")
    cert = x509.load_der_x509_certificate(base64.b64decode(issued["certificate"]))
    key = serialization.load_der_private_key(base64.b64decode(issued["private_key"]), None)
    assert cert.public_key() == key.public_key()
    assert (
        x509.load_der_x509_certificate(base64.b64decode(issued["issuing_ca"]))
        .extensions.get_extension_for_class(x509.BasicConstraints)
        .value.ca
    )


async def test_pem_bundle_format(pki: Pki) -> None:
    issued = await pki.write("pki/issue/web", common_name="bundle.example.com", format="pem_bundle")
    ca_pem = (await pki.read("pki/cert/ca"))["certificate"]
    key_pem, _, rest = issued["certificate"].partition("-----END EC PRIVATE KEY-----\n")
    assert key_pem + "-----END EC PRIVATE KEY-----" == issued["private_key"]
    certs = x509.load_pem_x509_certificates(rest.encode())
    assert [c.subject.rfc4514_string() for c in certs] == ["CN=bundle.example.com", "CN=example.com"]
    assert rest.endswith(ca_pem) and issued["ca_chain"] == [ca_pem]


async def test_tidy_drops_expired_certificates_past_the_safety_buffer(pki: Pki) -> None:
    short = await pki.write("pki/issue/web", common_name="old.example.com", ttl="1h")
    await pki.write("pki/revoke", serial_number=short["serial_number"])
    long = await pki.write("pki/issue/web", common_name="new.example.com", ttl="72h")
    assert await pki.fails("pki/tidy") == "at least one of tidy_cert_store and tidy_revoked_certs must be enabled"
    pki.clock.advance(2 * 3600)
    # Expired, but within the default 72h safety buffer: kept.
    response = await pki.call(Op.UPDATE, "pki/tidy", {"tidy_cert_store": True, "tidy_revoked_certs": True})
    assert response.status == 202 and response.warnings[0].startswith("Tidy operation successfully started")
    assert response.data is not None and response.data["cert_store_deleted_count"] == 0
    response = await pki.call(
        Op.UPDATE, "pki/tidy", {"tidy_cert_store": True, "tidy_revoked_certs": True, "safety_buffer": "30m"}
    )
    assert response.data is not None
    assert (response.data["cert_store_deleted_count"], response.data["revoked_cert_deleted_count"]) == (1, 1)
    keys = (await pki.call(Op.LIST, "pki/certs")).data["keys"]  # type: ignore[index]
    assert short["serial_number"] not in keys and long["serial_number"] in keys
    assert await crl_serials(pki) == set()


async def test_crl_config(pki: Pki) -> None:
    assert await pki.read("pki/config/crl") == {"expiry": "72h", "disable": False}
    issued = await pki.write("pki/issue/web", common_name="listed.example.com")
    await pki.write("pki/revoke", serial_number=issued["serial_number"])
    await pki.write("pki/config/crl", expiry="24h")
    crl = x509.load_der_x509_crl((await pki.call(Op.READ, "pki/crl")).body)  # type: ignore[attr-defined]
    assert crl.next_update_utc is not None and crl.last_update_utc is not None
    assert (crl.next_update_utc - crl.last_update_utc).total_seconds() == 24 * 3600
    assert serial_int(issued["serial_number"]) in await crl_serials(pki)
    # Disabled: the CRL is still published, listing nothing.
    await pki.write("pki/config/crl", disable=True)
    assert await pki.read("pki/config/crl") == {"expiry": "24h", "disable": True}
    assert await crl_serials(pki) == set()
    message = await pki.fails("pki/config/crl", expiry="soon")
    assert message == 'given expiry could not be decoded: time: invalid duration "soon"'
    assert (await pki.read("pki/config/crl"))["expiry"] == "24h"
