"""End-to-end fixtures: the daemon as a real process against a real SoftHSM token and SQLite."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.daemon import DAEMON_LOGS, Daemon

MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def pkcs11_config(token: Any, workdir: Path, **seal: Any) -> dict[str, Any]:
    return {
        "storage": {"sqlite": {"path": str(workdir / "data" / "sealer.db")}},
        "seal": {
            "pkcs11": {
                "lib": MODULE,
                "token_label": token.label,
                "pin": token.pin,
                "key_label": "root-wrap",
                "hmac_key_label": "root-hmac",
                "generate_key": True,
                **seal,
            }
        },
        "auto_init": {"secret_shares": 3, "secret_threshold": 2, "output_file": str(workdir / "init.json")},
    }


def shamir_config(workdir: Path) -> dict[str, Any]:
    return {"storage": {"sqlite": {"path": str(workdir / "data" / "sealer.db")}}, "seal": {"shamir": {}}}


# Clear values the end-to-end tests send: tokens look like these, the rest are the suite's secrets.
_CLEAR_TOKEN = re.compile(rb"hv[sb]\.[A-Za-z0-9_-]{20,}")
_CLEAR_SECRETS = (
    b"hunter2-plaintext", b"correct-horse-battery-staple", b"correct horse", b"s3cret", b"wonderland",
    b"app-db", b"other-db",
    b"pg-admin-Secret-1", b"Reporting-initial-1", b"Engine-root-initial-1",
    b"PRIVATE KEY-----",  # any PEM private key the PKI engine hands out
)


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_daemon_log() -> Iterator[None]:
    """After the whole session: grep every daemon's log (its stderr) for tokens and the suite's secrets."""
    yield
    leaks = []
    for log in DAEMON_LOGS:
        if not log.exists():
            continue
        text = log.read_bytes()
        found = _CLEAR_TOKEN.findall(text) + [s for s in _CLEAR_SECRETS if s in text]
        if found:
            leaks.append(f"{log}: {sorted(set(found))[:3]}")
    assert not leaks, "secrets in clear in daemon logs:\n" + "\n".join(leaks)


@pytest.fixture
def daemons(softhsm: Any) -> Iterator[Callable[..., Daemon]]:
    """Make daemons; every one still running at the end of the test is killed."""
    made: list[Daemon] = []

    def make(workdir: Path, config: dict[str, Any], args: list[str] | None = None) -> Daemon:
        workdir.mkdir(parents=True, exist_ok=True)
        daemon = Daemon(workdir=workdir, config=config, args=args, env={"SOFTHSM2_CONF": str(softhsm.conf)})
        made.append(daemon)
        return daemon

    yield make
    for daemon in made:
        if daemon.process is not None:
            daemon.kill()
