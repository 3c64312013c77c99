"""Drive one HTTP target with wrk and read back what it measured (bench/lua/request.lua writes it)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

LUA_SCRIPT = Path(__file__).resolve().parent / "lua" / "request.lua"
# wrk gives up on a request after this long; it then counts as a timeout error.
_REQUEST_TIMEOUT = "5s"


@dataclass(frozen=True)
class Load:
    """What to send: one request shape, at a concurrency, for a bounded time."""

    method: str
    path: str
    concurrency: int
    seconds: float
    body: str = ""
    token: str = field(default="", repr=False)
    rotate: int = 0  # > 0: "{n}" in the path cycles through 0..rotate-1


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # connect/read/write/timeouts and non-2xx/3xx answers

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def combine(rounds: list[Measurement]) -> Measurement:
    """Several short runs of the same load as one: requests over total time, the mean of the percentiles."""
    return Measurement(
        requests=sum(m.requests for m in rounds),
        seconds=sum(m.seconds for m in rounds),
        p50_ms=sum(m.p50_ms for m in rounds) / len(rounds),
        p99_ms=sum(m.p99_ms for m in rounds) / len(rounds),
        errors=sum(m.errors for m in rounds),
    )


def parse_report(text: str) -> Measurement:
    report = json.loads(text)
    return Measurement(
        requests=int(report["requests"]),
        seconds=report["duration_us"] / 1e6,
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        errors=sum(int(count) for count in report["errors"].values()),
    )


def run(base_url: str, load: Load) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as scratch:
        report = Path(scratch) / "report.json"
        env = {
            **os.environ,
            "BENCH_METHOD": load.method,
            "BENCH_PATH": load.path,
            "BENCH_BODY": load.body,
            "BENCH_TOKEN": load.token,
            "BENCH_ROTATE": str(load.rotate),
            "BENCH_REPORT": str(report),
        }
        command = [
            # wrk takes whole seconds only ("1.5s" is refused).
            "wrk", "-t1", f"-c{load.concurrency}", f"-d{max(1, math.ceil(load.seconds))}s",
            f"--timeout={_REQUEST_TIMEOUT}",
            "-s", str(LUA_SCRIPT), base_url,
        ]
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=load.seconds + 30)
        return parse_report(report.read_text())
