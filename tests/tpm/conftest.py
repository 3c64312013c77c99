"""TPM fixtures: one swtpm for the session (tests that need a TPM of their own start another)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tpm.swtpm import SwTpm


@pytest.fixture(scope="session")
def swtpm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwTpm]:
    tpm = SwTpm(tmp_path_factory.mktemp("swtpm")).start()
    yield tpm
    tpm.stop()
