"""The PKI engine end to end, against a running pkcs11-sealed daemon with the real hvac client: a service
logs in with approle, gets a leased certificate from a CA whose key stays in the SoftHSM token, presents
it from a TLS server started here, re-issues it, has the old one revoked (the daemon's unauthenticated
CRL lists it and a CRL-checking client refuses it), and watches a short-lived one stop validating.
Chains, CRLs and the intermediate are also checked with `openssl verify`."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hvac.exceptions import InvalidRequest
from softhsm import SoftHsmToken, make_token

from tests.e2e.conftest import pkcs11_config
from tests.e2e.daemon import Daemon

HOST = "svc.example.com"
SERVICE_POLICY = """
path "pki/issue/web" { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
"""
EXPIRY_BOUND = 30.0  # seconds: a 4-second certificate must stop validating well within this


@dataclass
class Pki:
    server: Daemon
    root: hvac.Client
    token: SoftHsmToken
    ca_pem: str
    ca_key_id: str
    workdir: Path

    def write(self, name: str, text: str) -> Path:
        path = self.workdir / name
        path.write_text(text if text.endswith("\n") else text + "\n")
        return path

    def crl_pem(self, mount: str = "pki") -> str:
        """The CRL as anyone can fetch it: no token."""
        with urllib.request.urlopen(f"{self.server.address}/v1/{mount}/crl/pem", timeout=10) as response:
            assert response.headers["Content-Type"] == "application/x-pem-file"
            return str(response.read().decode())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory, softhsm: Any) -> Iterator[Pki]:
    workdir: Path = tmp_path_factory.mktemp("pki")
    token = make_token(softhsm.directory, f"pki-e2e-{workdir.name}", softhsm.pin, softhsm.so_pin)
    server = Daemon(workdir=workdir, config=pkcs11_config(token, workdir), env={"SOFTHSM2_CONF": str(softhsm.conf)})
    server.start(wait_for="unsealed")
    root_token = json.loads((workdir / "init.json").read_text())["root_token"]
    root = hvac.Client(url=server.address, token=root_token)
    root.sys.enable_secrets_engine(backend_type="pki", path="pki", config={"max_lease_ttl": "87600h"})
    generated = root.secrets.pki.generate_root(
        type="internal", common_name="Sealer Test Root", extra_params={"key_type": "hsm", "ttl": "8760h"}
    )["data"]
    root.secrets.pki.set_urls(
        {
            "issuing_certificates": [f"{server.address}/v1/pki/ca"],
            "crl_distribution_points": [f"{server.address}/v1/pki/crl"],
        }
    )
    root.secrets.pki.create_or_update_role(
        "web",
        {
            "allowed_domains": ["example.com"],
            "allow_subdomains": True,
            "generate_lease": True,
            "key_type": "ec",
            "max_ttl": "1h",
        },
    )
    root.sys.create_or_update_policy("svc", SERVICE_POLICY)
    root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle("svc", token_policies=["svc"], token_ttl="1h")
    yield Pki(server, root, token, generated["certificate"], generated["key_id"], workdir)
    server.kill()


def service_login(pki: Pki) -> hvac.Client:
    approle = pki.root.auth.approle
    role_id = approle.read_role_id("svc")["data"]["role_id"]
    secret_id = approle.generate_secret_id("svc")["data"]["secret_id"]
    client = hvac.Client(url=pki.server.address)
    client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    assert client.is_authenticated()
    return client


@contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[tuple[str, int]]:
    """A TLS server on loopback presenting `cert`, answering b"hello" to each connection."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def serve() -> None:
        while True:
            conn, _ = listener.accept()
            if stopping.is_set():
                conn.close()
                return
            conn.settimeout(10)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"hello")
            except (ssl.SSLError, OSError):
                pass  # the client refused the certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    address = listener.getsockname()[:2]
    try:
        yield address
    finally:
        # accept() does not wake when the socket is closed under it: a last connection does.
        stopping.set()
        socket.create_connection(address, timeout=10).close()
        thread.join(timeout=10)
        listener.close()


