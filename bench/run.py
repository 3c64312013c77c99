"""`make bench`: every scenario at each concurrency against the ceiling, the daemon, and the daemon with a
file audit device, interleaved (ceiling, daemon, audit, ceiling, daemon, audit: the machine is shared,
and a ratio is only fair when both sides ran in the same few seconds); then the one-off figures; then
the table, bench/results.json and the chart."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import chart, oneoffs, report, wrk
from bench.processes import Ceiling, Daemon, SoftHsm
from bench.report import CEILING, DAEMON, DAEMON_AUDIT, Row
from bench.scenarios import CONCURRENCIES, SCENARIOS, seed

HERE = Path(__file__).resolve().parent
PARSER_ROUNDS = 3


def say(text: str) -> None:
    print(text, flush=True)


def run_scenarios(
    workdir: Path, ceiling: Ceiling, seconds: float, rounds: int, only: set[str]
) -> list[Row]:
    plain = Daemon(workdir / "daemon", SoftHsm.make(workdir / "softhsm", "bench-plain"))
    audited = Daemon(workdir / "daemon-audit", SoftHsm.make(workdir / "softhsm", "bench-audit"))
    rows: list[Row] = []
    try:
        for daemon in (plain, audited):
            daemon.start()
            daemon.wait_unsealed()
        seeded = {
            DAEMON: (plain, seed(plain.url, plain.root_token())),
            DAEMON_AUDIT: (audited, seed(audited.url, audited.root_token(), audit_file=audited.workdir / "audit.log")),
        }
        for scenario in SCENARIOS:
            if only and scenario.name not in only:
                continue
            for concurrency in CONCURRENCIES:
                measured: dict[str, list[wrk.Measurement]] = {CEILING: [], DAEMON: [], DAEMON_AUDIT: []}
                for _ in range(rounds):
                    for target in measured:
                        # Each daemon has its own token and credentials; the ceiling gets the same request.
                        daemon, creds = seeded[DAEMON if target == CEILING else target]
                        load = wrk.Load(scenario.method, f"/v1/{scenario.path}", concurrency, seconds / rounds,
                                        creds.body(scenario), creds.token, scenario.rotate)
                        url = ceiling.url if target == CEILING else daemon.url
                        measured[target].append(wrk.run(url, load))
                rows += [Row.of(scenario.name, concurrency, t, wrk.combine(runs)) for t, runs in measured.items()]
                say(report.table([r for r in rows if (r.scenario, r.concurrency) == (scenario.name, concurrency)])
                    .splitlines()[-1])
    finally:
        plain.stop()
        audited.stop()
    return rows


def parser_cost(workdir: Path, ceiling: Ceiling, seconds: float) -> dict[str, float]:
    """The ceiling with aiohttp's C parser (llhttp) against the same app on its pure-Python parser."""
    python_parser = Ceiling.start(workdir, parser="py")
    load = wrk.Load("GET", "/v1/kv2/data/hot", 16, seconds, token="t" * 95)
    c_rps, py_rps = [], []
    try:
        for _ in range(PARSER_ROUNDS):
            c_rps.append(wrk.run(ceiling.url, load).rps)
            py_rps.append(wrk.run(python_parser.url, load).rps)
    finally:
        python_parser.process.stop()
    figures = {"ceiling_c_parser_rps": round(sum(c_rps) / len(c_rps)),
               "ceiling_py_parser_rps": round(sum(py_rps) / len(py_rps))}
    say(f"  ceiling at c=16: C parser {figures['ceiling_c_parser_rps']} rps, "
        f"pure-Python parser {figures['ceiling_py_parser_rps']} rps")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="load time per scenario, concurrency and target")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved runs the load time is split into")
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    parser.add_argument("--skip-one-offs", action="store_true")
    parser.add_argument("--output", type=Path, default=HERE / "results.json")
    parser.add_argument("--chart", type=Path, default=HERE / "results.png")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        say("wrk is not installed (apt-get install wrk; `make bench` does it)")
        return 1
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="sealer-bench-"))
    say(f"scratch: {workdir}")
    hsm = SoftHsm.make(workdir / "softhsm", "bench-oneoffs")
    ceiling = Ceiling.start(workdir)
    one_offs: dict[str, Any] = {}
    rows: list[Row] = []
    failed = False
    try:
        say("scenarios (ceiling, daemon, daemon + file audit, interleaved):")
        rows += run_scenarios(workdir, ceiling, args.seconds, args.rounds, {n for n in args.only.split(",") if n})
        if not args.skip_one_offs:
            say("one-offs:")
            steps: dict[str, Callable[[], dict[str, Any]]] = {
                "parser_cost": lambda: parser_cost(workdir, ceiling, args.seconds / args.rounds),
                "shamir_unseal": lambda: oneoffs.shamir_unseal(workdir, say),
                "mass_expiry": lambda: oneoffs.mass_expiry(workdir, hsm, say),
                "kv_growth": lambda: grow(),
            }

            def grow() -> dict[str, Any]:
                growth, growth_rows = oneoffs.kv_growth(workdir, hsm, ceiling, args.seconds, say)
                rows.extend(growth_rows)
                return growth

            for name, step in steps.items():
                try:
                    one_offs.update(step())
                except Exception as exc:  # one broken figure must not cost the whole run's results
                    failed = True
                    one_offs[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
                    say(f"  {name} failed: {exc} (scratch kept: {workdir})")
    finally:
        ceiling.process.stop()
        if not args.keep and not failed:
            shutil.rmtree(workdir, ignore_errors=True)
    settings = {"seconds_per_cell": args.seconds, "rounds": args.rounds, "wrk": "wrk -t1 -cN (bench/lua/request.lua)",
                "total_seconds": round(time.monotonic() - began)}
    report.write_results(args.output, rows, one_offs, settings)
    chart.draw(rows, args.chart, f"sealer vs plain aiohttp ceiling ({report.machine()['cores']} cores)")
    say("\n" + report.table(rows))
    say("\n" + "\n".join(f"{key}: {value}" for key, value in one_offs.items()))
    say("\n" + report.verdict_lines(report.verdicts(rows, one_offs)))
    say(f"\nwrote {args.output} and {args.chart} in {settings['total_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
