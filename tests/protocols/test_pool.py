"""The sharded upstream transport: warm connections for sequential calls."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import anyio
import httpx2
import pytest

from mcp_bridge.protocols import _pool
from mcp_bridge.protocols._pool import send_streamed, upstream_client
from tests.protocols.fakes import clear_proxy_variables


class KeepAliveServer:
    """A raw HTTP/1.1 server on 127.0.0.1 that counts connections.

    Answers are held until `release` is set, so tests can keep requests open.
    """

    def __init__(self) -> None:
        self.connections = 0
        self.arrived = 0
        self.release = asyncio.Event()
        self.release.set()
        self.expected = 0
        self.all_arrived = asyncio.Event()
        self.port = 0

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.arrived += 1
                if self.arrived == self.expected:
                    self.all_arrived.set()
                await self.release.wait()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[KeepAliveServer]:
    state = KeepAliveServer()
    listener = await asyncio.start_server(state._serve, "127.0.0.1", 0)
    state.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield state


async def test_sequential_requests_share_one_warm_connection(
    server: KeepAliveServer,
) -> None:
    async with upstream_client() as client:
        for _ in range(6):
            response = await client.get(f"http://127.0.0.1:{server.port}/v1/models")
            assert response.text == "ok"

    assert server.connections == 1


async def test_concurrent_requests_spread_and_their_connections_are_reused(
    server: KeepAliveServer,
) -> None:
    url = f"http://127.0.0.1:{server.port}/v1/models"
    server.release.clear()
    server.expected = 4
    async with upstream_client() as client:
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(client.get, url)
            with anyio.fail_after(5):
                await server.all_arrived.wait()
            server.release.set()
        for _ in range(3):
            assert (await client.get(url)).text == "ok"

    assert server.connections == 4


@pytest.mark.parametrize("tls", [True, False])
async def test_certificates_load_at_the_first_request_and_only_when_needed(
    server: KeepAliveServer, monkeypatch: pytest.MonkeyPatch, tls: bool
) -> None:
    # Start-up never waits for the trust store; a plain-http configuration
    # (a local Ollama) never loads it at all.
    built: list[int] = []
    real = _pool.tls_context

    def counted() -> ssl.SSLContext:
        built.append(1)
        return real()

    monkeypatch.setattr(_pool, "tls_context", counted)
    async with upstream_client(tls=tls) as client:
        assert built == []
        for _ in range(2):
            response = await client.get(f"http://127.0.0.1:{server.port}/v1/models")
            assert response.text == "ok"

    assert built == ([1] if tls else [])


async def _streamed_text(client: httpx2.AsyncClient, url: str) -> str:
    response = await send_streamed(client, client.build_request("POST", url))
    try:
        return b"".join([chunk async for chunk in response.aiter_raw()]).decode()
    finally:
        await response.aclose()


async def test_without_a_proxy_streamed_requests_go_straight_to_the_pools(
    server: KeepAliveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_proxy_variables(monkeypatch)
    hooked: list[str] = []

    async def hook(request: httpx2.Request) -> None:
        hooked.append(str(request.url))

    async with upstream_client() as client:
        client.event_hooks["request"] = [hook]
        assert client.direct is not None
        for _ in range(3):
            text = await _streamed_text(client, f"http://127.0.0.1:{server.port}/v1")
            assert text == "ok"

    # The client's own path (where its hooks run) was skipped; one warm
    # connection served every request.
    assert hooked == []
    assert server.connections == 1


class RecordingProxy:
    """A plain-http proxy on 127.0.0.1: records request lines, answers itself."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.port = 0

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.lines.append(head.split(b"\r\n", 1)[0])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nvia proxy")
            await writer.drain()
        finally:
            writer.close()


async def test_with_a_proxy_in_the_environment_requests_go_through_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = RecordingProxy()
    listener = await asyncio.start_server(proxy._serve, "127.0.0.1", 0)
    proxy.port = listener.sockets[0].getsockname()[1]
    clear_proxy_variables(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    async with listener, upstream_client(tls=False) as client:
        assert client.direct is None
        text = await _streamed_text(client, "http://provider.invalid/v1/chat")

    assert text == "via proxy"
    assert proxy.lines == [b"POST http://provider.invalid/v1/chat HTTP/1.1"]


async def test_no_proxy_hosts_skip_the_proxy(
    server: KeepAliveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_proxy_variables(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with upstream_client(tls=False) as client:
        text = await _streamed_text(client, f"http://127.0.0.1:{server.port}/v1")

    assert text == "ok"
    assert server.connections == 1
