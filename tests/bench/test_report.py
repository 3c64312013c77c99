"""The bench harness's arithmetic: what wrk reports becomes ratios and verdicts (no load is run here)."""

from __future__ import annotations

import json

from bench.report import CEILING, DAEMON, DAEMON_AUDIT, Row, ratio, table, verdicts
from bench.wrk import parse_report


def _rows() -> list[Row]:
    return [
        Row("kv2_read", 16, CEILING, 4000.0, 2.0, 8.0, 0),
        Row("kv2_read", 16, DAEMON, 2200.0, 4.0, 20.0, 0),
        Row("kv2_read", 16, DAEMON_AUDIT, 1000.0, 9.0, 40.0, 3),
    ]


def test_wrk_report_becomes_a_measurement() -> None:
    report = {"requests": 15000, "duration_us": 3_000_000, "bytes": 1, "p50_us": 900, "p99_us": 4500,
              "max_us": 9000, "errors": {"connect": 0, "read": 1, "write": 0, "status": 2, "timeout": 0}}
    measured = parse_report(json.dumps(report))
    assert measured.rps == 5000
    assert (measured.p50_ms, measured.p99_ms, measured.errors) == (0.9, 4.5, 3)


def test_ratios_are_to_the_ceiling_of_the_same_scenario_and_concurrency() -> None:
    rows = _rows()
    assert ratio(rows, "kv2_read", 16, DAEMON) == 0.55
    assert ratio(rows, "kv2_read", 16, DAEMON_AUDIT) == 0.25
    assert ratio(rows, "kv2_read", 64, DAEMON) is None


def test_verdicts_name_each_target_and_whether_it_was_met() -> None:
    checks = {check["what"]: check for check in verdicts(_rows(), {"unseal_pkcs11_ms": 61.0})}
    assert checks["kv2_read daemon / ceiling rps"]["met"] is True
    assert checks["kv2_read daemon_audit / ceiling rps"]["met"] is False
    assert checks["kv2_read daemon / ceiling p99"]["value"] == 2.5
    assert checks["kv2_read daemon / ceiling p99"]["met"] is True
    assert checks["kv2_write daemon / ceiling rps"]["met"] is None  # not measured
    assert checks["unseal_pkcs11_ms"]["met"] is False


def test_table_puts_daemon_and_audit_beside_the_ceiling() -> None:
    line = table(_rows()).splitlines()[1].split()
    assert line[:4] == ["kv2_read", "16", "4000", "8.0"]
    assert line[4:7] == ["2200", "0.55", "20.0"]
    assert line[-1] == "3"  # errors are shown, so a run full of 403s cannot pass for a fast one


def test_interleaved_rounds_combine_into_one_measurement() -> None:
    from bench.wrk import Measurement, combine

    rounds = [Measurement(3000, 1.0, 1.0, 4.0, 0), Measurement(1000, 1.0, 3.0, 8.0, 2)]
    both = combine(rounds)
    assert both.rps == 2000  # requests over the total time, not a mean of rates
    assert (both.p50_ms, both.p99_ms, both.errors) == (2.0, 6.0, 2)
