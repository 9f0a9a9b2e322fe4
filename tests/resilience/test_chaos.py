"""Chaos suite: the router against the fault-injecting fake provider on loopback.

The primary speaks OpenAI, the secondary Anthropic, the third Gemini, all on
one fake server; faults are injected per model name.
"""

from __future__ import annotations

import json
import random
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import SecretStr

from mcp_bridge.config import (
    BreakerSettings,
    BridgeConfig,
    HedgingSettings,
    ProviderConfig,
    TimeoutSettings,
)
from mcp_bridge.errors import AllAttemptsFailed
from mcp_bridge.resilience import FakeClock, open_router
from tests.resilience.upstream import ask
from tools.fake_provider import FakeProvider

FAST = {"first_token_timeout_s": 0.5, "stall_timeout_s": 0.5, "connect_timeout_s": 1.0}
MODELS = {"primary": "openai", "secondary": "anthropic", "tertiary": "gemini"}
STRUCTURED = {"openai": "json_schema", "anthropic": "tool", "gemini": "native"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as server:
        yield server


@pytest.fixture(autouse=True)
def clean(fake: FakeProvider) -> None:
    fake.reset()


def chaos_config(
    fake: FakeProvider, limits: dict[str, float] = FAST, **fields: Any
) -> BridgeConfig:
    providers = [
        ProviderConfig(
            name=name,
            protocol=protocol,  # type: ignore[arg-type]
            base_url=fake.base_url(protocol),
            model=f"{name}-model",
            api_key=SecretStr(f"test-key-{name}-0123456789"),
            priority=rank,
            max_output_tokens=128,
            structured_output=STRUCTURED[protocol],  # type: ignore[arg-type]
            context_window=8000 if name == "primary" else 200_000,
            **limits,
        )
        for rank, (name, protocol) in enumerate(MODELS.items())
    ]
    fields.setdefault("hedging", HedgingSettings(enabled=False))
    fields.setdefault("breaker", BreakerSettings(consecutive_failures=2))
    return BridgeConfig(providers=providers, state="memory", **fields)


FAULT_CLASSES = [
    ("rate_limit", {"retry_after": 7}, "rate_limited"),
    ("unavailable", {}, "server_error"),
    ("overloaded", {}, "overloaded"),
    ("overloaded_529", {}, "overloaded"),
    ("auth", {}, "auth"),
    ("forbidden", {}, "auth"),
    ("quota", {}, "quota_exhausted"),
    ("model_not_found", {}, "model_not_found"),
    ("context_length", {}, "context_too_long"),
    ("bad_request", {}, "bad_request"),
    ("plain_error", {"status": 502}, "server_error"),
    ("detail_error", {"status": 503}, "server_error"),
    ("no_response", {}, "timeout"),
    ("slow_first_token", {"delay_ms": 2000}, "timeout"),
    ("stream_cut", {}, "connection|invalid_response"),
    ("stream_stall", {}, "timeout"),
    ("malformed_chunk", {}, "invalid_response"),
    ("missing_terminal", {}, "invalid_response"),
    ("stream_error", {}, None),
    ("empty_stream", {}, "invalid_response"),
]


@pytest.mark.parametrize(("fault", "args", "kind"), FAULT_CLASSES)
async def test_every_fault_of_the_primary_is_answered_by_the_secondary(
    fake: FakeProvider, fault: str, args: dict[str, Any], kind: str | None
) -> None:
    fake.set_fault("primary-model", fault, **args)
    async with open_router(chaos_config(fake), clock=FakeClock()) as router:
        with anyio.fail_after(5):
            result = await router.call(ask())
    assert result.provider == "secondary"
    assert result.attempts[-1].outcome == "ok"
    if kind is not None:
        assert result.attempts[0].outcome in kind.split("|")


@pytest.mark.parametrize("fault", ["server_error_once", "reset"])
async def test_a_one_off_500_or_reset_is_retried_on_the_same_provider(
    fake: FakeProvider, fault: str
) -> None:
    fake.set_fault("primary-model", fault, count=1)
    async with open_router(chaos_config(fake)) as router:
        result = await router.call(ask())
    assert result.provider == "primary"
    assert len(result.attempts) == 2


async def test_a_broken_schema_answer_is_repaired_or_failed_over(
    fake: FakeProvider,
) -> None:
    fake.set_fault("primary-model", "invalid_json", kind="schema")
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
    }
    request = ask().model_copy(update={"json_schema": schema})
    async with open_router(chaos_config(fake)) as router:
        result = await router.call(request)
    assert result.provider == "secondary"
    assert isinstance(result.value, dict) and isinstance(result.value.get("n"), int)


