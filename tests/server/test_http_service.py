"""The HTTP service over real connections: server processes on free ports.

Each server is `python -m mcp_bridge serve --http` in a child process, talking
to an in-process fake provider; MCP clients connect over streamable HTTP.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_bridge.config import BridgeConfig, HttpSettings
from mcp_bridge.errors import ConfigError
from mcp_bridge.server._guard import RateLimiter
from mcp_bridge.server._service import build_service_app
from mcp_bridge.store import open_store
from tests.redis_fixtures import RedisServer, free_port, redis_server
from tools.fake_provider import FakeProvider

__all__ = ["redis_server"]

REPO = Path(__file__).resolve().parents[2]
ANNOUNCEMENT = re.compile(r"serving MCP at http://127\.0\.0\.1:(\d+)/mcp")
TOKEN = "tok-alpha-7f3b9c2d"
OTHER_TOKEN = "tok-bravo-1e5a8d4c"
API_KEY = "sk-fake-key-5d1c0b9a"
ALLOWED_ORIGIN = "https://agents.example.com"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
TOOL_CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "complete", "arguments": {"prompt": "slow"}},
}
MCP_HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
}


def provider_toml(fake: FakeProvider, name: str, model: str) -> str:
    return f"""
[[providers]]
name = "{name}"
protocol = "openai"
base_url = "{fake.base_url("openai")}"
model = "{model}"
api_key = "{API_KEY}"
price_input_per_mtok = 2.0
price_output_per_mtok = 8.0
"""


def bridge_toml(state: str, providers: str, http: str = "") -> str:
    return f"""
state = "{state}"
{providers}
[routing]
same_provider_retry = false
[hedging]
enabled = false
[breaker]
consecutive_failures = 2
base_cooldown_s = 0.6
[http]
{http}
"""


class Bridge:
    """One `multibridge-mcp serve --http --port 0` process.

    Readiness is the service's own announcement, printed once its socket
    listens; the port comes from the same line, so no free port is guessed.
    """

    def __init__(self, directory: Path, toml: str, name: str = "bridge") -> None:
        self.config = directory / f"{name}.toml"
        self.config.write_text(toml)
        self.log = directory / f"{name}.log"
        self.port = 0
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self._announced = threading.Event()
        self._lines: list[str] = []
        self._new_line = threading.Condition()

    def start(self) -> Bridge:
        """Spawn and wait until ready, from synchronous code."""
        self.spawn()
        anyio.run(self.wait_ready)
        return self

    def spawn(self) -> None:
        argv = [sys.executable, "-m", "mcp_bridge", "serve", "--http"]
        argv += ["--port", "0", "--config", str(self.config)]
        self.process = subprocess.Popen(
            argv,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._copy_output, daemon=True).start()

    def _copy_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with self.log.open("w") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                with self._new_line:
                    self._lines.append(line)
                    self._new_line.notify_all()
                found = ANNOUNCEMENT.search(line)
                if found:
                    self.port = int(found.group(1))
                    self.url = f"http://127.0.0.1:{self.port}"
                    self._announced.set()
        self._announced.set()  # the process ended: wake the waiter to say so

    async def wait_ready(self) -> None:
        """Wait for the announcement that the socket listens."""
        with anyio.fail_after(30):
            await anyio.to_thread.run_sync(self._announced.wait, 30)
        assert self.port, f"the service did not start:\n{self.output()}"

    async def wait_for_line(self, pattern: str, within: float = 30) -> str:
        """Wait until the service prints a line matching `pattern`; that line."""
        found = re.compile(pattern)

        def match() -> str | None:
            return next((x for x in self._lines if found.search(x)), None)

        def wait() -> str | None:
            with self._new_line:
                self._new_line.wait_for(match, within)
                return match()

        with anyio.fail_after(within + 1):
            line = await anyio.to_thread.run_sync(wait)
        assert line is not None, f"no line matches {pattern!r}:\n{self.output()}"
        return line

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@asynccontextmanager
async def mcp_session(url: str, token: str | None = TOKEN) -> AsyncIterator[Client]:
    """An MCP client session over streamable HTTP, with a bearer token."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url + "/mcp", http_client=http)) as client,
    ):
        yield client


