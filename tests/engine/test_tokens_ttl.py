"""Vault's CalculateTTL and humanDuration, case by case."""

from __future__ import annotations

import pytest

from engine.errors import BadRequest
from engine.tokens import Limits, calculate_ttl
from engine.tokens.ttl import human_duration

MOUNT = Limits(default_ttl=3600, max_ttl=86400)
NOW = 1_000_000


def test_the_mount_default_applies_when_nothing_is_asked() -> None:
    granted = calculate_ttl(MOUNT, now=NOW)
    assert (granted.ttl, granted.warnings) == (3600, [])


def test_increment_beats_backend_ttl_beats_default() -> None:
    assert calculate_ttl(MOUNT, now=NOW, backend_ttl=600).ttl == 600
    assert calculate_ttl(MOUNT, now=NOW, backend_ttl=600, increment=60).ttl == 60


def test_the_max_ttl_caps_from_the_start_with_vaults_warning() -> None:
    granted = calculate_ttl(MOUNT, now=NOW, backend_ttl=100_000)
    assert granted.ttl == 86400
    assert granted.warnings == [
        'TTL of "27h46m40s" exceeded the effective max_ttl of "24h"; TTL value is capped accordingly'
    ]
    # Later in the lease's life only what is left of the max remains.
    later = calculate_ttl(MOUNT, now=NOW + 86000, start=NOW, increment=3600)
    assert later.ttl == 400


def test_the_smallest_of_mount_backend_and_explicit_max_wins() -> None:
    assert calculate_ttl(MOUNT, now=NOW, backend_ttl=50_000, backend_max_ttl=7200).ttl == 7200
    assert calculate_ttl(MOUNT, now=NOW, backend_ttl=50_000, backend_max_ttl=7200, explicit_max_ttl=60).ttl == 60
    # A larger backend or explicit max does not lift the mount's.
    assert calculate_ttl(MOUNT, now=NOW, backend_ttl=100_000, backend_max_ttl=200_000).ttl == 86400


def test_a_period_is_granted_whole_each_time_and_capped_only_by_the_explicit_max() -> None:
    assert calculate_ttl(MOUNT, now=NOW + 10**7, start=NOW, period=600, increment=5).ttl == 600
    capped = calculate_ttl(MOUNT, now=NOW, period=100_000)
    assert capped.ttl == 86400
    assert capped.warnings == [
        'period of "27h46m40s" exceeded the effective max_ttl of "24h"; period value is capped accordingly'
    ]
    assert calculate_ttl(MOUNT, now=NOW + 500, start=NOW, period=600, explicit_max_ttl=700).ttl == 200


def test_past_the_max_nothing_is_granted() -> None:
    with pytest.raises(BadRequest, match="past the max TTL, cannot renew"):
        calculate_ttl(MOUNT, now=NOW + 86400, start=NOW)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45, "45s"),
        (60, "1m"),
        (90, "1m30s"),
        (3600, "1h"),
        (3660, "1h1m"),
        (3601, "1h1s"),
        (768 * 3600, "768h"),
    ],
)
def test_human_duration_is_gos_without_zero_units(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text
