"""Fuzzing the running daemon with schemathesis, driven by the OpenAPI document it serves at
sys/internal/specs/openapi: generated requests to every described operation (bar the few that would
end the run: sealing, revoking the root token, enabling file audit devices at generated paths) must
never get a 5xx, and every answer must match what the document promises (status code, content type,
body schema).

Bounded by a number of examples per operation and a time budget for the whole run, deterministic
(derandomize) so a failure reproduces."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (  # type: ignore[attr-defined]  # the registry, by name
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from softhsm import make_token

from tests.e2e.conftest import pkcs11_config
from tests.e2e.daemon import Daemon

EXAMPLES_PER_OPERATION = 4
# Valid requests, and requests that break the document (wrong types, missing fields, bad bodies).
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
BUDGET_SECONDS = 30.0
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# "METHOD /path" of operations left out, and why: each would stop the run or reach outside the daemon.
EXCLUDED = [
    r"\S+ /sys/seal$",  # seals the daemon
    r"\S+ /sys/step-down$",
    r"\S+ /sys/(rekey|rekey-recovery-key|generate-root)/",  # ceremonies: covered by their own tests
    r"\S+ /sys/sealer/",  # re-wraps the root key in the token
    r"(POST|PUT) /sys/(init|unseal)$",
    r"POST /auth/token/revoke-self$",  # the fuzzer's own root token
    r"POST /sys/(leases/)?revoke-(prefix|force)/",  # "auth/token/" would revoke every token
    r"POST /sys/audit/",  # a file device at a generated path would write anywhere on disk
    r"(POST|DELETE) /sys/(mounts|auth)/",  # unmounting what the run fuzzes
    r"POST /sys/remount$",
    r"POST /sys/quotas/rate-limit/",  # a generated quota of 1 request/s would throttle the rest of the run
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, softhsm: Any) -> Iterator[tuple[Daemon, str]]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    token = make_token(softhsm.directory, f"fuzz-e2e-{workdir.name}", softhsm.pin, softhsm.so_pin)
    server = Daemon(workdir=workdir, config=pkcs11_config(token, workdir), env={"SOFTHSM2_CONF": str(softhsm.conf)})
    server.start(wait_for="unsealed")
    root = json.loads((workdir / "init.json").read_text())["root_token"]
    for path, body in (
        ("sys/mounts/kv2", {"type": "kv", "options": {"version": "2"}}),
        ("sys/mounts/transit", {"type": "transit"}),
        ("sys/auth/approle", {"type": "approle"}),
        ("sys/auth/userpass", {"type": "userpass"}),
    ):
        status, answer = server.call("POST", path, body, token=root)
        assert status == 204, answer
    yield server, root
    server.kill()


@pytest.fixture(scope="module")
def document(daemon: tuple[Daemon, str]) -> dict[str, Any]:
    server, root = daemon
    status, doc = server.call("GET", "sys/internal/specs/openapi", token=root)
    assert status == 200
    assert isinstance(doc, dict)
    return doc


def test_the_served_document_is_valid_and_lists_the_http_level_routes(
    daemon: tuple[Daemon, str], document: dict[str, Any]
) -> None:
    schemathesis.openapi.from_dict(json.loads(json.dumps(document))).validate()
    paths = document["paths"]
    # The engine's paths for what was just mounted...
    assert {"/kv2/data/{path}", "/transit/encrypt/{name}", "/auth/approle/login", "/auth/token/create"} <= set(paths)
    # ...and the daemon's own routes, read from its HTTP router.
    assert set(paths["/sys/init"]) >= {"get", "post", "put"}
    assert set(paths["/sys/rekey/init"]) >= {"get", "put", "post", "delete"}
    assert paths["/sys/seal-status"]["get"]["x-vault-unauthenticated"] is True
    assert paths["/sys/seal"]["post"]["x-vault-sudo"] is True
    assert {"429", "501", "503"} <= set(paths["/sys/health"]["get"]["responses"])
    # Without a token, the document lists the daemon's routes but no mount.
    server, _ = daemon
    status, anonymous = server.call("GET", "sys/internal/specs/openapi")
    assert status == 200
    assert "/sys/seal-status" in anonymous["paths"] and "/kv2/data/{path}" not in anonymous["paths"]
    # A write answers the same document, as in Vault.
    status, written = server.call("POST", "sys/internal/specs/openapi", {}, token=daemon[1])
    assert status == 200 and written["paths"].keys() == paths.keys()


def _excluded(label: str) -> bool:
    return any(re.search(pattern, label) for pattern in EXCLUDED)


def test_fuzzing_finds_no_server_error_and_no_answer_off_the_document(
    daemon: tuple[Daemon, str], document: dict[str, Any]
) -> None:
    server, root = daemon
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(document)))
    base_url = server.address + "/v1"
    session = requests.Session()
    headers = {"X-Vault-Token": root}
    failures: list[str] = []
    fuzzed: list[str] = []
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + BUDGET_SECONDS

    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if _excluded(label) or time.monotonic() > deadline:
            continue

        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
            phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in MODES)))
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=10)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as failure:  # collected: one run reports every failing operation
            failures.append(f"{label}: {str(failure)[:600]}")
        fuzzed.append(label)

    assert len(fuzzed) > 60, f"only {len(fuzzed)} operations fuzzed within the budget"
    assert not failures, "\n\n".join(failures)
    # Generated requests got past validation into the handlers, not only refusals.
    successes = sum(n for status, n in statuses.items() if status < 300)
    assert successes > 100, statuses
    print(f"fuzzed {len(fuzzed)} operations, {sum(statuses.values())} requests: {sorted(statuses.items())}")
    # The daemon still serves, unsealed, after the run, and logged no error on the way.
    status, health = server.call("GET", "sys/health")
    assert (status, health["sealed"]) == (200, False)
    assert "[ERROR]" not in server.log() and "Traceback" not in server.log()
