"""Scripted OpenAI-wire upstreams on httpx2.MockTransport, one per host.

Each provider `name` lives at http://name.test/v1. A test queues replies per
provider; when the queue is empty the provider's default reply is used.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx2

from mcp_bridge.canonical import ChatRequest, Message
from mcp_bridge.config import BridgeConfig, HedgingSettings, ProviderConfig

Reply = Callable[[httpx2.Request], Awaitable[httpx2.Response]]


def provider(name: str, priority: int = 100, **fields: Any) -> ProviderConfig:
    """A keyless OpenAI-protocol provider at http://{name}.test/v1."""
    values: dict[str, Any] = {
        "name": name,
        "protocol": "openai",
        "base_url": f"http://{name}.test/v1",
        "model": f"{name}-model",
        "priority": priority,
        "max_output_tokens": 256,
    }
    values.update(fields)
    return ProviderConfig(**values)


def config(*providers: ProviderConfig, **fields: Any) -> BridgeConfig:
    """A memory-backed configuration with hedging off unless given."""
    fields.setdefault("hedging", HedgingSettings(enabled=False))
    return BridgeConfig(providers=list(providers), state="memory", **fields)


def ask(text: str = "Say hi") -> ChatRequest:
    """A one-message request."""
    return ChatRequest(messages=[Message(role="user", content=text)])


def ok(text: str = "hello") -> Reply:
    """A complete answer (SSE when the request asked for a stream)."""

    async def reply(request: httpx2.Request) -> httpx2.Response:
        if json.loads(request.content).get("stream"):
            return _sse(_chunks(text))
        return httpx2.Response(200, json=_completion(text))

    return reply


def fail(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    """An HTTP error with an OpenAI-shaped body."""
    payload = body if body is not None else {"error": {"message": f"error {status}"}}

    async def reply(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, json=payload, headers=headers or {})

    return reply


def refuse() -> Reply:
    """The connection is refused."""

    async def reply(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("[Errno 111] Connection refused", request=request)

    return reply


def hang() -> Reply:
    """Accept the request and never answer."""

    async def reply(request: httpx2.Request) -> httpx2.Response:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    return reply


def gated(text: str, gate: anyio.Event) -> Reply:
    """A stream whose first token waits for `gate`."""

    async def body() -> AsyncIterator[bytes]:
        await gate.wait()
        for chunk in _chunks(text):
            yield chunk

    async def reply(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=body()
        )

    return reply


class Upstreams:
    """The MockTransport handler: scripted replies and a log of requests."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[Reply]] = defaultdict(deque)
        self.defaults: dict[str, Reply] = {}
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def script(self, name: str, *replies: Reply, then: Reply | None = None) -> None:
        """Queue `replies` for provider `name`, then answer with `then`."""
        self.queues[name].extend(replies)
        if then is not None:
            self.defaults[name] = then

    def count(self, name: str) -> int:
        """How many requests provider `name` received."""
        return len(self.requests[name])

    def transport(self) -> httpx2.MockTransport:
        """The transport to hand to `open_router`."""
        return httpx2.MockTransport(self._handle)

    async def _handle(self, request: httpx2.Request) -> httpx2.Response:
        name = request.url.host.removesuffix(".test")
        self.requests[name].append(json.loads(request.content or b"{}"))
        if request.method == "GET":  # a models-list probe
            return httpx2.Response(200, json={"object": "list", "data": []})
        queue = self.queues[name]
        reply = (
            queue.popleft() if queue else self.defaults.get(name, ok(f"from {name}"))
        )
        return await reply(request)


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "model": "served-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2},
    }


def _chunks(text: str) -> list[bytes]:
    events = [
        {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    return [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [
        b"data: [DONE]\n\n"
    ]


def _sse(chunks: list[bytes]) -> httpx2.Response:
    return httpx2.Response(
        200, headers={"content-type": "text/event-stream"}, content=b"".join(chunks)
    )
