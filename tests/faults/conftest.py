"""Fault-injection fixtures: daemons as real processes, each on its own fresh token in the session's SoftHSM
store (a fault test breaks its token or disk, so nothing is shared between tests)."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from softhsm import SoftHsmToken, make_token

from tests.conftest import SOFTHSM_PIN, SOFTHSM_SO_PIN
from tests.e2e.conftest import pkcs11_config
from tests.e2e.daemon import Daemon

_labels = itertools.count(1)


def new_token(softhsm: SoftHsmToken) -> tuple[SoftHsmToken, Path]:
    """A fresh token in the session's store, and the directory SoftHSM keeps it in."""
    tokens = softhsm.directory / "tokens"
    before = set(tokens.iterdir())
    token = make_token(softhsm.directory, f"fault{next(_labels)}-{uuid.uuid4().hex[:8]}", SOFTHSM_PIN, SOFTHSM_SO_PIN)
    (directory,) = set(tokens.iterdir()) - before
    return token, directory


def root_token(daemon: Daemon) -> str:
    return str(json.loads((daemon.workdir / "init.json").read_text())["root_token"])


class FaultDaemons:
    """Daemons on fresh tokens of the session's store; `kill_all` ends every one still running."""

    def __init__(self, softhsm: SoftHsmToken, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._softhsm = softhsm
        self._tmp = tmp_path_factory
        self._made: list[Daemon] = []

    def make(self, **options: Any) -> Daemon:
        """A started, unsealed daemon on a fresh token; options as for start()."""
        token, _ = new_token(self._softhsm)
        return self.start(token, **options)

    def start(self, token: SoftHsmToken, *, listener: dict[str, Any] | None = None,
              storage_path: Path | None = None, seal_options: dict[str, Any] | None = None,
              **pkcs11: Any) -> Daemon:
        """`listener`: the listener block; `seal_options`: keys next to pkcs11 (health_check_interval);
        `pkcs11`: keys of the pkcs11 block (call_timeout)."""
        workdir = self._tmp.mktemp("fault")
        config = pkcs11_config(token, workdir, **pkcs11)
        if storage_path is not None:
            config["storage"] = {"sqlite": {"path": str(storage_path)}}
        if listener:
            config["listener"] = dict(listener)
        config["seal"].update(seal_options or {})
        daemon = Daemon(workdir=workdir, config=config, env={"SOFTHSM2_CONF": str(self._softhsm.conf)})
        self._made.append(daemon)
        return daemon.start(wait_for="unsealed")

    def kill_all(self) -> None:
        for daemon in self._made:
            if daemon.process is not None:
                daemon.kill()


@pytest.fixture(scope="module")
def fault_daemons(softhsm: SoftHsmToken, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultDaemons]:
    daemons = FaultDaemons(softhsm, tmp_path_factory)
    yield daemons
    daemons.kill_all()
