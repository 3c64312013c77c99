"""What a command may touch of the outside world, injectable so tests own all of it."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


@dataclass
class Env:
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def getenv(self, *names: str) -> str | None:
        """The first of `names` that is set to a non-empty value."""
        for name in names:
            value = self.environ.get(name)
            if value:
                return value
        return None

    @property
    def home(self) -> Path:
        home = self.environ.get("HOME")
        return Path(home) if home else Path.home()

    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def err(self, text: str = "") -> None:
        self.stderr.write(text + "\n")

    def read_secret(self, prompt: str) -> str:
        """Ask without echo on a terminal; read one line when stdin is a pipe (scripts, tests)."""
        if self.stdin.isatty():
            return getpass.getpass(prompt, stream=self.stderr)
        return self.stdin.readline()
