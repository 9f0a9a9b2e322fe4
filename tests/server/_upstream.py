"""A scripted upstream for in-memory bridge tests.

The upstream is an `httpx2.MockTransport` speaking OpenAI Chat Completions
(whole bodies, no streaming); each model has a queue of scripted replies.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import httpx2
from mcp import Client

from mcp_bridge.config import BridgeConfig, LimitSettings, ProviderConfig

HANG = object()
"""A reply that never comes: the request waits until it is cancelled."""


class Upstream:
    """Scripted OpenAI-compatible providers, one queue of replies per model."""

    def __init__(self) -> None:
        self.replies: dict[str, deque[Any]] = defaultdict(deque)
        self.requests: list[dict[str, Any]] = []
        self.arrived = anyio.Event()
        self.cancelled = anyio.Event()
        self.transport = httpx2.MockTransport(self._handle)

    def queue(self, model: str, *replies: Any) -> None:
        self.replies[model].extend(replies)

    def bodies(self, model: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["model"] == model]

    async def _handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.arrived.set()
        queue = self.replies[body["model"]]
        reply = queue.popleft() if queue else 503
        if reply is HANG:
            try:
                await anyio.sleep_forever()
            finally:
                self.cancelled.set()
        if isinstance(reply, int):
            error = {"error": {"message": "scripted failure", "type": "server_error"}}
            return httpx2.Response(reply, json=error)
        text = reply if isinstance(reply, str) else json.dumps(reply)
        return httpx2.Response(200, json=_completion(body["model"], text))


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7},
    }


def provider(name: str, priority: int) -> ProviderConfig:
    return ProviderConfig(
        name=name,
        protocol="openai",
        base_url=f"http://{name}.test/v1",
        model=f"{name}-model",
        priority=priority,
        stream=False,
    )


def make_config(*names: str, **limits: int) -> BridgeConfig:
    config = BridgeConfig(
        providers=[provider(n, i) for i, n in enumerate(names, 1)], state="memory"
    )
    config.hedging.enabled = False
    config.routing.same_provider_retry = False
    if limits:
        config.limits = LimitSettings(**limits)
    return config


Bridge = Callable[..., AbstractAsyncContextManager[Client]]
"""Opens an in-memory client session on a bridge (the `bridge` fixture)."""
