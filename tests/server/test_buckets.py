"""The rate-limit table that forked workers share."""

from __future__ import annotations

import multiprocessing

from mcp_bridge.server._buckets import SharedRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def spend(limiter: SharedRateLimiter, client: str, times: int) -> None:
    for _ in range(times):
        assert limiter.take(client) is None


def test_a_bucket_empties_then_refills_with_time() -> None:
    clock = Clock()
    limiter = SharedRateLimiter(60, clock=clock)
    spend(limiter, "tok-a", 60)
    wait = limiter.take("tok-a")
    assert wait is not None and 0.9 < wait <= 1.0
    clock.now += 1.0
    assert limiter.take("tok-a") is None
    assert limiter.take("tok-b") is None  # another client has its own bucket


def test_a_forked_process_spends_from_the_same_bucket() -> None:
    """What a worker spends, its sibling cannot spend again."""
    clock = Clock()
    limiter = SharedRateLimiter(10, clock=clock)
    child = multiprocessing.get_context("fork").Process(
        target=spend, args=(limiter, "tok-a", 7)
    )
    child.start()
    child.join(30)
    assert child.exitcode == 0
    spend(limiter, "tok-a", 3)
    assert limiter.take("tok-a") is not None


def test_a_full_table_recycles_its_stalest_slot_not_a_busy_one() -> None:
    clock = Clock()
    limiter = SharedRateLimiter(5, slots=4, clock=clock)
    for index in range(4):
        clock.now += 1.0
        spend(limiter, f"tok-{index}", 5)
    clock.now += 1.0
    assert limiter.take("tok-new") is None
    # tok-0 was the stalest and was forgotten; tok-3 still has an empty bucket.
    assert limiter.take("tok-3") is not None
