"""The router: one deadline per call, candidates in order, failover and hedging.

For each call the router orders the configured providers, skips those that
cannot or must not be called, and tries them one after another inside a
single cancel scope for the whole deadline. Each failure class has a fixed
action (see `_act`). A slow primary can be hedged: when it shows no first
token within its usual time, the next candidate starts too, and the first
complete valid answer wins.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2

from mcp_bridge.canonical import Attempt, CallResult, ChatRequest, ChatResponse, Message
from mcp_bridge.config import BridgeConfig, ProviderConfig
from mcp_bridge.errors import (
    AllAttemptsFailed,
    InputError,
    InvalidResponse,
    ProviderError,
    ProviderTimeout,
)
from mcp_bridge.protocols import (
    AttemptTimeouts,
    ProtocolAdapter,
    adapter_for,
    needs_tls,
    upstream_client,
)
from mcp_bridge.resilience.clock import Clock, SystemClock
from mcp_bridge.resilience.health import ProviderStatus
from mcp_bridge.resilience.ordering import order_candidates, unusable_reason
from mcp_bridge.resilience.tracker import HealthTracker
from mcp_bridge.store import StateStore, open_store

__all__ = ["ProgressFn", "Router", "Validator", "open_router"]

logger = logging.getLogger(__name__)

Validator = Callable[[ChatResponse], Any]
"""Raises `InvalidResponse` for an unacceptable answer; returns the checked value."""

ProgressFn = Callable[[str], Awaitable[None]]
"""Receives human-readable progress events."""

_HEALTH_FAULTS = frozenset(
    {"overloaded", "server_error", "timeout", "connection", "invalid_response"}
)
_PROGRESS_EVERY_S = 1.0


@dataclass(slots=True)
class _Call:
    """The state of one routed call."""

    request: ChatRequest
    total_s: float
    deadline: float
    validate: Validator | None
    progress: ProgressFn | None
    queue: list[ProviderConfig]
    """Candidates not tried yet, best first (a handful: a list is the lightest)."""
    attempts: list[Attempt] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    retried: set[str] = field(default_factory=set)
    min_window: int = 0
    bad_requests: int = 0
    stop: str | None = None
    """Set when the call must end without failing over, with the reason."""
    last_failure: str | None = None

    def remaining(self) -> float:
        return self.deadline - anyio.current_time()


@dataclass(slots=True)
class _Lane:
    """One provider being tried within a call (two lanes run when hedging)."""

    provider: ProviderConfig
    scope: anyio.CancelScope | None = None
    """Set for a lane in a hedged race, where the winner cancels the other."""
    got_token: bool = False
    _token_event: anyio.Event | None = None
    progress: ProgressFn | None = None
    next_report: float = -math.inf
    chars: int = 0
    latency_ms: float = 0.0
    """How long the lane's last attempt took."""
    cancel_reason: str | None = None
    done: bool = False

    def first_token(self) -> anyio.Event:
        """An event set at the first chunk; made only for a lane a hedge watches."""
        if self._token_event is None:
            self._token_event = anyio.Event()
            if self.got_token:
                self._token_event.set()
        return self._token_event

    def on_chunk(self, chars: int) -> Awaitable[None] | None:
        """Note the stream's growth; report it at most once a second."""
        self.chars = chars
        if not self.got_token:
            self.got_token = True
            if self._token_event is not None:
                self._token_event.set()
        now = anyio.current_time()
        if self.progress is None or now < self.next_report:
            return None
        self.next_report = now + _PROGRESS_EVERY_S
        message = f"receiving from {self.provider.name}: {chars} chars"
        return _report(self.progress, message)


@dataclass(slots=True)
class _Win:
    provider: ProviderConfig
    response: ChatResponse
    value: Any


