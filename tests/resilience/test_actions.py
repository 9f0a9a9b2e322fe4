"""Each error class gets its fixed action, seen through real OpenAI-wire replies."""

from __future__ import annotations

import logging

import pytest

from mcp_bridge.config import BreakerSettings, RoutingSettings
from mcp_bridge.errors import AllAttemptsFailed
from mcp_bridge.resilience import FakeClock, open_router
from tests.resilience.upstream import Upstreams, ask, config, fail, provider, refuse


def two(**fields: object) -> tuple[Upstreams, object]:
    return Upstreams(), config(provider("a", 1), provider("b", 2), **fields)  # type: ignore[arg-type]


async def test_a_rate_limited_provider_is_not_called_again_before_its_retry_after() -> (
    None
):
    up, clock = Upstreams(), FakeClock()
    up.script("a", fail(429, headers={"retry-after": "30"}))
    cfg = config(provider("a", 1), provider("b", 2))
    async with open_router(cfg, transport=up.transport(), clock=clock) as router:
        first = await router.call(ask())
        assert first.provider == "b"
        assert [a.outcome for a in first.attempts] == ["rate_limited", "ok"]
        clock.advance(29.9)
        assert (await router.call(ask())).provider == "b"
        assert up.count("a") == 1
        clock.advance(0.2)
        assert (await router.call(ask())).provider == "a"
        assert up.count("a") == 2


async def test_a_rate_limit_without_retry_after_backs_off_exponentially() -> None:
    up, clock = Upstreams(), FakeClock()
    up.script("a", fail(429), fail(429))
    cfg = config(
        provider("a", 1), provider("b", 2), breaker=BreakerSettings(base_cooldown_s=4)
    )
    async with open_router(cfg, transport=up.transport(), clock=clock) as router:
        await router.call(ask())
        clock.advance(4.01)
        await router.call(ask())  # second 429: now 8 s
        assert up.count("a") == 2
        clock.advance(7.9)
        await router.call(ask())
        assert up.count("a") == 2
        clock.advance(0.2)
        assert (await router.call(ask())).provider == "a"


async def test_a_one_off_500_is_retried_once_on_the_same_provider() -> None:
    up = Upstreams()
    up.script("a", fail(500))
    async with open_router(
        config(provider("a", 1), provider("b", 2)), transport=up.transport()
    ) as router:
        result = await router.call(ask())
    assert result.provider == "a"
    assert [a.outcome for a in result.attempts] == ["server_error", "ok"]


async def test_a_repeated_500_fails_over_after_the_single_retry() -> None:
    up = Upstreams()
    up.script("a", fail(500), fail(500), fail(500))
    async with open_router(
        config(provider("a", 1), provider("b", 2)), transport=up.transport()
    ) as router:
        result = await router.call(ask())
    assert result.provider == "b" and up.count("a") == 2


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (
            fail(503, {"error": {"message": "overloaded", "type": "overloaded"}}),
            "overloaded",
        ),
        (fail(502), "server_error"),
        (refuse(), "connection"),
    ],
)
async def test_health_faults_fail_over_without_a_retry_and_feed_the_breaker(
    reply: object, kind: str
) -> None:
    up = Upstreams()
    up.script("a", reply)  # type: ignore[arg-type]
    async with open_router(
        config(provider("a", 1), provider("b", 2)), transport=up.transport()
    ) as router:
        result = await router.call(ask())
        record = router.health.get(router.config.providers[0])
    assert result.provider == "b" and up.count("a") == 1
    assert result.attempts[0].outcome == kind
    assert record.consecutive_failures == 1


async def test_a_garbage_body_is_an_invalid_response_that_fails_over() -> None:
    up = Upstreams()
    up.script("a", fail(200, body={"nothing": "useful"}))
    async with open_router(
        config(provider("a", 1), provider("b", 2)), transport=up.transport()
    ) as router:
        result = await router.call(ask())
    assert result.attempts[0].outcome == "invalid_response" and result.provider == "b"


async def test_an_auth_failure_takes_the_provider_out_with_a_warning_naming_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    up = Upstreams()
    up.script(
        "a", fail(401, {"error": {"message": "bad key", "type": "invalid_api_key"}})
    )
    keyed = provider(
        "a", 1, api_key_env="DEEPSEEK_API_KEY", api_key="sk-test-0123456789abcdefghij"
    )
    async with open_router(
        config(keyed, provider("b", 2)), transport=up.transport()
    ) as router:
        with caplog.at_level(logging.WARNING):
            await router.call(ask())
        await router.call(ask())
        status = {s.name: s for s in await router.status()}
    assert up.count("a") == 1
    assert "check DEEPSEEK_API_KEY" in caplog.text
    assert status["a"].state == "disabled"


