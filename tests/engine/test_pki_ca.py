"""The PKI engine's CA: root generation (internal, exported), the raw and JSON reads of the CA, deleting
it, an intermediate signed by a root on another mount, and config/urls embedded in what is issued."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID

from engine.request import BytesResponse, Op
from tests.engine.core_harness import raised
from tests.engine.pki_harness import Pki, load_pem, start_pki, stop_pki, verify_chain


@pytest.fixture
async def pki() -> AsyncIterator[Pki]:
    engine = await start_pki()
    yield engine
    await stop_pki(engine)


async def test_root_generate_internal(pki: Pki) -> None:
    root = await pki.root_ca(alt_names="ca.example.com", ip_sans="127.0.0.1", max_path_length=2, key_type="rsa")
    assert set(root) == {"certificate", "issuing_ca", "serial_number", "expiration", "issuer_id", "key_id"}
    cert = load_pem(root["certificate"])
    assert root["issuing_ca"] == root["certificate"]
    cert.verify_directly_issued_by(cert)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 2
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["example.com", "ca.example.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    # Vault's spelling: lower-case hex bytes joined by ':'.
    assert all(len(part) == 2 for part in root["serial_number"].split(":"))
    assert int(root["serial_number"].replace(":", ""), 16) == cert.serial_number
    assert root["expiration"] == int(cert.not_valid_after_utc.timestamp())
    assert (cert.not_valid_after_utc - pki.clock()).total_seconds() == 8760 * 3600
    listed = await pki.call(Op.LIST, "pki/certs")
    assert listed.data == {"keys": [root["serial_number"]]}


async def test_ca_reads_need_no_token_and_are_raw(pki: Pki) -> None:
    root = await pki.root_ca()
    pem = await pki.call(Op.READ, "pki/ca/pem", token=None)
    assert isinstance(pem, BytesResponse) and pem.content_type == "application/pem-certificate-chain"
    assert pem.body.decode() == root["certificate"]
    der = await pki.call(Op.READ, "pki/ca", token=None)
    assert isinstance(der, BytesResponse) and der.content_type == "application/pkix-cert"
    assert x509.load_der_x509_certificate(der.body) == load_pem(root["certificate"])
    as_json = (await pki.call(Op.READ, "pki/cert/ca", token=None)).data
    assert as_json is not None and as_json["certificate"] == root["certificate"]
    assert as_json["revocation_time"] == 0
    crl = await pki.call(Op.READ, "pki/crl", token=None)
    assert isinstance(crl, BytesResponse) and crl.content_type == "application/pkix-crl"
    assert x509.load_der_x509_crl(crl.body).is_signature_valid(load_pem(root["certificate"]).public_key())
    # Listing and writing still need a token.
    assert (await raised(pki.call(Op.LIST, "pki/certs", token=None))).status == 403
    denied = await raised(pki.call(Op.UPDATE, "pki/root/generate/internal", {"common_name": "x"}, token=None))
    assert denied.status == 403


async def test_root_generate_exported_returns_the_key(pki: Pki) -> None:
    root = await pki.write("pki/root/generate/exported", common_name="Example Root", key_type="ec", key_bits=384)
    assert root["private_key_type"] == "ec"
    assert root["private_key"].startswith("-----BEGIN EC PRIVATE KEY-----")
    key = serialization.load_pem_private_key(root["private_key"].encode(), None)
    assert load_pem(root["certificate"]).public_key() == key.public_key()
    # A CN that is no host name is not made a DNS name.
    with pytest.raises(x509.ExtensionNotFound):
        load_pem(root["certificate"]).extensions.get_extension_for_class(x509.SubjectAlternativeName)


async def test_second_root_is_refused_until_deleted(pki: Pki) -> None:
    first = await pki.root_ca()
    again = await pki.call(Op.UPDATE, "pki/root/generate/internal", {"common_name": "other.com", "key_type": "ec"})
    assert again.data is None and "Refusing to generate a root certificate" in again.warnings[0]
    assert (await pki.call(Op.READ, "pki/ca/pem")).body.decode() == first["certificate"]  # type: ignore[attr-defined]
    await pki.call(Op.DELETE, "pki/root")
    message = await pki.fails("pki/ca/pem", op=Op.READ)
    assert message.startswith("no default issuer currently configured")
    second = await pki.root_ca()
    assert second["serial_number"] != first["serial_number"]


@pytest.mark.parametrize(
    ("settings", "status", "message"),
    [
        ({"key_bits": 1000}, 400, "unsupported bit length for RSA key: 1000"),
        ({"key_type": "ec", "key_bits": 333}, 400, "unsupported bit length for EC key: 333"),
        ({"key_type": "dsa"}, 400, "unknown key type dsa"),
        ({"common_name": ""}, 400, "the common_name field is required"),
        ({"ip_sans": "300.1.1.1"}, 400, 'the value "300.1.1.1" is not a valid IP address'),
        ({"format": "p12"}, 400, 'unsupported format "p12": use pem, der or pem_bundle'),
    ],
)
async def test_bad_root_requests_change_nothing(
    pki: Pki, settings: dict[str, object], status: int, message: str
) -> None:
    request = {"common_name": "example.com", **settings}
    assert await pki.fails("pki/root/generate/internal", status, **request) == message
    assert (await pki.fails("pki/ca/pem", op=Op.READ)).startswith("no default issuer")


async def test_unknown_generate_type_is_404(pki: Pki) -> None:
    assert await pki.fails("pki/root/generate/kms", 404, common_name="x") == "unsupported path"


async def test_ttl_past_the_mount_max_is_capped_with_a_warning(pki: Pki) -> None:
    request = {"common_name": "a.com", "ttl": "90000h", "key_type": "ec"}
    response = await pki.call(Op.UPDATE, "pki/root/generate/internal", request)
    assert response.warnings == [
        'TTL "90000h0m0s" is longer than permitted maxTTL "87600h0m0s", so maxTTL is being used'
    ]
    assert response.data is not None
    cert = load_pem(response.data["certificate"])
    assert (cert.not_valid_after_utc - pki.clock()).total_seconds() == 87600 * 3600


async def test_intermediate_signed_by_a_root_on_another_mount(pki: Pki) -> None:
    root = await pki.root_ca()
    await pki.mount("pki_int")
    generated = await pki.write(
        "pki_int/intermediate/generate/internal", common_name="Example Intermediate", key_type="ec"
    )
    assert set(generated) == {"csr", "key_id"}
    csr = x509.load_pem_x509_csr(generated["csr"].encode())
    assert csr.is_signature_valid
    signed = await pki.write(
        "pki/root/sign-intermediate", csr=generated["csr"], common_name="int.example.com", ttl="4380h"
    )
    assert signed["issuing_ca"] == root["certificate"] and signed["ca_chain"] == [root["certificate"]]
    intermediate = load_pem(signed["certificate"])
    intermediate.verify_directly_issued_by(load_pem(root["certificate"]))
    assert intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    imported = await pki.write(
        "pki_int/intermediate/set-signed", certificate=signed["certificate"] + "\n" + root["certificate"]
    )
    assert imported["mapping"] == {imported["imported_issuers"][0]: generated["key_id"]}
    chain = (await pki.call(Op.READ, "pki_int/ca_chain", token=None)).body.decode()  # type: ignore[attr-defined]
    assert chain == signed["certificate"] + "\n" + root["certificate"]

    await pki.role(mount="pki_int", max_ttl="10000h")
    leaf = await pki.write("pki_int/issue/web", common_name="api.example.com", ttl="1h")
    assert leaf["issuing_ca"] == signed["certificate"]
    assert leaf["ca_chain"] == [signed["certificate"], root["certificate"]]
    verify_chain(leaf["certificate"], root["certificate"], pki.clock(), "api.example.com", (signed["certificate"],))
    # The leaf may not outlive the intermediate.
    message = await pki.fails("pki_int/issue/web", common_name="api.example.com", ttl="5000h")
    assert message.startswith("cannot satisfy request, as TTL would result in notAfter of")


async def test_set_signed_needs_the_pending_key(pki: Pki) -> None:
    root = await pki.root_ca()
    await pki.mount("pki_int")
    message = await pki.fails("pki_int/intermediate/set-signed", certificate=root["certificate"])
    assert message == "no key is waiting for a signed certificate: call intermediate/generate first"
    await pki.write("pki_int/intermediate/generate/internal", common_name="int", key_type="ed25519")
    message = await pki.fails("pki_int/intermediate/set-signed", certificate=root["certificate"])
    assert message == "the certificate's public key does not match the key made by intermediate/generate"
    message = await pki.fails("pki_int/intermediate/set-signed", certificate="not a certificate")
    assert message.startswith("the certificate could not be parsed")
    assert await pki.fails("pki/root/sign-intermediate", csr="garbage", common_name="x") == (
        "certificate request could not be parsed"
    )


async def test_config_urls_are_embedded(pki: Pki) -> None:
    await pki.root_ca()
    assert await pki.read("pki/config/urls") == {
        "issuing_certificates": [],
        "crl_distribution_points": [],
        "ocsp_servers": [],
    }
    await pki.write(
        "pki/config/urls",
        issuing_certificates="http://127.0.0.1:8200/v1/pki/ca",
        crl_distribution_points=["http://127.0.0.1:8200/v1/pki/crl"],
    )
    assert (await pki.read("pki/config/urls"))["crl_distribution_points"] == ["http://127.0.0.1:8200/v1/pki/crl"]
    assert await pki.fails("pki/config/urls", ocsp_servers="not-a-url") == "invalid URL in ocsp_servers: 'not-a-url'"
    await pki.role()
    leaf = load_pem((await pki.write("pki/issue/web", common_name="a.example.com"))["certificate"])
    access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in access] == [
        (AuthorityInformationAccessOID.CA_ISSUERS, "http://127.0.0.1:8200/v1/pki/ca")
    ]
    points = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [p.full_name[0].value for p in points if p.full_name] == ["http://127.0.0.1:8200/v1/pki/crl"]


async def test_config_ca_imports_a_ca_with_its_key(pki: Pki) -> None:
    await pki.mount("elsewhere")
    made = await pki.write("elsewhere/root/generate/exported", common_name="Imported Root", key_type="ec")
    assert await pki.fails("pki/config/ca", pem_bundle=made["certificate"]) == (
        "private key not found in the PEM bundle"
    )
    assert await pki.fails("pki/config/ca", pem_bundle=made["private_key"]) == (
        "certificate not found in the PEM bundle"
    )
    await pki.role()
    imported = await pki.write("pki/config/ca", pem_bundle=made["private_key"] + "\n" + made["certificate"])
    assert list(imported["mapping"]) == imported["imported_issuers"]
    assert (await pki.read("pki/cert/ca"))["certificate"] == made["certificate"]
    leaf = await pki.write("pki/issue/web", common_name="x.example.com")
    verify_chain(leaf["certificate"], made["certificate"], pki.clock(), "x.example.com")
    # A key that is not the certificate's, or a certificate that is no CA, is refused.
    await pki.mount("third")
    third = await pki.write("third/root/generate/exported", common_name="Third", key_type="ec")
    message = await pki.fails("pki/config/ca", pem_bundle=third["private_key"] + "\n" + made["certificate"])
    assert message == "the private key does not match the first certificate in the PEM bundle"
    leaf_with_key = await pki.write("pki/issue/web", common_name="y.example.com")
    bundle = leaf_with_key["private_key"] + "\n" + leaf_with_key["certificate"]
    message = await pki.fails("pki/config/ca", pem_bundle=bundle)
    assert message == "the certificate is not a CA certificate (basic constraints CA:TRUE)"
    assert (await pki.read("pki/cert/ca"))["certificate"] == made["certificate"]