def client_context(ca: Path, crl: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if crl is not None:
        context.load_verify_locations(cafile=str(crl))
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return context


def handshake(address: tuple[str, int], context: ssl.SSLContext) -> bytes:
    with socket.create_connection(address, timeout=10) as sock, context.wrap_socket(sock, server_hostname=HOST) as tls:
        return tls.recv(5)


def openssl_verify(ca: Path, leaf: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), *extra, str(leaf)], capture_output=True, text=True, check=False
    )


def serial_int(serial: str) -> int:
    return int(serial.replace(":", ""), 16)


def issue(client: hvac.Client, pki: Pki, prefix: str, ttl: str = "30m") -> tuple[dict[str, Any], Path, Path]:
    response = client.secrets.pki.generate_certificate("web", HOST, extra_params={"ttl": ttl})
    data = response["data"]
    cert = pki.write(f"{prefix}.pem", data["certificate"])
    key = pki.write(f"{prefix}.key", data["private_key"])
    return response, cert, key


def test_a_service_whole_life(pki: Pki) -> None:
    service = service_login(pki)
    ca = pki.write("ca.pem", pki.ca_pem)

    first, cert, key = issue(service, pki, "first")
    assert first["lease_id"].startswith("pki/issue/web/") and first["lease_duration"] == 1800
    assert first["data"]["issuing_ca"] == pki.ca_pem
    assert openssl_verify(ca, cert).returncode == 0
    with tls_server(cert, key) as address:
        assert handshake(address, client_context(ca)) == b"hello"

    # Renewal is a re-issue: a new certificate, then the old lease revoked.
    second, new_cert, new_key = issue(service, pki, "second")
    assert second["data"]["serial_number"] != first["data"]["serial_number"]
    service.sys.revoke_lease(first["lease_id"])
    crl_pem = pki.crl_pem()
    crl = x509.load_pem_x509_crl(crl_pem.encode())
    assert crl.get_revoked_certificate_by_serial_number(serial_int(first["data"]["serial_number"])) is not None
    assert crl.get_revoked_certificate_by_serial_number(serial_int(second["data"]["serial_number"])) is None
    crl_file = pki.write("crl.pem", crl_pem)
    refused = openssl_verify(ca, cert, "-crl_check", "-CRLfile", str(crl_file))
    assert refused.returncode != 0 and "certificate revoked" in refused.stdout + refused.stderr
    assert openssl_verify(ca, new_cert, "-crl_check", "-CRLfile", str(crl_file)).returncode == 0
    with tls_server(cert, key) as address, pytest.raises(ssl.SSLCertVerificationError, match="certificate revoked"):
        handshake(address, client_context(ca, crl_file))
    with tls_server(new_cert, new_key) as address:
        assert handshake(address, client_context(ca, crl_file)) == b"hello"

    # A short-lived certificate stops working on its own.
    short, short_cert, short_key = issue(service, pki, "short", ttl="4s")
    assert lease_exists(pki.root, short["lease_id"])
    with tls_server(short_cert, short_key) as address:
        assert handshake(address, client_context(ca)) == b"hello"
        deadline = time.monotonic() + EXPIRY_BOUND
        while True:
            try:
                handshake(address, client_context(ca))
            except ssl.SSLCertVerificationError as exc:
                assert "certificate has expired" in str(exc)
                break
            assert time.monotonic() < deadline, "the short-lived certificate still validates"
            time.sleep(0.2)  # poll
    expired = openssl_verify(ca, short_cert)
    assert expired.returncode != 0 and "certificate has expired" in expired.stdout + expired.stderr
    # Its lease ends with it; as in Vault, an expired certificate is not added to the CRL.
    deadline = time.monotonic() + EXPIRY_BOUND
    while lease_exists(pki.root, short["lease_id"]):
        assert time.monotonic() < deadline, "the short-lived certificate's lease did not end"
        time.sleep(0.2)  # poll
    crl = x509.load_pem_x509_crl(pki.crl_pem().encode())
    assert crl.get_revoked_certificate_by_serial_number(serial_int(short["data"]["serial_number"])) is None


