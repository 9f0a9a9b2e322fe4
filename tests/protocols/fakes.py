"""Fake upstreams on httpx2.MockTransport: canned bodies, streams, and silence."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from mcp_bridge.canonical import ChatRequest, Message
from mcp_bridge.config import ProviderConfig
from mcp_bridge.protocols import AttemptTimeouts, ProtocolAdapter, adapter_for

KEYS = {
    "openai": "sk-test-openai-0123456789abcdefXYZ",
    "anthropic": "sk-ant-test-0123456789abcdef",
    "gemini": "AIzaTest0123456789abcdefghijkl",
}
BASE_URLS = {
    "openai": "https://api.openai.example/v1",
    "anthropic": "https://api.anthropic.example",
    "gemini": "https://gemini.example/v1beta",
}
MODELS = {"openai": "gpt-test", "anthropic": "claude-test", "gemini": "gemini-test"}
TIMEOUTS = AttemptTimeouts(connect_s=1.0, first_token_s=2.0, stall_s=2.0)
SSE_HEADERS = {"content-type": "text/event-stream"}


def clear_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variable set, whatever the machine running the tests has."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def provider(protocol: str, **overrides: Any) -> ProviderConfig:
    """A provider of `protocol` pointed at the fake base URL, with a test key."""
    fields: dict[str, Any] = {
        "name": f"{protocol}-fake",
        "protocol": protocol,
        "base_url": BASE_URLS[protocol],
        "model": MODELS[protocol],
        "api_key": SecretStr(KEYS[protocol]),
        "api_key_env": f"{protocol.upper()}_API_KEY",
        "max_output_tokens": 512,
    }
    fields.update(overrides)
    return ProviderConfig(**fields)


def ask(text: str = "Hi", **fields: Any) -> ChatRequest:
    """A one-message request."""
    return ChatRequest(messages=[Message(role="user", content=text)], **fields)


def sse(*events: Any, event_names: Iterable[str | None] = ()) -> bytes:
    """SSE framing for `events` (dicts become JSON, strings go as they are)."""
    names = list(event_names)
    out = []
    for index, event in enumerate(events):
        data = event if isinstance(event, str) else json.dumps(event)
        name = names[index] if index < len(names) else None
        prefix = f"event: {name}\n" if name else ""
        out.append(f"{prefix}data: {data}\n\n")
    return "".join(out).encode()


def named_sse(*pairs: tuple[str, dict[str, Any]]) -> bytes:
    """SSE framing with an `event:` line per event, as Anthropic sends it."""
    return "".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in pairs
    ).encode()


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _then_hang(parts: list[bytes], never: anyio.Event) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    await never.wait()


@dataclass
class Upstream:
    """Answers every request with one canned response and records requests."""

    status: int = 200
    body: bytes | list[bytes] = b""
    headers: dict[str, str] = field(default_factory=lambda: dict(SSE_HEADERS))
    hang_after: bool = False
    """Send the body's chunks, then wait forever (a stall)."""
    hang_before: bool = False
    """Never send the response headers."""
    error: Exception | None = None
    requests: list[httpx2.Request] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    never: anyio.Event = field(default_factory=anyio.Event)

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        content = await request.aread()
        if content:
            self.bodies.append(json.loads(content))
        if self.error is not None:
            raise self.error
        if self.hang_before:
            await self.never.wait()
        parts = self.body if isinstance(self.body, list) else [self.body]
        stream = _then_hang(parts, self.never) if self.hang_after else _chunks(parts)
        return httpx2.Response(self.status, headers=self.headers, content=stream)

    def adapter(self, config: ProviderConfig) -> ProtocolAdapter:
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(self))
        return adapter_for(config, client)


def json_upstream(status: int, body: Any, **headers: str) -> Upstream:
    """An upstream answering with a JSON (or plain text) body."""
    if isinstance(body, str):
        payload, kind = body.encode(), "text/plain"
    else:
        payload, kind = json.dumps(body).encode(), "application/json"
    return Upstream(
        status=status, body=payload, headers={"content-type": kind, **headers}
    )
