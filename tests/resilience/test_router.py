"""The router end to end over MockTransport: breakers, deadline, hedging, repair."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest

from mcp_bridge.canonical import ChatResponse
from mcp_bridge.config import BreakerSettings, HedgingSettings
from mcp_bridge.errors import AllAttemptsFailed, InputError, InvalidResponse
from mcp_bridge.resilience import FakeClock, open_router
from mcp_bridge.store import SqliteStore
from tests.resilience.upstream import (
    Upstreams,
    ask,
    config,
    fail,
    gated,
    hang,
    ok,
    provider,
)

BREAKER = BreakerSettings(consecutive_failures=2, base_cooldown_s=10)


async def test_an_outage_opens_the_breaker_probes_once_and_returns_to_the_primary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    up, clock = Upstreams(), FakeClock()
    up.script("a", fail(502), fail(502))
    cfg = config(provider("a", 1), provider("b", 2), breaker=BREAKER)
    async with open_router(cfg, transport=up.transport(), clock=clock) as router:
        with caplog.at_level(logging.WARNING):
            await router.call(ask())
            await router.call(ask())
        assert "closed -> open" in caplog.text
        for _ in range(5):
            assert (await router.call(ask())).provider == "b"
        assert up.count("a") == 2
        clock.advance(13)  # past the jittered 10 s cooldown
        probe = await router.call(ask())
        assert probe.provider == "a" and up.count("a") == 3
        assert "half_open -> closed" in caplog.text
        assert (await router.call(ask())).provider == "a"


async def test_a_failed_probe_reopens_the_breaker_for_longer() -> None:
    up, clock = Upstreams(), FakeClock()
    up.script("a", fail(502), fail(502), fail(502))
    cfg = config(provider("a", 1), provider("b", 2), breaker=BREAKER)
    async with open_router(cfg, transport=up.transport(), clock=clock) as router:
        await router.call(ask())
        await router.call(ask())
        clock.advance(13)
        await router.call(ask())  # the probe fails
        assert up.count("a") == 3
        clock.advance(13)  # the second cooldown is about 20 s
        await router.call(ask())
        assert up.count("a") == 3
        clock.advance(12)
        assert (await router.call(ask())).provider == "a"


async def test_fifty_concurrent_calls_on_a_half_open_provider_send_one_probe() -> None:
    up, clock, gate = Upstreams(), FakeClock(), anyio.Event()
    up.script("a", fail(502), fail(502), gated("probe answer", gate))
    cfg = config(provider("a", 1), provider("b", 2), breaker=BREAKER)
    results: list[str] = []
    others_done = anyio.Event()
    async with open_router(cfg, transport=up.transport(), clock=clock) as router:
        await router.call(ask())
        await router.call(ask())
        clock.advance(13)

        async def one() -> None:
            results.append((await router.call(ask())).provider)
            if len(results) == 49:
                others_done.set()

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(one)
                await others_done.wait()  # the 49 non-probes were served by b
                gate.set()
    assert up.count("a") == 3
    assert results.count("a") == 1 and results.count("b") == 49


async def test_the_total_deadline_is_never_exceeded_and_lists_every_attempt() -> None:
    up = Upstreams()
    for name in ("a", "b"):
        up.script(name, then=hang())
    cfg = config(provider("a", 1), provider("b", 2))
    async with open_router(cfg, transport=up.transport()) as router:
        started = anyio.current_time()
        with anyio.fail_after(2), pytest.raises(AllAttemptsFailed) as caught:
            await router.call(ask(), timeout_s=0.3)
        elapsed = anyio.current_time() - started
    assert elapsed < 0.45
    attempts = caught.value.attempts
    assert attempts and all(a.outcome == "timeout" for a in attempts)  # type: ignore[attr-defined]
    assert "a (a-model): timeout" in str(caught.value)


async def test_a_silent_primary_times_out_on_first_token_and_the_next_answers() -> None:
    up = Upstreams()
    up.script("a", then=hang())
    cfg = config(
        provider("a", 1, first_token_timeout_s=0.1, stream=True), provider("b", 2)
    )
    async with open_router(cfg, transport=up.transport()) as router:
        with anyio.fail_after(2):
            result = await router.call(ask(), timeout_s=1.0)
    assert result.provider == "b"
    assert result.attempts[0].outcome == "timeout"


async def test_a_hedge_starts_when_the_primary_is_slow_and_the_faster_answer_wins() -> (
    None
):
    up, never = Upstreams(), anyio.Event()
    up.script("a", gated("late", never))
    hedging = HedgingSettings(
        enabled=True, delay_s=0.05, min_delay_s=0.05, max_share=1.0
    )
    cfg = config(provider("a", 1, stream=True), provider("b", 2), hedging=hedging)
    async with open_router(cfg, transport=up.transport()) as router:
        with anyio.fail_after(2):
            result = await router.call(ask())
    assert result.provider == "b"
    outcomes = {a.provider: a.outcome for a in result.attempts}
    assert outcomes == {"a": "hedge_cancelled", "b": "ok"}


async def test_no_hedge_is_started_when_the_primary_streams_in_time() -> None:
    up, opened = Upstreams(), anyio.Event()
    opened.set()
    up.script("a", gated("quick", opened))
    hedging = HedgingSettings(enabled=True, delay_s=0.5, min_delay_s=0.5, max_share=1.0)
    cfg = config(provider("a", 1, stream=True), provider("b", 2), hedging=hedging)
    async with open_router(cfg, transport=up.transport()) as router:
        result = await router.call(ask())
    assert result.provider == "a" and up.count("b") == 0


async def test_hedges_stay_within_their_budget_share() -> None:
    up = Upstreams()
    hedging = HedgingSettings(
        enabled=True, delay_s=0.05, min_delay_s=0.05, max_share=0.0
    )
    never = anyio.Event()
    up.script("a", gated("late", never))
    cfg = config(
        provider("a", 1, stream=True, first_token_timeout_s=0.2),
        provider("b", 2),
        hedging=hedging,
    )
    async with open_router(cfg, transport=up.transport()) as router:
        result = await router.call(ask())
    # No hedge: a timed out on its own first-token limit before b was tried.
    assert [a.outcome for a in result.attempts] == ["timeout", "ok"]


async def test_the_first_call_of_a_process_may_hedge_but_the_budget_then_binds() -> (
    None
):
    """A stdio process serves one session: its first slow call may hedge."""
    up, never = Upstreams(), anyio.Event()
    up.script("a", gated("late", never), gated("late", never))
    hedging = HedgingSettings(
        enabled=True, delay_s=0.05, min_delay_s=0.05, max_share=0.1
    )
    cfg = config(
        provider("a", 1, stream=True, first_token_timeout_s=0.3),
        provider("b", 2),
        hedging=hedging,
    )
    async with open_router(cfg, transport=up.transport()) as router:
        with anyio.fail_after(5):
            first = await router.call(ask())
            second = await router.call(ask())
    assert {a.outcome for a in first.attempts} == {"hedge_cancelled", "ok"}
    # 1 hedge in 2 calls is over a 10 % share: a runs into its own limit.
    assert [a.outcome for a in second.attempts] == ["timeout", "ok"]


def reject_first(response: ChatResponse) -> str:
    if response.text != "good":
        raise InvalidResponse("the answer must be the word good")
    return response.text


async def test_an_invalid_answer_is_repaired_on_the_same_provider() -> None:
    up = Upstreams()
    up.script("a", ok("bad"), ok("good"))
    async with open_router(
        config(provider("a", 1), provider("b", 2)), transport=up.transport()
    ) as router:
        result = await router.call(ask(), validate=reject_first)
    assert result.value == "good" and result.provider == "a"
    assert [a.outcome for a in result.attempts] == ["invalid_response", "repaired"]
    repair = up.requests["a"][1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": "bad"}
    assert "must be the word good" in repair[-1]["content"]


async def test_a_failed_repair_fails_over_to_the_next_provider() -> None:
    up = Upstreams()
    up.script("a", ok("bad"), ok("still bad"))
    up.script("b", ok("good"))
    async with open_router(
        config(provider("a", 1), provider("b", 2)), transport=up.transport()
    ) as router:
        result = await router.call(ask(), validate=reject_first)
        record = router.health.get(router.config.providers[0])
    assert result.provider == "b"
    assert [a.outcome for a in result.attempts] == [
        "invalid_response",
        "invalid_response",
        "ok",
    ]
    assert record.consecutive_failures == 2


async def test_providers_restricts_and_orders_and_avoid_puts_names_last() -> None:
    up = Upstreams()
    cfg = config(provider("a", 1), provider("b", 2), provider("c", 3))
    async with open_router(cfg, transport=up.transport()) as router:
        assert (await router.call(ask(), providers=["c", "a"])).provider == "c"
        assert (await router.call(ask(), avoid={"a"})).provider == "b"
        with pytest.raises(InputError, match="unknown provider 'zz'"):
            await router.call(ask(), providers=["zz"])
    assert up.count("b") == 1


async def test_status_shows_the_open_breaker_its_cooldown_and_last_error() -> None:
    up, clock = Upstreams(), FakeClock()
    up.script("a", fail(502), fail(502))
    cfg = config(provider("a", 1), provider("b", 2), breaker=BREAKER)
    async with open_router(cfg, transport=up.transport(), clock=clock) as router:
        await router.call(ask())
        await router.call(ask())
        status = {s.name: s for s in await router.status()}
    assert status["a"].state == "open" and "502" in (status["a"].last_error or "")
    assert (
        status["a"].cooldown_until is not None
        and status["a"].cooldown_until > clock.time()
    )
    assert status["b"].state == "closed" and status["b"].success_rate == 1.0
    assert status["b"].calls == 2


async def test_progress_reports_the_attempts_and_the_failover() -> None:
    up, events = Upstreams(), []
    up.script("a", fail(502))

    async def progress(message: str) -> None:
        events.append(message)

    async with open_router(
        config(provider("a", 1), provider("b", 2)), transport=up.transport()
    ) as router:
        await router.call(ask(), progress=progress)
    assert events[0] == "trying a (a-model)"
    assert "a failed (server_error); failing over to b" in events
    assert events[-1] == "trying b (b-model)" or "receiving from b" in events[-1]


async def test_an_outage_one_process_learned_is_known_to_the_next_from_its_first_call(
    tmp_path: Path,
) -> None:
    path, clock = tmp_path / "state.db", FakeClock()
    cfg = config(provider("a", 1), provider("b", 2), breaker=BREAKER)
    up = Upstreams()
    up.script("a", fail(502), fail(502))
    async with (
        SqliteStore(path, clock=clock.time) as store,
        open_router(cfg, transport=up.transport(), clock=clock, store=store) as first,
    ):
        await first.call(ask())
        await first.call(ask())
    later = Upstreams()
    async with (
        SqliteStore(path, clock=clock.time) as store,
        open_router(
            cfg, transport=later.transport(), clock=clock, store=store
        ) as second,
    ):
        assert (await second.call(ask())).provider == "b"
    assert later.count("a") == 0


async def test_an_active_probe_closes_an_open_breaker_once_its_cooldown_is_over() -> (
    None
):
    up, clock = Upstreams(), FakeClock()
    up.script("a", fail(502), fail(502))
    cfg = config(provider("a", 1), provider("b", 2), breaker=BREAKER)
    async with open_router(cfg, transport=up.transport(), clock=clock) as router:
        await router.call(ask())
        await router.call(ask())
        assert await router.probe_open() == []  # still cooling down
        clock.advance(13)
        assert await router.probe_open() == ["a"]
        status = {s.name: s.state for s in await router.status()}
    assert status["a"] == "closed"
    assert up.count("a") == 3  # two calls and one models-list probe


async def test_a_call_whose_providers_all_fail_fast_does_not_blame_the_deadline() -> (
    None
):
    up = Upstreams()
    up.script("a", fail(503))
    up.script("b", fail(503))
    cfg = config(provider("a", 1), provider("b", 2))
    async with open_router(cfg, transport=up.transport()) as router:
        with anyio.fail_after(2), pytest.raises(AllAttemptsFailed) as caught:
            await router.call(ask(), timeout_s=30)
    message = str(caught.value)
    assert "within 30 s" not in message
    assert "no candidate is left to try" in message
    assert "a (a-model): server_error HTTP 503" in message


async def test_a_probe_refused_as_too_long_closes_the_breaker_for_the_next_call() -> (
    None
):
    up, clock = Upstreams(), FakeClock()
    too_long = {
        "error": {
            "message": "This model's maximum context length is 10 tokens.",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
        }
    }
    up.script("a", fail(502), fail(502), fail(400, too_long))
    cfg = config(
        provider("a", 1), provider("b", 2, context_window=200_000), breaker=BREAKER
    )
    async with open_router(cfg, transport=up.transport(), clock=clock) as router:
        await router.call(ask())
        await router.call(ask())
        clock.advance(13)
        probe = await router.call(ask())  # a refuses, b has the larger window
        after = await router.call(ask())
    assert probe.attempts[0].outcome == "context_too_long" and probe.provider == "b"
    assert after.provider == "a" and up.count("a") == 4