def lease_exists(client: hvac.Client, lease_id: str) -> bool:
    try:
        client.sys.read_lease(lease_id)
    except InvalidRequest:
        return False
    return True


def test_revoke_prefix_revokes_every_certificate_the_mount_leased(pki: Pki) -> None:
    service = service_login(pki)
    serials = [issue(service, pki, f"many{i}")[0]["data"]["serial_number"] for i in range(3)]
    pki.root.sys.revoke_prefix("pki/")
    crl = x509.load_pem_x509_crl(pki.crl_pem().encode())
    assert all(crl.get_revoked_certificate_by_serial_number(serial_int(s)) is not None for s in serials)
    listed = pki.root.secrets.pki.list_certificates()["data"]["keys"]
    assert set(serials) <= set(listed)
    read = pki.root.secrets.pki.read_certificate(serials[0])["data"]
    assert read["revocation_time"] > 0


def test_intermediate_chain_with_openssl(pki: Pki) -> None:
    root = pki.root
    root.sys.enable_secrets_engine(backend_type="pki", path="pki_int", config={"max_lease_ttl": "8760h"})
    csr = root.secrets.pki.generate_intermediate(
        "internal", "Sealer Intermediate", extra_params={"key_type": "ec"}, mount_point="pki_int"
    )["data"]["csr"]
    signed = root.secrets.pki.sign_intermediate(csr, "Sealer Intermediate", extra_params={"ttl": "4380h"})["data"]
    # The bundle carries the chain above the intermediate (the root is on another mount).
    bundle = signed["certificate"] + "\n" + signed["issuing_ca"]
    root.secrets.pki.set_signed_intermediate(bundle, mount_point="pki_int")
    root.secrets.pki.create_or_update_role(
        "web", {"allowed_domains": ["example.com"], "allow_subdomains": True, "key_type": "rsa"}, mount_point="pki_int"
    )
    leaf = root.secrets.pki.generate_certificate("web", HOST, mount_point="pki_int")["data"]
    assert leaf["ca_chain"] == [signed["certificate"], pki.ca_pem]
    ca = pki.write("root.pem", pki.ca_pem)
    intermediate = pki.write("int.pem", signed["certificate"])
    leaf_file = pki.write("leaf.pem", leaf["certificate"])
    assert openssl_verify(ca, leaf_file, "-untrusted", str(intermediate)).returncode == 0
    assert openssl_verify(ca, leaf_file).returncode != 0  # not without the intermediate
    root.secrets.pki.revoke_certificate(leaf["serial_number"], mount_point="pki_int")
    crl = pki.write("int-crl.pem", root.secrets.pki.read_crl(mount_point="pki_int"))
    refused = openssl_verify(ca, leaf_file, "-untrusted", str(intermediate), "-crl_check", "-CRLfile", str(crl))
    assert "certificate revoked" in refused.stdout + refused.stderr
    # The intermediate's chain as anyone can read it.
    assert root.secrets.pki.read_ca_certificate_chain(mount_point="pki_int").strip() == (
        signed["certificate"] + "\n" + pki.ca_pem
    )


MODULE = "/usr/lib/softhsm/libsofthsm2.so"
# Run in a process of its own (this one must not initialise the PKCS#11 module): read a private key's value.
READ_KEY_VALUE = """
import sys, pkcs11
from pkcs11 import Attribute, ObjectClass
module, token_label, pin, key_label = sys.argv[1:]
with pkcs11.lib(module).get_token(token_label=token_label).open(user_pin=pin) as session:
    key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=key_label)
    try:
        key[Attribute.VALUE]
        print("VALUE-READ")
    except pkcs11.exceptions.AttributeSensitive:
        print("AttributeSensitive")
    print(f"extractable={key[Attribute.EXTRACTABLE]} never_extractable={key[Attribute.NEVER_EXTRACTABLE]}")
"""


