"""Shared fixtures. SoftHSM: one private token store per test session.

SoftHSM reads SOFTHSM2_CONF once, at C_Initialize, so every token a session uses lives in the one store
the `softhsm` fixture creates; `softhsm_token` adds tokens with fresh labels to that same store.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from softhsm import SoftHsmToken, make_token

from tests.postgres import PostgresCluster

SOFTHSM_PIN = "1234-test-pin"
SOFTHSM_SO_PIN = "5678-test-so-pin"
_labels = itertools.count(1)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsmToken]:
    """The session's token ('sealer-test'); sets SOFTHSM2_CONF for the whole session."""
    directory: Path = tmp_path_factory.mktemp("softhsm")
    token = make_token(directory, "sealer-test", SOFTHSM_PIN, SOFTHSM_SO_PIN)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(token.conf))
        yield token


@pytest.fixture
def softhsm_token(softhsm: SoftHsmToken) -> SoftHsmToken:
    """A fresh token with a unique label in the session's store, for tests that need their own keys."""
    label = f"t{next(_labels)}-{uuid.uuid4().hex[:8]}"
    return make_token(softhsm.directory, label, SOFTHSM_PIN, SOFTHSM_SO_PIN)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the session (tests/postgres.py); required, never skipped."""
    cluster = PostgresCluster.create()
    yield cluster
    cluster.destroy()
