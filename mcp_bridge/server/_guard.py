"""Request guards of the HTTP service: Host and Origin checks, and rate limits.

Host and Origin are checked with the SDK's `TransportSecuritySettings`, so a
web page on another site cannot reach a bridge on this machine through DNS
rebinding. The rate limit is a token bucket per authenticated token (per
client address when no token is configured).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mcp.server.transport_security import (
    TransportSecurityMiddleware,
    TransportSecuritySettings,
)
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_bridge.config import HttpSettings
from mcp_bridge.server._auth import CLIENT_KEY, is_loopback

__all__ = [
    "HostOriginGuard",
    "Limiter",
    "RateLimit",
    "RateLimiter",
    "spend",
    "transport_security",
]

logger = logging.getLogger(__name__)

_LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
_LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
_WILDCARDS = {"0.0.0.0", "::", "[::]", ""}


def transport_security(settings: HttpSettings, host: str) -> TransportSecuritySettings:
    """The Host and Origin values this service accepts when bound to `host`."""
    hosts = list(_LOOPBACK_HOSTS)
    for entry in settings.allowed_hosts:
        hosts += [entry] if entry.endswith(":*") else [entry, f"{entry}:*"]
    if not is_loopback(host) and host not in _WILDCARDS:
        shown = f"[{host}]" if ":" in host else host
        hosts += [shown, f"{shown}:*"]
    enabled = host not in _WILDCARDS or bool(settings.allowed_hosts)
    if not enabled:
        logger.warning(
            "serving on every interface (%s) without [http] allowed_hosts: Host "
            "and Origin headers are not checked; list the names clients use in "
            "[http] allowed_hosts to protect against DNS rebinding",
            host or "all",
        )
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=enabled,
        allowed_hosts=hosts,
        allowed_origins=[*_LOOPBACK_ORIGINS, *settings.allowed_origins],
    )


class HostOriginGuard:
    """ASGI middleware: 421 for a foreign Host, 403 for a foreign Origin."""

    def __init__(
        self, app: ASGIApp, settings: TransportSecuritySettings, exempt: set[str]
    ) -> None:
        self.app = app
        self._check = TransportSecurityMiddleware(settings)
        self._exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self._exempt:
            refusal = await self._check.validate_request(Request(scope))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Limiter(Protocol):
    """What the middleware asks of a rate limiter (per process or shared)."""

    def take(self, client: str) -> float | None:
        """Spend one request; None when allowed, else seconds until the next."""


def spend(
    tokens: float, elapsed: float, capacity: float, rate: float
) -> tuple[float, float | None]:
    """Refill a bucket for `elapsed` seconds, then spend one request from it.

    The tokens left, and None when the request is allowed, else the seconds
    until it would be.
    """
    tokens = min(capacity, tokens + elapsed * rate)
    if tokens >= 1.0:
        return tokens - 1.0, None
    return tokens, (1.0 - tokens) / rate


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per client: `per_minute` requests, refilled continuously."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, client: str) -> float | None:
        """Spend one request; None when allowed, else seconds until the next."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            self._forget_full(now)
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        elapsed = now - bucket.updated
        bucket.tokens, wait = spend(bucket.tokens, elapsed, self.capacity, self._rate)
        bucket.updated = now
        return wait

    def _forget_full(self, now: float) -> None:
        # Many distinct clients: drop the buckets that have refilled completely.
        if len(self._buckets) < 10_000:
            return
        idle = self.capacity / self._rate
        stale = [k for k, b in self._buckets.items() if now - b.updated >= idle]
        for key in stale:
            del self._buckets[key]


class RateLimit:
    """ASGI middleware: 429 with Retry-After once a client's bucket is empty."""

    def __init__(self, app: ASGIApp, limiter: Limiter, paths: set[str]) -> None:
        self.app = app
        self._limiter = limiter
        self._paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self._paths:
            await self.app(scope, receive, send)
            return
        wait = self._limiter.take(_client(scope))
        if wait is None:
            await self.app(scope, receive, send)
            return
        await _too_many(scope, receive, send, math.ceil(wait))


def _client(scope: Scope) -> str:
    named = scope.get(CLIENT_KEY)
    if isinstance(named, str):
        return named
    peer = scope.get("client")
    return f"addr-{peer[0]}" if peer else "addr-unknown"


async def _too_many(
    scope: Scope, receive: Receive, send: Send, retry_after: int
) -> None:
    refusal = JSONResponse(
        {
            "error": "rate_limited",
            "message": f"too many requests; retry in {retry_after} s (the limit is "
            "[http] rate_limit_per_minute)",
        },
        status_code=429,
        headers={"retry-after": str(max(retry_after, 1))},
    )
    await refusal(scope, receive, send)
