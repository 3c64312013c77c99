"""The PNG: throughput and p99 latency per scenario and concurrency, the daemon beside its ceiling."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a build machine
import matplotlib.pyplot as plt

from bench.report import CEILING, DAEMON, DAEMON_AUDIT, Row, find

_SERIES = ((CEILING, "ceiling (plain aiohttp)", "#999999"), (DAEMON, "daemon", "#1f77b4"),
           (DAEMON_AUDIT, "daemon + file audit", "#ff7f0e"))


def draw(rows: list[Row], path: Path, title: str) -> None:
    cells = list(dict.fromkeys((row.scenario, row.concurrency) for row in rows))
    labels = [f"{scenario}\nc={concurrency}" for scenario, concurrency in cells]
    figure, (rps_axis, p99_axis) = plt.subplots(2, 1, figsize=(max(12, len(cells) * 0.7), 10), sharex=True)
    width = 0.8 / len(_SERIES)
    for index, (target, label, colour) in enumerate(_SERIES):
        found = [find(rows, scenario, concurrency, target) for scenario, concurrency in cells]
        xs = [i + (index - 1) * width for i in range(len(cells))]
        rps_axis.bar(xs, [row.rps if row else 0 for row in found], width, label=label, color=colour)
        p99_axis.bar(xs, [row.p99_ms if row else 0 for row in found], width, label=label, color=colour)
    rps_axis.set_ylabel("requests/s")
    rps_axis.set_title(title)
    rps_axis.legend()
    p99_axis.set_ylabel("p99 latency (ms, log)")
    p99_axis.set_yscale("log")
    p99_axis.set_xticks(range(len(cells)), labels, rotation=90, fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