def pkcs11_tool(pki: Pki, *args: str) -> subprocess.CompletedProcess[str]:
    """OpenSC's pkcs11-tool, logged in to the daemon's token: a second, independent look at it."""
    login = ["--module", MODULE, "--token-label", pki.token.label, "--login", "--pin", pki.token.pin]
    return subprocess.run(
        ["pkcs11-tool", *login, *args], capture_output=True, text=True, check=False, env=pki.token.env()
    )


def test_hsm_ca_key_cannot_be_exported(pki: Pki) -> None:
    mounts = pki.root.sys.list_mounted_secrets_engines()["data"]
    label = f"sealer-pki/{mounts['pki/']['uuid']}/{pki.ca_key_id}"
    listing = pkcs11_tool(pki, "--list-objects", "--type", "privkey").stdout
    block = listing[listing.index(f"label:      {label}") :].split("Private Key Object")[0]
    assert "never extractable" in block and "sensitive" in block
    # Asked for the key's value directly, the token refuses: CKA_VALUE is sensitive.
    probe = subprocess.run(
        [sys.executable, "-c", READ_KEY_VALUE, MODULE, pki.token.label, pki.token.pin, label],
        capture_output=True,
        text=True,
        check=True,
        env=pki.token.env(),
    )
    assert probe.stdout.split() == ["AttributeSensitive", "extractable=False", "never_extractable=True"]
    # Asked to export the key, the engine refuses, and the mount keeps its CA.
    pki.root.sys.enable_secrets_engine(backend_type="pki", path="pki_export")
    with pytest.raises(InvalidRequest, match="key_type hsm keeps the CA key in the PKCS#11 token"):
        pki.root.secrets.pki.generate_root(
            "exported", "x.example.com", extra_params={"key_type": "hsm"}, mount_point="pki_export"
        )
    assert pki.root.secrets.pki.read_ca_certificate() == pki.ca_pem


def test_hvac_pki_calls(pki: Pki) -> None:
    client = pki.root.secrets.pki
    assert "web" in client.list_roles()["data"]["keys"]
    assert client.read_role("web")["data"]["allowed_domains"] == ["example.com"]
    assert client.read_urls()["data"]["crl_distribution_points"] == [f"{pki.server.address}/v1/pki/crl"]
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    signed = client.sign_certificate("web", csr, HOST)
    assert x509.load_pem_x509_certificate(signed["data"]["certificate"].encode()).public_key() == key.public_key()
    assert signed["lease_id"].startswith("pki/sign/web/")
    assert client.rotate_crl()["data"] == {"success": True}
    client.set_crl_configuration(expiry="48h")
    assert client.read_crl_configuration()["data"] == {"expiry": "48h", "disable": False}
    # The raw DER bodies, as anyone can fetch them.
    for path, content_type in (("ca", "application/pkix-cert"), ("crl", "application/pkix-crl")):
        with urllib.request.urlopen(f"{pki.server.address}/v1/pki/{path}", timeout=10) as response:
            assert response.headers["Content-Type"] == content_type
            body = response.read()
        if path == "ca":
            assert x509.load_der_x509_certificate(body) == x509.load_pem_x509_certificate(pki.ca_pem.encode())
        else:
            assert x509.load_der_x509_crl(body).next_update_utc is not None
    with pytest.raises(InvalidRequest, match=r"common name evil\.org not allowed by this role"):
        client.generate_certificate("web", "evil.org")
    assert client.tidy({"tidy_cert_store": True}).status_code == 202
    client.create_or_update_role("gone", {"allow_any_name": True})
    client.delete_role("gone")
    assert "gone" not in client.list_roles()["data"]["keys"]
