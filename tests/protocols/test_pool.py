"""The sharded upstream transport: warm connections for sequential calls."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import anyio
import pytest

from mcp_bridge.protocols import _pool
from mcp_bridge.protocols._pool import upstream_client


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