async def metric(url: str, line_start: str) -> float | None:
    """The value of the first /metrics sample line starting with `line_start`."""
    async with httpx2.AsyncClient() as http:
        text = (await http.get(url + "/metrics")).text
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture(scope="module")
def bridge(
    fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bridge]:
    """A service with two tokens, an allowed origin, small body and rate limits."""
    directory = tmp_path_factory.mktemp("bridge")
    providers = provider_toml(fake, "steady", "steady-model")
    providers += provider_toml(fake, "flaky", "flaky-model")
    http = f"""
tokens = ["{TOKEN}", "{OTHER_TOKEN}"]
allowed_origins = ["{ALLOWED_ORIGIN}"]
max_body_bytes = 20000
rate_limit_per_minute = 40
"""
    server = Bridge(directory, bridge_toml("memory", providers, http)).start()
    yield server
    server.stop()


async def test_a_client_with_a_token_completes_over_streamable_http(
    bridge: Bridge,
) -> None:
    async with mcp_session(bridge.url) as client:
        result = await client.call_tool(
            "complete", {"prompt": "name a colour", "providers": ["steady"]}
        )
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["provider"] == "steady"
    assert result.structured_content["text"].startswith("fake answer to: name a colour")


async def test_the_http_service_reads_no_server_files_by_default(
    bridge: Bridge, tmp_path: Path
) -> None:
    """A remote caller must not read the server's files (its keys among them)."""
    target = tmp_path / "server-side.txt"
    target.write_text("server secret")
    async with mcp_session(bridge.url) as client:
        result = await client.call_tool(
            "complete", {"prompt": "repeat the file", "files": [str(target)]}
        )
    assert result.is_error
    assert "reads no local files" in result.content[0].text  # type: ignore[union-attr]


async def test_progress_notifications_reach_the_http_client(bridge: Bridge) -> None:
    messages: list[str] = []

    async def on_progress(_: float, __: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with mcp_session(bridge.url) as client:
        result = await client.call_tool(
            "complete",
            {"prompt": "hello", "providers": ["steady"]},
            progress_callback=on_progress,
        )
    assert not result.is_error
    assert "trying steady (steady-model)" in messages


@pytest.mark.parametrize(
    ("authorization", "error"),
    [(None, None), ("Bearer not-the-token", "invalid_token"), ("Basic abc", None)],
)
async def test_a_request_without_a_valid_token_gets_401_with_a_challenge(
    bridge: Bridge, authorization: str | None, error: str | None
) -> None:
    headers = dict(MCP_HEADERS)
    if authorization:
        headers["authorization"] = authorization
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            bridge.url + "/mcp", json=INITIALIZE, headers=headers
        )
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert (f'error="{error}"' in challenge) == (error is not None)
    assert "MULTIBRIDGE_TOKENS" in response.json()["message"]


async def test_a_foreign_host_header_is_refused_with_421(bridge: Bridge) -> None:
    headers = {**MCP_HEADERS, "authorization": f"Bearer {TOKEN}"}
    headers["host"] = "rebound.attacker.example"
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            bridge.url + "/mcp", json=INITIALIZE, headers=headers
        )
        health = await http.get(
            bridge.url + "/healthz", headers={"host": "lb.internal"}
        )
    assert response.status_code == 421
    assert health.status_code == 200