async def test_an_unknown_model_warns_to_set_the_model_in_the_config(
    caplog: pytest.LogCaptureFixture,
) -> None:
    up = Upstreams()
    up.script(
        "a",
        fail(
            404,
            {
                "error": {
                    "message": "The model does not exist",
                    "code": "model_not_found",
                }
            },
        ),
    )
    async with open_router(
        config(provider("a", 1), provider("b", 2)), transport=up.transport()
    ) as router:
        with caplog.at_level(logging.WARNING):
            result = await router.call(ask())
    assert result.attempts[0].outcome == "model_not_found"
    assert "multibridge.toml" in caplog.text and "a-model" in caplog.text


async def test_an_exhausted_quota_cools_the_provider_down_for_the_long_cooldown() -> (
    None
):
    up, clock = Upstreams(), FakeClock()
    up.script("a", fail(402, {"error": {"message": "insufficient_quota"}}))
    cfg = config(
        provider("a", 1),
        provider("b", 2),
        breaker=BreakerSettings(quota_cooldown_s=3600),
    )
    async with open_router(cfg, transport=up.transport(), clock=clock) as router:
        await router.call(ask())
        clock.advance(3599)
        await router.call(ask())
        assert up.count("a") == 1
        clock.advance(2)
        assert (await router.call(ask())).provider == "a"


async def test_context_too_long_skips_to_a_larger_window_and_is_no_health_fault() -> (
    None
):
    up = Upstreams()
    too_long = {
        "error": {
            "message": "maximum context length exceeded",
            "code": "context_length_exceeded",
        }
    }
    up.script("a", fail(400, too_long))
    cfg = config(
        provider("a", 1, context_window=8000),
        provider("small", 2, context_window=8000),
        provider("big", 3, context_window=200_000),
    )
    async with open_router(cfg, transport=up.transport()) as router:
        result = await router.call(ask())
        record = router.health.get(cfg.providers[0])
    assert result.provider == "big" and up.count("small") == 0
    assert record.calls == 0 and record.consecutive_failures == 0


async def test_a_prompt_larger_than_a_window_skips_that_provider_up_front() -> None:
    up = Upstreams()
    cfg = config(provider("tiny", 1, context_window=300), provider("b", 2))
    async with open_router(cfg, transport=up.transport()) as router:
        result = await router.call(ask("x" * 400))
    assert result.provider == "b" and up.count("tiny") == 0


async def test_a_content_filter_refusal_returns_the_reason_without_failover() -> None:
    up = Upstreams()
    refusal = {
        "error": {"message": "flagged by our content_filter", "code": "content_filter"}
    }
    up.script("a", fail(400, refusal))
    async with open_router(
        config(provider("a", 1), provider("b", 2)), transport=up.transport()
    ) as router:
        with pytest.raises(AllAttemptsFailed) as caught:
            await router.call(ask())
    assert "policy grounds" in str(caught.value)
    assert "content_filter_failover" in str(caught.value)
    assert up.count("b") == 0


async def test_content_filter_failover_can_be_switched_on() -> None:
    up = Upstreams()
    up.script(
        "a",
        fail(400, {"error": {"message": "content_filter", "code": "content_filter"}}),
    )
    cfg = config(
        provider("a", 1),
        provider("b", 2),
        routing=RoutingSettings(content_filter_failover=True),
    )
    async with open_router(cfg, transport=up.transport()) as router:
        assert (await router.call(ask())).provider == "b"


async def test_a_bad_request_tries_the_next_provider_once_then_stops() -> None:
    up = Upstreams()
    for name in ("a", "b", "c"):
        up.script(name, fail(400, {"error": {"message": "unsupported parameter"}}))
    cfg = config(provider("a", 1), provider("b", 2), provider("c", 3))
    async with open_router(cfg, transport=up.transport()) as router:
        with pytest.raises(AllAttemptsFailed) as caught:
            await router.call(ask())
        record = router.health.get(cfg.providers[0])
    assert [a.outcome for a in caught.value.attempts] == ["bad_request", "bad_request"]  # type: ignore[attr-defined]
    assert up.count("c") == 0
    assert record.consecutive_failures == 0


async def test_a_bad_request_counts_toward_health_only_when_it_repeats() -> None:
    up = Upstreams()
    up.script("a", fail(400), fail(400))
    async with open_router(
        config(provider("a", 1), provider("b", 2)), transport=up.transport()
    ) as router:
        await router.call(ask())
        assert router.health.get(router.config.providers[0]).consecutive_failures == 0
        await router.call(ask())
        assert router.health.get(router.config.providers[0]).consecutive_failures == 1
