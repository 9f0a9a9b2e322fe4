"""The breaker's transitions, driven by explicit times (no clock, no sleeps)."""

from __future__ import annotations

import random

import pytest

from mcp_bridge.config import BreakerSettings
from mcp_bridge.resilience import Breaker, HealthRecord

NOW = 1000.0


def breaker(**settings: float) -> Breaker:
    return Breaker(BreakerSettings(**settings), random.Random(7))  # type: ignore[arg-type]


def test_the_breaker_opens_after_the_configured_consecutive_failures() -> None:
    b, record = breaker(consecutive_failures=3), HealthRecord()
    assert b.on_failure(record, NOW) is None
    assert b.on_failure(record, NOW) is None
    change = b.on_failure(record, NOW)
    assert change is not None and (change.old, change.new) == ("closed", "open")
    assert b.gate(record, NOW + 1) == "open"


def test_a_success_resets_the_consecutive_count() -> None:
    b, record = breaker(consecutive_failures=2), HealthRecord()
    b.on_failure(record, NOW)
    b.on_success(record)
    assert b.on_failure(record, NOW) is None
    assert record.state == "closed"


def test_the_breaker_opens_on_a_failure_ratio_once_the_window_has_enough_calls() -> (
    None
):
    b = breaker(consecutive_failures=100, failure_ratio=0.5, window=10, min_calls=6)
    record = HealthRecord()
    outcomes = [True, False, True, False, True]
    for ok in outcomes:
        b.on_success(record) if ok else b.on_failure(record, NOW)
    assert record.state == "closed"  # 2 of 5: below the minimum count
    change = b.on_failure(record, NOW)  # 3 of 6 failed
    assert change is not None and "3 of the last 6" in change.reason


def test_the_cooldown_grows_exponentially_with_bounded_jitter_and_a_cap() -> None:
    b = breaker(base_cooldown_s=5, max_cooldown_s=60)
    for open_count, expected in [(0, 5), (1, 10), (2, 20)]:
        cooldown = b.cooldown_s(open_count, None)
        assert expected * 0.8 <= cooldown <= expected * 1.2
    assert b.cooldown_s(10, None) == 60


def test_retry_after_sets_the_cooldown_when_the_provider_gives_one() -> None:
    b, record = breaker(consecutive_failures=1), HealthRecord()
    b.on_failure(record, NOW, retry_after=42)
    assert record.open_until == NOW + 42


def test_open_becomes_probe_after_the_cooldown_and_a_good_probe_closes() -> None:
    b, record = breaker(consecutive_failures=1, base_cooldown_s=10), HealthRecord()
    b.on_failure(record, NOW)
    assert b.gate(record, NOW + 7) == "open"
    assert b.gate(record, NOW + 12.1) == "probe"
    b.begin_probe(record)
    change = b.on_success(record)
    assert change is not None and (change.old, change.new) == ("half_open", "closed")
    assert b.gate(record, NOW + 13) == "pass" and record.open_count == 0


def test_a_failed_probe_reopens_with_a_longer_cooldown() -> None:
    b, record = breaker(consecutive_failures=1, base_cooldown_s=10), HealthRecord()
    b.on_failure(record, NOW)
    first = (record.open_until or 0) - NOW
    later = NOW + 100
    b.begin_probe(record)
    change = b.on_failure(record, later)
    assert (
        change is not None and change.new == "open" and change.reason == "probe failed"
    )
    assert (record.open_until or 0) - later > first * 1.3


@pytest.mark.parametrize("samples", [[], [5.0]])
def test_a_record_round_trips_through_plain_data(samples: list[float]) -> None:
    record = HealthRecord(state="open", open_until=5.0, latencies_ms=samples)
    again = HealthRecord.from_dict({**record.to_dict(), "unknown_future_field": 1})
    assert again == record
