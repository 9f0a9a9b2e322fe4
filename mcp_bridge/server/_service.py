"""The shared HTTP service: MCP at /mcp, plus /healthz and /metrics, guarded.

    request -> Host/Origin guard -> bearer auth -> rate limit -> route
               (not /healthz)      (/mcp; /metrics off loopback)  (/mcp)

Streamable HTTP is stateless by default, so replicas behind a load balancer
need no sticky sessions; responses stream over SSE so that progress
notifications reach HTTP clients.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_bridge import __version__
from mcp_bridge.config import BridgeConfig
from mcp_bridge.errors import ConfigError
from mcp_bridge.resilience import ProviderStatus, Router, open_router
from mcp_bridge.server._auth import BearerAuth, check_bind, is_loopback, resolve_tokens
from mcp_bridge.server._buckets import SharedRateLimiter
from mcp_bridge.server._guard import (
    HostOriginGuard,
    Limiter,
    RateLimit,
    RateLimiter,
    transport_security,
)
from mcp_bridge.server._metrics import CONTENT_TYPE, BridgeMetrics
from mcp_bridge.server.app import RouterFactory, build_server

__all__ = [
    "announce_listener",
    "build_service_app",
    "listen",
    "probe_forever",
    "serve_service",
]

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"


@dataclass
class _Live:
    """The router while the service runs (set by the lifespan)."""

    router: Router | None = None


def build_service_app(
    config: BridgeConfig,
    *,
    host: str,
    env: Mapping[str, str] = os.environ,
    shared_dir: str | None = None,
) -> Starlette:
    """The whole HTTP service for `config` bound to `host`.

    `shared_dir` is set when several forked workers will serve this app: the
    rate limit then lives in shared memory and metrics in that directory.
    Raises ConfigError when `host` is reachable from other machines and no
    token is configured.
    """
    tokens = resolve_tokens(config.http, env)
    check_bind(host, tokens)
    config = _without_local_files(config)
    live, metrics = _Live(), BridgeMetrics(config, shared_dir=shared_dir)
    server = build_server(config, router_factory=_factory(live, metrics))
    server.middleware.append(metrics.tool_middleware)
    _add_routes(server, live, metrics)
    security = transport_security(config.http, host)
    app = server.streamable_http_app(
        stateless_http=config.http.stateless,
        json_response=False,
        host=host,
        transport_security=security,
        max_request_body_size=config.http.max_body_bytes,
    )
    if config.http.rate_limit_per_minute > 0:
        per_minute = config.http.rate_limit_per_minute
        limiter: Limiter = (
            RateLimiter(per_minute)
            if shared_dir is None
            else SharedRateLimiter(per_minute)
        )
        app.add_middleware(RateLimit, limiter=limiter, paths={MCP_PATH})
    if tokens:
        app.add_middleware(
            BearerAuth, tokens=tokens, paths=_protected(is_loopback(host))
        )
    app.add_middleware(HostOriginGuard, settings=security, exempt={HEALTH_PATH})
    logger.info(
        "HTTP service: %d token(s), state %s, stateless=%s",
        len(tokens),
        config.state.split("://", 1)[0],
        config.http.stateless,
    )
    return app


def _without_local_files(config: BridgeConfig) -> BridgeConfig:
    """Remote callers read no server files unless file_roots says where."""
    if config.limits.file_roots is not None:
        return config
    limits = config.limits.model_copy(update={"file_roots": []})
    return config.model_copy(update={"limits": limits})


def serve_service(
    app: Starlette,
    config: BridgeConfig,
    host: str,
    port: int,
    listener: socket.socket | None = None,
) -> None:
    """Run `app` under uvicorn until SIGTERM or SIGINT, then drain (blocks).

    `listener` is a socket already listening (a worker's, shared with its
    siblings); without one the service binds host:port itself.

    On the signal uvicorn stops accepting connections, lets in-flight tool
    calls finish within `shutdown_grace_s`, then runs the lifespan exit, which
    flushes the state store. Idle GET streams (notifications only) are ended
    at once so that they do not hold the shutdown for the whole grace period.
    """
    import uvicorn
    from sse_starlette.sse import AppStatus

    # sse-starlette would cut every SSE response, in-flight results included.
    AppStatus.disable_automatic_graceful_drain()  # type: ignore[no-untyped-call]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            # Access lines are info: at this level uvicorn would still format
            # each one (client address, quoted path) for nothing.
            access_log=False,
            # MCP has no WebSocket transport: never load websockets or wsproto.
            ws="none",
            timeout_graceful_shutdown=math.ceil(config.http.shutdown_grace_s),
        )
    )
    app.add_middleware(_DrainStreams, stopping=lambda: bool(server.should_exit))
    server.run(sockets=[listener or listen(host, port)])


def listen(
    host: str, port: int, *, announce: bool = True, reuse_port: bool = False
) -> socket.socket:
    """Bind and listen before serving, then say where (port 0 picks a free one).

    Once the line is printed, connections succeed: the kernel queues them
    until the server accepts, so a supervisor or a test can wait on the line.
    With `announce` false the caller prints it later (`announce_listener`);
    `reuse_port` lets sibling sockets bind the same port (SO_REUSEPORT).
    """
    try:
        listener = _tcp_listener(host, port, reuse_port)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose "
            "another --port or --host ([http] port, host)"
        ) from exc
    if announce:
        announce_listener(listener, host)
    return listener


def announce_listener(listener: socket.socket, host: str, workers: int = 1) -> None:
    """Print on stderr, whatever the log level, where the service listens."""
    bound = listener.getsockname()[1]
    where = f"[{host}]" if ":" in host else host
    processes = f", {workers} workers" if workers > 1 else ""
    print(
        f"multibridge-mcp: serving MCP at http://{where}:{bound}/mcp "
        f"(and /healthz, /metrics{processes}); Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )


def _tcp_listener(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    # asyncio turns Nagle off (TCP_NODELAY) only on connections whose socket
    # says IPPROTO_TCP; socket.create_server leaves the protocol at 0, which
    # made every response wait ~40 ms for the client's delayed ACK.
    family, kind, proto, _, address = socket.getaddrinfo(
        host,
        port,
        type=socket.SOCK_STREAM,
        proto=socket.IPPROTO_TCP,
        flags=socket.AI_PASSIVE,
    )[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    return listener


class _DrainStreams:
    """ASGI middleware ending GET /mcp streams once shutdown has begun."""

    def __init__(self, app: ASGIApp, stopping: Callable[[], bool]) -> None:
        self.app = app
        self._stopping = stopping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                # uvicorn exposes shutdown only as a flag, so it is polled.
                while True:
                    if self._stopping():
                        tg.cancel_scope.cancel()
                        return
                    await anyio.sleep(0.25)

            tg.start_soon(watch)
            await self.app(scope, receive, send)
            tg.cancel_scope.cancel()


def _protected(loopback: bool) -> set[str]:
    # /metrics reveals traffic and provider names: only loopback reads it freely.
    return {MCP_PATH} if loopback else {MCP_PATH, METRICS_PATH}


def _factory(live: _Live, metrics: BridgeMetrics) -> RouterFactory:
    @asynccontextmanager
    async def factory(config: BridgeConfig) -> AsyncIterator[Router]:
        async with open_router(config) as router, anyio.create_task_group() as tg:
            router.observer = metrics.observe_attempt
            live.router = router
            if config.breaker.active_probes:
                tg.start_soon(probe_forever, router, config.breaker.probe_interval_s)
            try:
                yield router
            finally:
                live.router = None
                tg.cancel_scope.cancel()

    return factory


async def probe_forever(
    router: Router, interval_s: float, *, rounds: int | None = None
) -> None:
    """Probe open providers every `interval_s` so a recovered one returns to
    rotation before a caller has to gamble on it (`rounds` bounds it for tests).
    """
    done = 0
    while rounds is None or done < rounds:
        await anyio.sleep(interval_s)
        done += 1
        try:
            probed = await router.probe_open()
        except Exception:
            # A probe round must never take the service down with it.
            logger.exception("active probe round failed")
            continue
        if probed:
            logger.info("active probe sent to %s", ", ".join(probed))


def _add_routes(server: MCPServer[Any], live: _Live, metrics: BridgeMetrics) -> None:
    async def healthz(_: Request) -> Response:
        if live.router is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        statuses, usable = await _survey(live.router)
        body = {
            "status": "ok" if usable else "unavailable",
            "providers_usable": usable,
            "providers": len(statuses),
            "state_store": live.router.store.name,
            "state_degraded": live.router.store.degraded,
            "version": __version__,
        }
        return JSONResponse(body, status_code=200 if usable else 503)

    async def scrape(_: Request) -> Response:
        if live.router is not None:
            statuses, usable = await _survey(live.router)
            metrics.observe_status(statuses, usable, live.router.store.degraded)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    server.custom_route(HEALTH_PATH, methods=["GET"])(healthz)
    server.custom_route(METRICS_PATH, methods=["GET"])(scrape)


async def _survey(router: Router) -> tuple[list[ProviderStatus], int]:
    """Each provider's status, and how many may be called right now."""
    statuses = await router.status()
    now = time.time()
    usable = sum(
        1
        for s in statuses
        if s.enabled
        and s.state != "disabled"
        and (s.cooldown_until is None or s.cooldown_until <= now)
    )
    return statuses, usable
