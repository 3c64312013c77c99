"""Start-up: a bad config is refused with the key's name; TLS serves the same API."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
import sys
from pathlib import Path

import hvac
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import shamir_config


def test_unknown_key_and_wrong_type_are_refused_at_start(tmp_path: Path) -> None:
    for config, named in [
        ({**shamir_config(tmp_path), "listner": {}}, "listner"),
        ({**shamir_config(tmp_path), "storage": {"sqlite": {"path": 5}}}, "storage.sqlite.path"),
    ]:
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(config))
        result = subprocess.run([sys.executable, "-m", "sealer", "server", "--config", str(path)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert named in result.stderr
        assert "Traceback" not in result.stderr


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_listener_serves_the_api(daemons, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    config = shamir_config(tmp_path)
    config["listener"] = {"tls_cert_file": str(cert), "tls_key_file": str(key)}
    daemon = daemons(tmp_path, config)
    daemon.scheme = "https"
    daemon.ca_file = str(cert)
    daemon.start()
    client = hvac.Client(url=daemon.address, verify=str(cert))
    result = client.sys.initialize(secret_shares=1, secret_threshold=1)
    client.sys.submit_unseal_key(result["keys"][0])
    client.token = result["root_token"]
    client.secrets.kv.v1.create_or_update_secret(path="tls", secret={"over": "https"})
    assert client.secrets.kv.v1.read_secret(path="tls")["data"] == {"over": "https"}
