"""Turning measurements into ratios, a verdict per target, a printed table and bench/results.json."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.wrk import Measurement

CEILING = "ceiling"
DAEMON = "daemon"
DAEMON_AUDIT = "daemon_audit"
TARGET_CONCURRENCY = 16
P99_MAX_FACTOR = 3.0


@dataclass(frozen=True)
class Row:
    """One wrk run: a scenario at a concurrency against one target (ceiling, daemon, daemon_audit)."""

    scenario: str
    concurrency: int
    target: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    @classmethod
    def of(cls, scenario: str, concurrency: int, target: str, measured: Measurement) -> Row:
        return cls(scenario, concurrency, target, round(measured.rps, 1), measured.p50_ms, measured.p99_ms,
                   measured.errors)


@dataclass(frozen=True)
class Target:
    """A throughput floor as a ratio to the ceiling at TARGET_CONCURRENCY."""

    scenario: str
    target: str
    min_ratio: float


THROUGHPUT_TARGETS = (
    Target("kv2_read", DAEMON, 0.50),
    Target("kv2_read", DAEMON_AUDIT, 0.35),
    Target("kv2_write", DAEMON, 0.25),
    Target("token_lookup_self", DAEMON, 0.50),
    Target("transit_encrypt_soft", DAEMON, 0.40),
)
# One-off figures with an absolute bound: (key in the one-offs dict, upper bound, unit).
ONE_OFF_BOUNDS = (
    ("unseal_pkcs11_ms", 50.0, "ms"),
    ("startup_100k_s", 3.0, "s"),
    ("startup_100k_rss_mb", 300.0, "MB"),
)


def find(rows: list[Row], scenario: str, concurrency: int, target: str) -> Row | None:
    for row in rows:
        if (row.scenario, row.concurrency, row.target) == (scenario, concurrency, target):
            return row
    return None


def ratio(rows: list[Row], scenario: str, concurrency: int, target: str) -> float | None:
    """Requests/s of `target` over the ceiling's for the same scenario and concurrency."""
    measured, ceiling = find(rows, scenario, concurrency, target), find(rows, scenario, concurrency, CEILING)
    if measured is None or ceiling is None or not ceiling.rps:
        return None
    return measured.rps / ceiling.rps


def p99_factor(rows: list[Row], scenario: str, concurrency: int, target: str) -> float | None:
    measured, ceiling = find(rows, scenario, concurrency, target), find(rows, scenario, concurrency, CEILING)
    if measured is None or ceiling is None or not ceiling.p99_ms:
        return None
    return measured.p99_ms / ceiling.p99_ms


def verdicts(rows: list[Row], one_offs: dict[str, float]) -> list[dict[str, Any]]:
    """Every target with its measured value and whether it was met (None: not measured)."""
    out: list[dict[str, Any]] = []
    for goal in THROUGHPUT_TARGETS:
        value = ratio(rows, goal.scenario, TARGET_CONCURRENCY, goal.target)
        out.append({"what": f"{goal.scenario} {goal.target} / ceiling rps", "bound": f">= {goal.min_ratio}",
                    "value": value, "met": None if value is None else value >= goal.min_ratio})
    scenarios = sorted({row.scenario for row in rows}, key=[r.scenario for r in rows].index)
    for scenario in scenarios:
        value = p99_factor(rows, scenario, TARGET_CONCURRENCY, DAEMON)
        out.append({"what": f"{scenario} daemon / ceiling p99", "bound": f"<= {P99_MAX_FACTOR}",
                    "value": value, "met": None if value is None else value <= P99_MAX_FACTOR})
    for key, bound, unit in ONE_OFF_BOUNDS:
        value = one_offs.get(key)
        out.append({"what": key, "bound": f"< {bound} {unit}", "value": value,
                    "met": None if value is None else value < bound})
    return out


def table(rows: list[Row]) -> str:
    """One line per scenario and concurrency: ceiling, daemon and daemon with audit side by side."""
    lines = [
        f"{'scenario':22} {'c':>3} {'ceiling rps':>11} {'p99 ms':>7} {'daemon rps':>10} {'ratio':>5} {'p99 ms':>7}"
        f" {'audit rps':>9} {'ratio':>5} {'p99 ms':>7} {'errors':>6}"
    ]
    cells = dict.fromkeys((row.scenario, row.concurrency) for row in rows)
    for scenario, concurrency in cells:
        ceiling = find(rows, scenario, concurrency, CEILING)
        line = f"{scenario:22} {concurrency:>3} "
        line += f"{ceiling.rps:>11.0f} {ceiling.p99_ms:>7.1f} " if ceiling else f"{'-':>11} {'-':>7} "
        errors = 0
        for target in (DAEMON, DAEMON_AUDIT):
            row = find(rows, scenario, concurrency, target)
            share = ratio(rows, scenario, concurrency, target)
            if row is None:
                line += f"{'-':>10} {'-':>5} {'-':>7} "
                continue
            errors += row.errors
            line += f"{row.rps:>10.0f} {share if share is not None else 0:>5.2f} {row.p99_ms:>7.1f} "
        lines.append(line + f"{errors:>6}")
    return "\n".join(lines)


def verdict_lines(checks: list[dict[str, Any]]) -> str:
    lines = []
    for check in checks:
        value = check["value"]
        shown = "not measured" if value is None else f"{value:.3g}"
        mark = {True: "ok  ", False: "MISS", None: "--  "}[check["met"]]
        lines.append(f"{mark} {check['what']}: {shown} (target {check['bound']})")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_average": os.getloadavg()}


def write_results(path: Path, rows: list[Row], one_offs: dict[str, Any], settings: dict[str, Any]) -> None:
    payload = {
        "machine": machine(),
        "settings": settings,
        "runs": [asdict(row) for row in rows],
        "one_offs": one_offs,
        "targets": verdicts(rows, one_offs),
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")


def markdown(rows: list[Row]) -> str:
    """The README's table: rps and p99 of the ceiling, the daemon and the daemon with a file audit device."""
    lines = ["| scenario | c | ceiling rps | p99 ms | daemon rps | ratio | p99 ms | + audit rps | ratio | p99 ms |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for scenario, concurrency in dict.fromkeys((row.scenario, row.concurrency) for row in rows):
        cells = [scenario, str(concurrency)]
        ceiling = find(rows, scenario, concurrency, CEILING)
        cells += [f"{ceiling.rps:.0f}", f"{ceiling.p99_ms:.1f}"] if ceiling else ["-", "-"]
        for target in (DAEMON, DAEMON_AUDIT):
            row, share = find(rows, scenario, concurrency, target), ratio(rows, scenario, concurrency, target)
            cells += [f"{row.rps:.0f}", f"{share:.2f}", f"{row.p99_ms:.1f}"] if row and share else ["-", "-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    # python -m bench.report bench/results.json: the markdown table of a finished run.
    import sys

    saved = json.loads(Path(sys.argv[1]).read_text())
    print(markdown([Row(**run) for run in saved["runs"]]))