class Router:
    """Routes calls across the configured providers; see the module docstring."""

    def __init__(
        self,
        config: BridgeConfig,
        *,
        store: StateStore,
        client: httpx2.AsyncClient,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.clock = clock or SystemClock()
        self.health = HealthTracker(config, store, self.clock, rng)
        self._adapters: dict[str, ProtocolAdapter] = {}
        self._calls = 0
        self._hedges = 0
        self.observer: Callable[[Attempt], None] | None = None
        """Receives every attempt as it is recorded (for metrics)."""

    async def call(
        self,
        request: ChatRequest,
        *,
        providers: Sequence[str] | None = None,
        timeout_s: float | None = None,
        validate: Validator | None = None,
        avoid: Collection[str] = (),
        progress: ProgressFn | None = None,
    ) -> CallResult:
        """Answer `request` from the best healthy provider within one deadline."""
        total = self._total_s(timeout_s)
        pool, skipped = self._pool(request, providers, avoid)
        await self.health.refresh(pool)
        call = _Call(
            request=request,
            total_s=total,
            deadline=anyio.current_time() + total,
            validate=validate,
            progress=progress,
            queue=list(pool),
            skipped=skipped,
        )
        self._calls += 1
        try:
            # A bare scope: move_on_after would add a generator per call.
            with anyio.CancelScope(deadline=call.deadline):
                win = await self._serve(call)
                if win is not None:
                    return self._result(call, win)
        finally:
            with anyio.CancelScope(shield=True):
                await self.health.persist()
        raise AllAttemptsFailed(
            _failure_message(call),
            list(call.attempts),
            timed_out=call.remaining() <= 0,
        )

    async def status(self) -> list[ProviderStatus]:
        """Each configured provider's health, read from the shared state."""
        await self.health.refresh(self.config.providers)
        return [
            self.health.status(p, unusable_reason(p) is None)
            for p in self.config.providers
        ]

    async def probe_open(self, timeout_s: float = 5.0) -> list[str]:
        """Probe each provider whose breaker cooldown is over with a models-list
        call (for the HTTP service's background loop); returns the names probed.
        """
        usable = [p for p in self.config.providers if unusable_reason(p) is None]
        await self.health.refresh(usable)
        probed = []
        for provider in usable:
            if self.health.get(provider).state == "closed":
                continue
            if await self.health.admit(provider, timeout_s + 5.0):
                probed.append(provider.name)
                await self._probe(provider, timeout_s)
        await self.health.persist()
        return probed

    async def _probe(self, provider: ProviderConfig, timeout_s: float) -> None:
        try:
            with anyio.fail_after(timeout_s):
                await self._adapter(provider).probe(timeout_s)
        except ProviderError as exc:
            self.health.failed(provider, exc)
        except TimeoutError:
            self.health.failed(provider, _probe_timeout(provider, timeout_s))
        else:
            self.health.probed(provider)

    def _total_s(self, timeout_s: float | None) -> float:
        if timeout_s is None:
            return self.config.timeouts.total_s
        if timeout_s <= 0:
            raise InputError(f"timeout_s must be > 0 seconds, got {timeout_s}")
        return timeout_s

    def _pool(
        self,
        request: ChatRequest,
        names: Sequence[str] | None,
        avoid: Collection[str],
    ) -> tuple[list[ProviderConfig], dict[str, str]]:
        """Candidates in order, and the reasons for the ones left out."""
        if names:
            chosen = [self._named(name) for name in dict.fromkeys(names)]
        else:
            chosen = order_candidates(
                self.config, request, self.health.get, self.config.providers
            )
        skipped = {p.name: r for p in chosen if (r := unusable_reason(p))}
        usable = [p for p in chosen if p.name not in skipped]
        usable.sort(key=lambda p: p.name in avoid)
        return usable, skipped

    def _named(self, name: str) -> ProviderConfig:
        provider = self.config.provider(name)
        if provider is None:
            known = ", ".join(p.name for p in self.config.providers) or "none"
            raise InputError(
                f"providers: unknown provider {name!r}; configured: {known}"
            )
        return provider

    async def _serve(self, call: _Call) -> _Win | None:
        """Try candidates in order until one answers or none is left."""
        while call.stop is None:
            provider = await self._next(call)
            if provider is None:
                return None
            win = await self._race(call, provider)
            if win is not None:
                return win
        return None

    async def _next(self, call: _Call) -> ProviderConfig | None:
        """The next candidate that may be called now, announced."""
        while call.queue:
            provider = call.queue.pop(0)
            reason = self._skip_reason(call, provider)
            if reason is None and not await self.health.admit(
                provider, call.remaining() + 5.0
            ):
                reason = self.health.blocked(provider) or "another caller is probing"
            if reason is None:
                await self._announce(call, provider)
                return provider
            call.skipped[provider.name] = reason
            logger.debug("skipping %s: %s", provider.name, reason)
        return None

    def _skip_reason(self, call: _Call, provider: ProviderConfig) -> str | None:
        if provider.context_window < call.min_window:
            return f"context window {provider.context_window} is too small"
        needed = _estimated_tokens(call.request, provider)
        if needed > provider.context_window:
            return (
                f"the prompt (~{needed} tokens with output) exceeds its "
                f"context window of {provider.context_window}"
            )
        return self.health.blocked(provider)

    async def _announce(self, call: _Call, provider: ProviderConfig) -> None:
        if call.last_failure:
            await _emit(call, f"{call.last_failure}; failing over to {provider.name}")
            call.last_failure = None
        await _emit(call, f"trying {provider.name} ({provider.model})")

    async def _race(self, call: _Call, primary: ProviderConfig) -> _Win | None:
        """Run the primary, hedged by the next candidate when it is slow."""
        if self._hedge_delay(call, primary) is None:
            # No hedge can start: spare the task group and its tasks.
            return await self._drive(call, _Lane(primary))
        lanes = [_Lane(primary, scope=anyio.CancelScope())]
        wins: list[_Win] = []
        finished = anyio.Event()

        async def drive(lane: _Lane) -> None:
            win = await self._drive(call, lane)
            lane.done = True
            if win is not None and not wins:
                wins.append(win)
                for other in lanes:
                    if other is not lane and not other.done and other.scope is not None:
                        other.cancel_reason = "hedge_cancelled"
                        other.scope.cancel()
            if wins or all(x.done for x in lanes):
                finished.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(drive, lanes[0])
            hedge = await self._maybe_hedge(call, lanes[0], finished)
            if hedge is not None and finished.is_set():
                # The primary ended while the hedge was being admitted.
                call.queue.insert(0, hedge.provider)
            elif hedge is not None:
                lanes.append(hedge)
                tg.start_soon(drive, hedge)
            await finished.wait()
        return wins[0] if wins else None

    async def _maybe_hedge(
        self, call: _Call, primary: _Lane, finished: anyio.Event
    ) -> _Lane | None:
        """Start a second lane if the primary shows no first token in time."""
        delay = self._hedge_delay(call, primary.provider)
        if delay is None:
            return None
        with anyio.move_on_after(delay):
            await _wait_any(primary.first_token(), finished)
        if primary.got_token or finished.is_set() or call.stop:
            return None
        provider = await self._next(call)
        if provider is None:
            return None
        self._hedges += 1
        logger.info("hedging %s with %s", primary.provider.name, provider.name)
        return _Lane(provider, scope=anyio.CancelScope())

    def _hedge_delay(self, call: _Call, provider: ProviderConfig) -> float | None:
        hedging = self.config.hedging
        if not hedging.enabled or not call.queue:
            return None
        # One hedge is allowed from the first call: a stdio process lives for
        # one agent session, and a share of its first few calls rounds to zero.
        allowance = max(1.0, hedging.max_share * self._calls)
        if hedging.max_share <= 0 or self._hedges >= allowance:
            return None
        delay = self.health.hedge_delay_s(provider)
        if delay is None or delay >= call.remaining():
            return None
        return delay

    async def _drive(self, call: _Call, lane: _Lane) -> _Win | None:
        """Serve one lane, reporting stream progress at most once a second."""
        lane.progress = call.progress
        if lane.scope is None:
            return await self._serve_provider(call, lane)
        with lane.scope:
            return await self._serve_provider(call, lane)
        return None

    async def _serve_provider(self, call: _Call, lane: _Lane) -> _Win | None:
        """Attempt a provider, with one quick retry when the failure allows it."""
        provider = lane.provider
        while True:
            try:
                response = await self._send(call, lane, call.request)
            except ProviderError as exc:
                self._act(call, provider, exc, lane.latency_ms)
                if isinstance(exc, InvalidResponse) and exc.answer is not None:
                    # The protocol layer rejected a complete answer against
                    # the schema: that deserves the same repair as a verb's.
                    return await self._repair(call, lane, exc.answer, exc)
                if self._quick_retry(call, provider, exc):
                    continue
                return None
            return await self._accept(call, lane, response)

    async def _accept(
        self, call: _Call, lane: _Lane, response: ChatResponse
    ) -> _Win | None:
        """Validate an answer; on failure, one repair attempt, then fail over."""
        problem = self._check(call, lane.provider, response, outcome="ok")
        if not isinstance(problem, InvalidResponse):
            return _Win(lane.provider, response, problem)
        return await self._repair(call, lane, response.text, problem)

    async def _repair(
        self, call: _Call, lane: _Lane, answer: str, problem: InvalidResponse
    ) -> _Win | None:
        """Send the bad answer back with what was wrong; fail over if still bad."""
        provider = lane.provider
        try:
            repaired = await self._send(
                call, lane, _repair_request(call, answer, problem)
            )
        except ProviderError as exc:
            self._act(call, provider, exc, lane.latency_ms)
            return None
        problem = self._check(call, provider, repaired, outcome="repaired")
        if isinstance(problem, InvalidResponse):
            return None
        return _Win(provider, repaired, problem)

    def _check(
        self,
        call: _Call,
        provider: ProviderConfig,
        response: ChatResponse,
        outcome: str,
    ) -> Any:
        """Run the validator; record the attempt. Returns the value or the error."""
        try:
            value = call.validate(response) if call.validate else response.data
        except InvalidResponse as exc:
            error = InvalidResponse(
                exc.message, provider=provider.name, model=provider.model
            )
            self._act(call, provider, error, response.latency_ms)
            return error
        self._record(call, provider, outcome, response=response)
        self.health.succeeded(provider, response.latency_ms, response.ttft_ms)
        return value

    async def _send(
        self, call: _Call, lane: _Lane, request: ChatRequest
    ) -> ChatResponse:
        """One attempt; a cancellation is recorded before it propagates."""
        provider = lane.provider
        adapter = self._adapter(provider)
        timeouts = self._timeouts(provider, call.remaining())
        started = self.clock.monotonic()
        try:
            response = await adapter.send(request, timeouts, lane.on_chunk)
        except anyio.get_cancelled_exc_class():
            outcome = lane.cancel_reason or "timeout"
            why = None if lane.cancel_reason else f"total deadline {call.total_s:g} s"
            latency = (self.clock.monotonic() - started) * 1000
            self._record(call, provider, outcome, latency_ms=latency, error=why)
            raise
        finally:
            lane.latency_ms = (self.clock.monotonic() - started) * 1000
        return response.model_copy(update={"latency_ms": lane.latency_ms})

    def _adapter(self, provider: ProviderConfig) -> ProtocolAdapter:
        adapter = self._adapters.get(provider.name)
        if adapter is None:
            adapter = self._adapters[provider.name] = adapter_for(provider, self.client)
        return adapter

    def _timeouts(self, provider: ProviderConfig, remaining: float) -> AttemptTimeouts:
        """The provider's (or default) attempt limits, clipped to the budget."""
        t = self.config.timeouts
        budget = max(remaining, 0.001)
        return AttemptTimeouts(
            connect_s=min(provider.connect_timeout_s or t.connect_s, budget),
            first_token_s=min(
                provider.first_token_timeout_s or t.first_token_s, budget
            ),
            stall_s=min(provider.stall_timeout_s or t.stall_s, budget),
        )

    def _act(
        self,
        call: _Call,
        provider: ProviderConfig,
        error: ProviderError,
        latency_ms: float,
    ) -> None:
        """Record a failed attempt and apply its error class's action."""
        self._record(call, provider, error.kind, error=error, latency_ms=latency_ms)
        call.last_failure = f"{provider.name} failed ({error.kind})"
        handler = _ACTIONS.get(error.kind, Router._health_fault)
        handler(self, call, provider, error)

    def _health_fault(
        self, call: _Call, provider: ProviderConfig, error: ProviderError
    ) -> None:
        self.health.failed(provider, error)

    def _rate_limited(
        self, call: _Call, provider: ProviderConfig, error: ProviderError
    ) -> None:
        record = self.health.get(provider)
        wait = error.retry_after
        if wait is None or wait <= 0:
            base = self.config.breaker.base_cooldown_s
            wait = min(
                base * 2.0**record.rate_limit_streak, self.config.breaker.max_cooldown_s
            )
        record.rate_limit_streak += 1
        self.health.noted(provider, error)
        self.health.cool_down(provider, wait, "rate limited")

    def _out_of_rotation(
        self, call: _Call, provider: ProviderConfig, error: ProviderError
    ) -> None:
        fix = _fix_for(provider, error)
        logger.warning("%s taken out of rotation: %s; %s", provider.name, error, fix)
        self.health.noted(provider, error)
        self.health.disable(provider, f"{error.kind}; {fix}")

    def _quota(
        self, call: _Call, provider: ProviderConfig, error: ProviderError
    ) -> None:
        cooldown = self.config.breaker.quota_cooldown_s
        logger.warning(
            "%s is out of quota (%s); no traffic for %.0f s; add credit or raise "
            "the quota, or lower its priority in multibridge.toml",
            provider.name,
            error,
            cooldown,
        )
        self.health.noted(provider, error)
        self.health.cool_down(provider, cooldown, "quota exhausted")

    def _too_long(
        self, call: _Call, provider: ProviderConfig, error: ProviderError
    ) -> None:
        call.min_window = max(call.min_window, provider.context_window + 1)
        self.health.noted(provider, error)

    def _filtered(
        self, call: _Call, provider: ProviderConfig, error: ProviderError
    ) -> None:
        self.health.noted(provider, error)
        if not self.config.routing.content_filter_failover:
            call.stop = (
                f"{provider.name} refused the request on policy grounds: "
                f"{error.message} (set routing.content_filter_failover = true "
                "in multibridge.toml to try other providers)"
            )

    def _bad_request(
        self, call: _Call, provider: ProviderConfig, error: ProviderError
    ) -> None:
        record = self.health.get(provider)
        record.bad_request_streak += 1
        if record.bad_request_streak >= 2:
            self.health.failed(provider, error)
        else:
            self.health.noted(provider, error)
        call.bad_requests += 1
        if call.bad_requests >= 2:
            call.stop = "two providers rejected the request as invalid; check it"

    def _quick_retry(
        self, call: _Call, provider: ProviderConfig, error: ProviderError
    ) -> bool:
        """At most one immediate retry after a one-off 500 or connection reset."""
        one_off = (error.kind == "server_error" and error.status == 500) or (
            error.kind == "connection" and "refused" not in error.message.lower()
        )
        allowed = (
            one_off
            and self.config.routing.same_provider_retry
            and provider.name not in call.retried
            and self.health.get(provider).state == "closed"
            and call.remaining() > call.total_s / 2
        )
        if allowed:
            call.retried.add(provider.name)
            logger.info("retrying %s once after %s", provider.name, error.kind)
        return allowed

    def _record(
        self,
        call: _Call,
        provider: ProviderConfig,
        outcome: str,
        *,
        response: ChatResponse | None = None,
        error: ProviderError | str | None = None,
        latency_ms: float = 0.0,
    ) -> None:
        """Add one attempt to the call's provenance and log it."""
        usage = response.usage if response else None
        attempt = Attempt(
            provider=provider.name,
            model=(response.model if response and response.model else provider.model),
            outcome=outcome,
            status=error.status if isinstance(error, ProviderError) else None,
            latency_ms=round(response.latency_ms if response else latency_ms, 1),
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            error=error.message if isinstance(error, ProviderError) else error,
        )
        call.attempts.append(attempt)
        if self.observer is not None:
            self.observer(attempt)
        logger.info(
            "attempt %s (%s): %s status=%s %.0f ms",
            attempt.provider,
            attempt.model,
            attempt.outcome,
            attempt.status,
            attempt.latency_ms,
        )

    def _result(self, call: _Call, win: _Win) -> CallResult:
        return CallResult(
            response=win.response,
            value=win.value,
            provider=win.provider.name,
            model=win.response.model or win.provider.model,
            attempts=list(call.attempts),
        )


_Action = Callable[[Router, _Call, ProviderConfig, ProviderError], None]
_ACTIONS: dict[str, _Action] = {
    **{kind: Router._health_fault for kind in _HEALTH_FAULTS},
    "rate_limited": Router._rate_limited,
    "auth": Router._out_of_rotation,
    "model_not_found": Router._out_of_rotation,
    "quota_exhausted": Router._quota,
    "context_too_long": Router._too_long,
    "content_filtered": Router._filtered,
    "bad_request": Router._bad_request,
}


@asynccontextmanager
async def open_router(
    config: BridgeConfig,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    store: StateStore | None = None,
) -> AsyncIterator[Router]:
    """A router with its store and HTTP client, flushed and closed on exit."""
    clock = clock or SystemClock()
    async with AsyncExitStack() as stack:
        if store is None:
            store = await stack.enter_async_context(
                open_store(config.state, clock=clock.time)
            )
        tls = needs_tls(p.base_url for p in config.providers)
        client = await stack.enter_async_context(upstream_client(transport, tls=tls))
        router = Router(config, store=store, client=client, clock=clock)
        try:
            yield router
        finally:
            with anyio.CancelScope(shield=True):
                await router.health.persist()
                await store.flush()


def _probe_timeout(provider: ProviderConfig, timeout_s: float) -> ProviderError:
    return ProviderTimeout(
        f"the models list did not answer within {timeout_s:g} s",
        provider=provider.name,
        model=provider.model,
    )


def _estimated_tokens(request: ChatRequest, provider: ProviderConfig) -> int:
    """Prompt characters / 4 plus the output budget."""
    chars = len(request.system or "") + sum(len(m.content) for m in request.messages)
    return chars // 4 + (request.max_tokens or provider.max_output_tokens)


def _repair_request(call: _Call, answer: str, problem: InvalidResponse) -> ChatRequest:
    """The original conversation, the bad answer, and what was wrong with it."""
    fix = Message(
        role="user",
        content=(
            f"Your answer was not acceptable: {problem.message}\n"
            "Reply again with the corrected answer only."
        ),
    )
    bad = Message(role="assistant", content=answer or "(empty)")
    messages = [*call.request.messages, bad, fix]
    return call.request.model_copy(update={"messages": messages})


def _fix_for(provider: ProviderConfig, error: ProviderError) -> str:
    """What the user should change for an auth or model error."""
    if error.kind == "model_not_found":
        return (
            f"set a model that {provider.name} serves for provider "
            f"{provider.name!r} in multibridge.toml (now {provider.model!r}), "
            f"or check its base_url ({provider.base_url}): a wrong path "
            "answers 404 too"
        )
    if provider.api_key_env:
        return f"check {provider.api_key_env}"
    return f"check the api_key of provider {provider.name!r} in multibridge.toml"


def _failure_message(call: _Call) -> str:
    """Why the call failed, listing every attempt and every skipped candidate."""
    parts = [call.stop or _headline(call)]
    if call.attempts:
        tried = "; ".join(_describe(a) for a in call.attempts)
        parts.append(f"attempts: {tried}")
    if call.skipped:
        left = "; ".join(f"{n} ({r})" for n, r in call.skipped.items())
        parts.append(f"skipped: {left}")
    if not call.attempts and not call.skipped:
        parts.append("no provider is configured; add one to multibridge.toml")
    return ". ".join(parts)


def _headline(call: _Call) -> str:
    # Blaming the deadline when every candidate failed fast sends the caller
    # off to raise timeout_s, which cannot help.
    if call.remaining() <= 0:
        return f"no provider answered within {call.total_s:g} s"
    return "no candidate is left to try (the deadline did not run out)"


def _describe(attempt: Attempt) -> str:
    status = f" HTTP {attempt.status}" if attempt.status is not None else ""
    text = f"{attempt.provider} ({attempt.model}): {attempt.outcome}{status}"
    text += f" after {attempt.latency_ms:.0f} ms"
    return f"{text} [{attempt.error}]" if attempt.error else text


async def _emit(call: _Call, message: str) -> None:
    if call.progress is not None:
        await _report(call.progress, message)


async def _report(progress: ProgressFn, message: str) -> None:
    """Send a progress event; a failing progress sink never fails the call."""
    try:
        await progress(message)
    except Exception:
        logger.debug("progress callback failed", exc_info=True)


async def _wait_any(*events: anyio.Event) -> None:
    """Return as soon as one of `events` is set."""
    async with anyio.create_task_group() as tg:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(wait, event)
