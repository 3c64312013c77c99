"""Hypothesis settings shared by the property tests: modest budgets, and derandomized so that a CI failure
reproduces on any machine (no example database either: nothing depends on earlier runs)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

PROPERTY = settings(
    max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