async def test_a_foreign_origin_is_refused_and_an_allowed_one_accepted(
    bridge: Bridge,
) -> None:
    headers = {**MCP_HEADERS, "authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient() as http:
        foreign = await http.post(
            bridge.url + "/mcp",
            json=INITIALIZE,
            headers={**headers, "origin": "https://evil.example"},
        )
        allowed = await http.post(
            bridge.url + "/mcp",
            json=INITIALIZE,
            headers={**headers, "origin": ALLOWED_ORIGIN},
        )
    assert foreign.status_code == 403
    assert allowed.status_code == 200


async def test_a_body_over_the_limit_is_refused_with_413(bridge: Bridge) -> None:
    big = {**INITIALIZE, "padding": "x" * 30_000}
    headers = {**MCP_HEADERS, "authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient() as http:
        response = await http.post(bridge.url + "/mcp", json=big, headers=headers)
    assert response.status_code == 413


async def test_a_token_over_its_rate_gets_429_with_retry_after(bridge: Bridge) -> None:
    headers = {"authorization": f"Bearer {OTHER_TOKEN}"}
    statuses: list[int] = []
    async with httpx2.AsyncClient(headers=headers) as http:
        for _ in range(45):
            response = await http.post(bridge.url + "/mcp", content=b"x")
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
        other = await http.post(
            bridge.url + "/mcp",
            content=b"x",
            headers={"authorization": f"Bearer {TOKEN}"},
        )
    assert statuses[-1] == 429
    assert 40 <= len(statuses) - 1 <= 41
    assert int(response.headers["retry-after"]) >= 1
    assert other.status_code != 429


async def test_healthz_answers_without_a_token_and_without_secrets(
    bridge: Bridge,
) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.get(bridge.url + "/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["providers"] == 2
    assert API_KEY not in response.text and TOKEN not in response.text


async def test_metrics_show_a_breaker_opening_during_an_injected_outage(
    bridge: Bridge, fake: FakeProvider
) -> None:
    open_state = 'multibridge_breaker_state{provider="flaky",state="open"}'
    fake.set_fault("flaky-model", "unavailable")
    try:
        async with mcp_session(bridge.url) as client:
            for _ in range(2):
                result = await client.call_tool(
                    "complete", {"prompt": "hi", "providers": ["flaky"]}
                )
                assert result.is_error
        assert await metric(bridge.url, open_state) == 1.0
    finally:
        fake.clear_faults("flaky-model")
    failures = await metric(bridge.url, 'multibridge_attempts_total{outcome="')
    assert failures is not None and failures >= 1
    calls = await metric(
        bridge.url, 'multibridge_tool_calls_total{outcome="error",tool="complete"}'
    )
    assert calls is not None and calls >= 2


async def test_metrics_count_tokens_and_estimated_cost(bridge: Bridge) -> None:
    async with mcp_session(bridge.url) as client:
        result = await client.call_tool(
            "complete", {"prompt": "count me", "providers": ["steady"]}
        )
    assert not result.is_error
    tokens = await metric(
        bridge.url, 'multibridge_tokens_total{direction="output",provider="steady"}'
    )
    cost = await metric(
        bridge.url, 'multibridge_estimated_cost_usd_total{provider="steady"}'
    )
    assert tokens is not None and tokens > 0
    assert cost is not None and cost > 0


def test_no_secret_reaches_the_server_log(bridge: Bridge) -> None:
    log = bridge.output()
    assert TOKEN not in log and OTHER_TOKEN not in log
    assert API_KEY not in log


async def test_metrics_need_a_token_when_the_service_is_not_on_loopback() -> None:
    config = BridgeConfig(http=HttpSettings(tokens=[TOKEN]))  # type: ignore[list-item]
    app = build_service_app(config, host="0.0.0.0", env={})
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://b") as http:
        refused = await http.get("/metrics")
        allowed = await http.get(
            "/metrics", headers={"authorization": f"Bearer {TOKEN}"}
        )
    assert refused.status_code == 401
    assert allowed.status_code == 200
    assert "multibridge_tool_calls_total" in allowed.text


def test_building_a_service_beyond_loopback_without_tokens_is_refused() -> None:
    with pytest.raises(ConfigError, match="MULTIBRIDGE_TOKENS or \\[http\\] tokens"):
        build_service_app(BridgeConfig(), host="0.0.0.0", env={})
    app = build_service_app(
        BridgeConfig(), host="0.0.0.0", env={"MULTIBRIDGE_TOKENS": "t1"}
    )
    assert app is not None


def test_serve_refuses_a_public_address_without_tokens(tmp_path: Path) -> None:
    config = tmp_path / "m.toml"
    config.write_text('state = "memory"\n')
    argv = [sys.executable, "-m", "mcp_bridge", "serve", "--http", "--host"]
    argv += ["0.0.0.0", "--port", str(free_port()), "--config", str(config)]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, timeout=60)
    assert result.returncode == 2
    assert b"set MULTIBRIDGE_TOKENS or [http] tokens" in result.stderr


def test_the_rate_limiter_refills_with_time() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.take("a") is None and limiter.take("a") is None
    wait = limiter.take("a")
    assert wait == pytest.approx(30.0)
    assert limiter.take("b") is None
    now[0] += 30.0
    assert limiter.take("a") is None


async def test_sigterm_lets_an_in_flight_call_finish_and_flushes_state(
    fake: FakeProvider, tmp_path: Path
) -> None:
    database = tmp_path / "state.db"
    providers = provider_toml(fake, "slow", "slow-model")
    toml = bridge_toml(f"sqlite://{database}", providers, f'tokens = ["{TOKEN}"]')
    server = Bridge(tmp_path, toml, "graceful")
    server.spawn()
    await server.wait_ready()
    assert server.process is not None
    fake.set_fault("slow-model", "latency", ms=800)
    before = len(fake.requests)
    headers = {**MCP_HEADERS, "authorization": f"Bearer {TOKEN}"}
    try:
        async with (
            httpx2.AsyncClient(timeout=30) as http,
            http.stream(
                "POST", server.url + "/mcp", json=TOOL_CALL, headers=headers
            ) as response,
        ):
            with anyio.fail_after(10):
                await fake.until_requests(before + 1)
            server.process.send_signal(signal.SIGTERM)
            body = (await response.aread()).decode()
        # wait's own timeout: a thread blocked in wait() ignores cancellation.
        code = await anyio.to_thread.run_sync(lambda: server.process.wait(timeout=30))
    finally:
        fake.clear_faults("slow-model")
        server.stop()
    result = json.loads(body.rsplit("data: ", 1)[1])["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["provider"] == "slow"
    # uvicorn re-raises the signal after its graceful shutdown.
    assert code in (0, -signal.SIGTERM), server.output()
    async with open_store(f"sqlite://{database}") as store:
        health = await store.load_health(["slow:slow-model"])
    assert health["slow:slow-model"]["successes"] == 1


@pytest.fixture
def replicas(
    fake: FakeProvider, redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[Bridge, Bridge]]:
    """Two services sharing one Redis, with one provider each."""
    providers = provider_toml(fake, "shared", "shared-model")
    toml = bridge_toml(redis_server.url, providers, f'tokens = ["{TOKEN}"]')
    a, b = Bridge(tmp_path, toml, "replica-a"), Bridge(tmp_path, toml, "replica-b")
    try:
        for bridge in (a, b):
            bridge.spawn()
        for bridge in (a, b):
            anyio.run(bridge.wait_ready)
    except BaseException:
        a.stop()
        b.stop()
        raise
    yield a, b
    a.stop()
    b.stop()


async def test_two_replicas_share_one_breaker_and_admit_one_probe(
    replicas: tuple[Bridge, Bridge], fake: FakeProvider
) -> None:
    a, b = replicas
    open_state = 'multibridge_breaker_state{provider="shared",state="open"}'
    fake.set_fault("shared-model", "unavailable")
    try:
        async with mcp_session(a.url) as client:
            for _ in range(2):
                assert (await client.call_tool("complete", {"prompt": "x"})).is_error
    finally:
        fake.clear_faults("shared-model")

    # Replica B never called the provider, yet sees its breaker open.
    assert await metric(b.url, open_state) == 1.0
    async with httpx2.AsyncClient() as http:
        assert (await http.get(b.url + "/healthz")).status_code == 503
        with anyio.fail_after(20):  # the cooldown (0.6 s, jittered) runs out
            while True:
                if (await http.get(b.url + "/healthz")).status_code == 200:
                    break
                await anyio.sleep(0.05)

    fake.set_fault("shared-model", "latency", ms=1000)
    before = len(fake.requests_for("shared-model"))
    outcomes: list[bool] = []
    try:

        async def probe(bridge: Bridge) -> None:
            async with mcp_session(bridge.url) as client:
                result = await client.call_tool("complete", {"prompt": "probe"})
                outcomes.append(result.is_error)

        async with anyio.create_task_group() as tg:
            for bridge in (a, b, a, b):
                tg.start_soon(probe, bridge)
    finally:
        fake.clear_faults("shared-model")
    assert len(fake.requests_for("shared-model")) - before == 1
    assert sorted(outcomes) == [False, True, True, True]
    closed = 'multibridge_breaker_state{provider="shared",state="closed"}'
    assert await metric(a.url, closed) == 1.0
    assert await metric(b.url, closed) == 1.0


async def test_every_accepted_connection_has_nagle_turned_off() -> None:
    # asyncio sets TCP_NODELAY only when the listener says IPPROTO_TCP; without
    # it each small response waited ~40 ms for the client's delayed ACK.
    import asyncio
    import socket

    from mcp_bridge.server._service import _tcp_listener

    listener = _tcp_listener("127.0.0.1", 0)
    port = listener.getsockname()[1]
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        with anyio.fail_after(5):
            assert await accepted == 1
        writer.close()
    finally:
        server.close()
