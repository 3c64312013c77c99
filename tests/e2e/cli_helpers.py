"""Driving the `sealer` command line against a running daemon: in-process through `main()` (the same code
the `sealer` executable runs, minus interpreter start-up, so a test can afford dozens of commands), or as
a real subprocess where the process boundary itself is under test (stdin, exit codes, the token file)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sealer.cli.env import Env
from sealer.cli.main import main


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Cli:
    address: str
    home: Path  # HOME for the commands: where `login` writes .sealer-token
    token: str | None = None  # SEALER_TOKEN, when set

    def environ(self, token: str | None, extra: dict[str, str] | None) -> dict[str, str]:
        environ = {"SEALER_ADDR": self.address, "HOME": str(self.home)}
        chosen = self.token if token is None else token
        if chosen:
            environ["SEALER_TOKEN"] = chosen
        return {**environ, **(extra or {})}

    def __call__(self, *argv: str, stdin: str = "", token: str | None = None,
                 extra: dict[str, str] | None = None) -> Result:
        """One command in-process; token="" runs it without SEALER_TOKEN (the token file applies)."""
        out, err = io.StringIO(), io.StringIO()
        env = Env(stdin=io.StringIO(stdin), stdout=out, stderr=err, environ=self.environ(token, extra))
        code = main(list(argv), env)
        return Result(code, out.getvalue(), err.getvalue())

    def ok(self, *argv: str, stdin: str = "", token: str | None = None) -> str:
        result = self(*argv, stdin=stdin, token=token)
        assert result.code == 0, f"sealer {' '.join(argv)} -> {result.code}: {result.err}"
        return result.out

    def process(self, *argv: str, stdin: str | None = None, token: str | None = None,
                extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """One command as a real `python -m sealer` process."""
        base = {k: v for k, v in os.environ.items()
                if k not in ("VAULT_TOKEN", "SEALER_TOKEN", "VAULT_ADDR", "SEALER_ADDR")}
        return subprocess.run([sys.executable, "-m", "sealer", *argv], env={**base, **self.environ(token, extra)},
                              input=stdin, capture_output=True, text=True, timeout=60)