async def test_an_outage_that_starts_and_ends_returns_traffic_to_the_primary(
    fake: FakeProvider,
) -> None:
    clock = FakeClock()
    cfg = chaos_config(fake, breaker=BreakerSettings(consecutive_failures=2))
    async with open_router(cfg, clock=clock) as router:
        assert (await router.call(ask())).provider == "primary"
        fake.set_fault("primary-model", "unavailable")
        served = [(await router.call(ask())).provider for _ in range(6)]
        assert served == ["secondary"] * 6
        assert len(fake.requests_for("primary-model")) == 3  # 1 ok + 2 failures
        fake.clear_faults()
        clock.advance(30)
        assert (await router.call(ask())).provider == "primary"
        status = {s.name: s.state for s in await router.status()}
    assert status["primary"] == "closed"


async def test_a_flapping_provider_never_costs_an_answer(fake: FakeProvider) -> None:
    fake.set_fault("primary-model", "flap", every=1)
    clock = FakeClock()
    async with open_router(chaos_config(fake), clock=clock) as router:
        for _ in range(12):
            result = await router.call(ask())
            assert result.response.text
            clock.advance(3)


async def test_every_provider_down_fails_in_bounded_time_listing_the_attempts(
    fake: FakeProvider,
) -> None:
    fake.set_fault("*", "no_response")
    async with open_router(chaos_config(fake)) as router:
        started = anyio.current_time()
        with anyio.fail_after(3), pytest.raises(AllAttemptsFailed) as caught:
            await router.call(ask(), timeout_s=1.2)
    assert anyio.current_time() - started < 1.2 + 0.25
    message = str(caught.value)
    for name in MODELS:
        assert f"{name} ({name}-model): timeout" in message


async def test_random_faults_on_every_provider_but_one_are_all_answered_in_time(
    fake: FakeProvider,
) -> None:
    rng = random.Random(3)
    fast_faults = ["unavailable", "overloaded", "reset", "rate_limit", "stream_cut"]
    # Generous attempt limits: only the injected faults should fail, not a
    # busy machine.
    limits = {"first_token_timeout_s": 3.0, "stall_timeout_s": 3.0}
    cfg = chaos_config(fake, limits, timeouts=TimeoutSettings(total_s=8))
    answered = 0
    async with open_router(cfg, clock=FakeClock()) as router:

        async def one() -> None:
            nonlocal answered
            await router.call(ask())
            answered += 1

        for _ in range(6):
            for model in ("primary-model", "tertiary-model"):
                fake.set_fault(model, rng.choice(fast_faults))
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    for _ in range(15):
                        tg.start_soon(one)
    assert answered == 90


async def test_two_processes_share_breaker_state_through_sqlite(
    fake: FakeProvider, tmp_path: Path
) -> None:
    db = tmp_path / "state.db"
    fake.set_fault("primary-model", "unavailable")
    script = textwrap.dedent(
        f"""
        import anyio
        from mcp_bridge.config import BridgeConfig
        from mcp_bridge.resilience import open_router
        from mcp_bridge.canonical import ChatRequest, Message

        async def main():
            cfg = BridgeConfig.model_validate_json({_config_json(fake, db)!r})
            async with open_router(cfg) as router:
                for _ in range(2):
                    await router.call(ChatRequest(
                        messages=[Message(role="user", content="hi")]))

        anyio.run(main)
        """
    )
    with anyio.fail_after(60):
        done = await anyio.run_process([sys.executable, "-c", script], check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert len(fake.requests_for("primary-model")) == 2
    cfg = BridgeConfig.model_validate_json(_config_json(fake, db))
    async with open_router(cfg) as router:
        assert (await router.call(ask())).provider == "secondary"
    assert len(fake.requests_for("primary-model")) == 2


def _config_json(fake: FakeProvider, db: Path) -> str:
    """The chaos configuration on a SQLite file, keys included, as JSON."""
    cfg = chaos_config(fake).model_copy(update={"state": f"sqlite://{db}"})
    data = cfg.model_dump(mode="json")
    for entry, source in zip(data["providers"], cfg.providers, strict=True):
        entry["api_key"] = source.secret()
    return json.dumps(data)
