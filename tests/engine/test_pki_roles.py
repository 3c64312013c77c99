"""PKI roles: storage with Vault's defaults, refused settings, which names a role lets through (Vault's
messages for the rest), the key types issued, the extended key usages and how long certificates last."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from engine.request import Op
from tests.engine.pki_harness import Pki, load_pem, start_pki, stop_pki, verify_chain


@pytest.fixture
async def pki() -> AsyncIterator[Pki]:
    engine = await start_pki()
    await engine.root_ca()
    yield engine
    await stop_pki(engine)


async def test_role_crud_with_vault_defaults(pki: Pki) -> None:
    written = await pki.write("pki/roles/web", allowed_domains="example.com,example.org", allow_subdomains=True)
    role = await pki.read("pki/roles/web")
    assert role == written
    assert role["allowed_domains"] == ["example.com", "example.org"]
    assert (role["key_type"], role["key_bits"], role["ttl"], role["max_ttl"]) == ("rsa", 2048, 0, 0)
    assert role["key_usage"] == ["DigitalSignature", "KeyAgreement", "KeyEncipherment"]
    assert role["allow_localhost"] and role["enforce_hostnames"] and role["allow_ip_sans"]
    assert role["server_flag"] and role["client_flag"]
    assert not role["allow_bare_domains"] and not role["generate_lease"] and not role["no_store"]
    await pki.write("pki/roles/db", key_type="ec", key_usage=["digitalsignature"])
    assert (await pki.read("pki/roles/db"))["key_bits"] == 256
    assert (await pki.read("pki/roles/db"))["key_usage"] == ["DigitalSignature"]
    assert (await pki.call(Op.LIST, "pki/roles")).data == {"keys": ["db", "web"]}
    await pki.call(Op.DELETE, "pki/roles/db")
    assert await pki.fails("pki/roles/db", 404, op=Op.READ) == ""
    assert (await pki.call(Op.LIST, "pki/roles")).data == {"keys": ["web"]}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"key_type": "dsa"}, "unknown key type dsa"),
        ({"key_type": "ec", "key_bits": 333}, "unsupported bit length for EC key: 333"),
        ({"key_type": "rsa", "key_bits": 1024}, "unsupported bit length for RSA key: 1024"),
        ({"ttl": "2h", "max_ttl": "1h"}, '"ttl" value must be less than "max_ttl" value'),
        (
            {"key_usage": "Teleport"},
            "unknown key usage 'Teleport'; valid values: DigitalSignature, "
            "ContentCommitment, KeyEncipherment, DataEncipherment, KeyAgreement, CertSign, CRLSign, EncipherOnly, "
            "DecipherOnly",
        ),
        ({"ttl": "soon"}, "field 'ttl': expected a duration, got 'soon'"),
    ],
)
async def test_bad_roles_are_refused_and_not_stored(pki: Pki, settings: dict[str, Any], message: str) -> None:
    assert await pki.fails("pki/roles/bad", **settings) == message
    assert await pki.fails("pki/roles/bad", 404, op=Op.READ) == ""


ALLOWED = {"allowed_domains": ["example.com"]}


@pytest.mark.parametrize(
    ("settings", "name", "allowed"),
    [
        ({**ALLOWED, "allow_subdomains": True}, "api.example.com", True),
        ({**ALLOWED, "allow_subdomains": True}, "a.b.example.com", True),
        ({**ALLOWED, "allow_subdomains": True}, "*.example.com", True),
        ({**ALLOWED, "allow_subdomains": True, "allow_wildcard_certificates": False}, "*.example.com", False),
        ({**ALLOWED, "allow_subdomains": True}, "example.com", False),
        ({**ALLOWED, "allow_bare_domains": True}, "example.com", True),
        ({**ALLOWED, "allow_bare_domains": True}, "api.example.com", False),
        ({**ALLOWED, "allow_subdomains": True}, "badexample.com", False),
        ({**ALLOWED, "allow_subdomains": True}, "api.example.com.evil.org", False),
        ({"allowed_domains": ["*.example.com"], "allow_glob_domains": True}, "db.example.com", True),
        ({"allowed_domains": ["*.example.com"], "allow_glob_domains": True}, "db.example.org", False),
        ({"allow_any_name": True}, "anything.org", True),
        ({"allow_any_name": True}, "not a host!", False),
        ({"allow_any_name": True, "enforce_hostnames": False}, "not a host!", True),
        ({}, "localhost", True),
        ({"allow_localhost": False}, "localhost", False),
        ({}, "example.com", False),
    ],
)
async def test_common_name_policy(pki: Pki, settings: dict[str, Any], name: str, allowed: bool) -> None:
    await pki.write("pki/roles/r", key_type="ec", **settings)
    if allowed:
        issued = await pki.write("pki/issue/r", common_name=name)
        assert load_pem(issued["certificate"]).subject.rfc4514_string() == f"CN={name}"
    else:
        assert await pki.fails("pki/issue/r", common_name=name) == f"common name {name} not allowed by this role"
        assert (await pki.call(Op.LIST, "pki/certs")).data is not None
        assert len((await pki.call(Op.LIST, "pki/certs")).data["keys"]) == 1  # type: ignore[index]


async def test_alt_names_ip_sans_and_emails_are_checked(pki: Pki) -> None:
    await pki.role(allow_ip_sans=False)
    message = await pki.fails("pki/issue/web", common_name="a.example.com", alt_names="b.example.com,c.other.org")
    assert message == "subject alternate name c.other.org not allowed by this role"
    message = await pki.fails("pki/issue/web", common_name="a.example.com", alt_names="ops@other.org")
    assert message == "email address ops@other.org not allowed by this role"
    message = await pki.fails("pki/issue/web", common_name="a.example.com", ip_sans="10.0.0.1")
    assert message == "IP Subject Alternative Names are not allowed in this role, but was provided 10.0.0.1"
    assert await pki.fails("pki/issue/web") == (
        'the common_name field is required, or must be provided in a CSR with "use_csr_common_name" set to true, '
        'unless "require_cn" is set to false'
    )
    await pki.role(allow_ip_sans=True)
    issued = await pki.write(
        "pki/issue/web", common_name="a.example.com", alt_names="b.example.com,ops@mail.example.com", ip_sans="10.0.0.1"
    )
    san = load_pem(issued["certificate"]).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["a.example.com", "b.example.com"]
    assert san.get_values_for_type(x509.RFC822Name) == ["ops@mail.example.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.1"]
    excluded = await pki.write("pki/issue/web", common_name="a.example.com", exclude_cn_from_sans=True)
    with pytest.raises(x509.ExtensionNotFound):
        load_pem(excluded["certificate"]).extensions.get_extension_for_class(x509.SubjectAlternativeName)


@pytest.mark.parametrize(
    ("key_type", "key_bits", "pem_header", "key_class", "size"),
    [
        ("rsa", 2048, "RSA PRIVATE KEY", rsa.RSAPrivateKey, 2048),
        ("ec", 384, "EC PRIVATE KEY", ec.EllipticCurvePrivateKey, 384),
        ("ed25519", 0, "PRIVATE KEY", ed25519.Ed25519PrivateKey, None),
    ],
)
async def test_issued_key_types(
    pki: Pki, key_type: str, key_bits: int, pem_header: str, key_class: type, size: int | None
) -> None:
    await pki.role(key_type=key_type, key_bits=key_bits)
    issued = await pki.write("pki/issue/web", common_name="k.example.com")
    assert issued["private_key_type"] == key_type
    assert issued["private_key"].startswith(f"-----BEGIN {pem_header}-----")
    key = serialization.load_pem_private_key(issued["private_key"].encode(), None)
    assert isinstance(key, key_class)
    if size is not None:
        assert key.key_size == size  # type: ignore[attr-defined]
    cert = load_pem(issued["certificate"])
    assert cert.public_key() == key.public_key()
    root = load_pem((await pki.read("pki/cert/ca"))["certificate"])
    cert.verify_directly_issued_by(root)
    verify_chain(issued["certificate"], (await pki.read("pki/cert/ca"))["certificate"], pki.clock(), "k.example.com")


async def test_usages_follow_the_role(pki: Pki) -> None:
    await pki.role(server_flag=False, ext_key_usage=["TimeStamping"], key_usage=["DigitalSignature"])
    cert = load_pem((await pki.write("pki/issue/web", common_name="c.example.com"))["certificate"])
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.TIME_STAMPING]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_encipherment
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert not constraints.ca


async def test_ttls(pki: Pki) -> None:
    await pki.role(ttl="2h", max_ttl="10h")
    now = pki.clock()
    default = load_pem((await pki.write("pki/issue/web", common_name="t.example.com"))["certificate"])
    assert (default.not_valid_after_utc - now).total_seconds() == 2 * 3600
    assert (now - default.not_valid_before_utc).total_seconds() == 30  # back-dated, as Vault does
    response = await pki.call(Op.UPDATE, "pki/issue/web", {"common_name": "t.example.com", "ttl": "20h"})
    assert response.warnings == ['TTL "20h0m0s" is longer than permitted maxTTL "10h0m0s", so maxTTL is being used']
    assert response.data is not None
    capped = load_pem(response.data["certificate"])
    assert (capped.not_valid_after_utc - now).total_seconds() == 10 * 3600
    await pki.role(max_ttl="100000h")
    message = await pki.fails("pki/issue/web", common_name="t.example.com", ttl="9000h")
    assert message.startswith("cannot satisfy request, as TTL would result in notAfter of")
    assert "beyond the expiration of the CA certificate" in message


async def test_unknown_role_and_any_key_type(pki: Pki) -> None:
    assert await pki.fails("pki/issue/nope", common_name="a.example.com") == "unknown role: nope"
    await pki.role(key_type="any")
    assert await pki.fails("pki/issue/web", common_name="a.example.com") == (
        'role key type "any" not allowed for issuing certificates, only signing'
    )


async def test_issue_without_a_ca(pki: Pki) -> None:
    await pki.mount("empty")
    await pki.role(mount="empty")
    message = await pki.fails("empty/issue/web", common_name="a.example.com")
    assert message.startswith("no default issuer currently configured")


async def test_subject_attributes_from_the_role(pki: Pki) -> None:
    await pki.role(organization="Example Corp", ou="Payments,Ops", country="DE", locality="Berlin")
    cert = load_pem((await pki.write("pki/issue/web", common_name="o.example.com"))["certificate"])
    # Go's order (C, L, O, OU, CN), which rfc4514_string prints reversed.
    assert cert.subject.rfc4514_string() == "CN=o.example.com,OU=Ops,OU=Payments,O=Example Corp,L=Berlin,C=DE"
    assert (await pki.read("pki/roles/web"))["ou"] == ["Payments", "Ops"]
    assert await pki.fails("pki/roles/bad", country="Germany") == "country 'Germany' must be a two-letter ISO 3166 code"


async def test_subject_attributes_of_a_ca(pki: Pki) -> None:
    await pki.mount("other")
    root = await pki.root_ca(mount="other", organization="Example Corp")
    assert load_pem(root["certificate"]).subject.rfc4514_string() == "CN=example.com,O=Example Corp"
