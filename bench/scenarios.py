"""The request shapes under load, and the state they need (made over the API as an operator would)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import must

CONCURRENCIES = (1, 16, 64)
BENCH_POLICY = """
path "kv2/*" { capabilities = ["create", "read", "update"] }
path "secret/*" { capabilities = ["create", "read", "update"] }
path "transit/encrypt/*" { capabilities = ["update"] }
path "auth/token/create" { capabilities = ["create", "update"] }
"""
PLAINTEXT_32B = base64.b64encode(bytes(range(32))).decode()


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str  # under /v1/
    body: dict[str, object] | None = None
    rotate: int = 0  # "{n}" in the path takes this many values (writes spread over keys)


SCENARIOS = (
    Scenario("kv2_read", "GET", "kv2/data/hot"),
    Scenario("kv2_write", "POST", "kv2/data/w-{n}", {"data": {"value": "s3cret-bench-value"}}, rotate=1000),
    Scenario("kv1_read", "GET", "secret/hot"),
    Scenario("token_lookup_self", "GET", "auth/token/lookup-self"),
    Scenario("token_create", "POST", "auth/token/create", {"ttl": "1h"}),
    Scenario("approle_login", "POST", "auth/approle/login"),  # body: the role's credentials (seed())
    Scenario("transit_encrypt_soft", "POST", "transit/encrypt/soft", {"plaintext": PLAINTEXT_32B}),
    Scenario("transit_encrypt_hsm", "POST", "transit/encrypt/hsm", {"plaintext": PLAINTEXT_32B}),
)


@dataclass(frozen=True)
class Seeded:
    """What the scenarios use: a non-root token (so every request runs a real ACL check) and the approle
    credentials."""

    token: str = field(repr=False)
    approle_body: str = field(repr=False)

    def body(self, scenario: Scenario) -> str:
        if scenario.name == "approle_login":
            return self.approle_body
        return json.dumps(scenario.body) if scenario.body is not None else ""


def seed(url: str, root: str, audit_file: Path | None = None) -> Seeded:
    if audit_file is not None:
        must(url, "PUT", "sys/audit/file", {"type": "file", "options": {"file_path": str(audit_file)}}, root)
    must(url, "PUT", "sys/policies/acl/bench", {"policy": BENCH_POLICY}, root)
    must(url, "POST", "sys/mounts/kv2", {"type": "kv", "options": {"version": "2"}}, root)
    must(url, "POST", "kv2/data/hot", {"data": {"password": "s3cret-bench-value"}}, root)
    must(url, "POST", "secret/hot", {"password": "s3cret-bench-value"}, root)
    must(url, "POST", "sys/mounts/transit", {"type": "transit"}, root)
    must(url, "POST", "transit/keys/soft", {"type": "aes256-gcm96"}, root)
    must(url, "POST", "transit/keys/hsm", {"type": "hsm-aes256-gcm96"}, root)
    must(url, "POST", "sys/auth/approle", {"type": "approle"}, root)
    must(url, "POST", "auth/approle/role/bench", {"token_policies": ["bench"], "token_ttl": "1h"}, root)
    role_id = must(url, "GET", "auth/approle/role/bench/role-id", token=root)["data"]["role_id"]
    secret_id = must(url, "POST", "auth/approle/role/bench/secret-id", {}, root)["data"]["secret_id"]
    token = must(url, "POST", "auth/token/create", {"policies": ["bench"], "ttl": "24h"}, root)["auth"]["client_token"]
    return Seeded(token=token, approle_body=json.dumps({"role_id": role_id, "secret_id": secret_id}))
