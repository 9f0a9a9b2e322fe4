"""The contract every wire protocol module fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx2

from mcp_bridge.canonical import ChatRequest, ChatResponse
from mcp_bridge.config import ProviderConfig

__all__ = ["AttemptTimeouts", "ChunkCallback", "ProtocolAdapter"]

ChunkCallback = Callable[[int], Awaitable[None] | None]
"""Called as a stream grows, with the number of answer characters so far; what
it returns, when not None (a progress report), is awaited before reading on."""


@dataclass(frozen=True, slots=True)
class AttemptTimeouts:
    """Limits for one attempt; the call's total deadline is a cancel scope above."""

    connect_s: float
    first_token_s: float
    stall_s: float


class ProtocolAdapter(ABC):
    """Translates canonical requests to one wire format and answers back.

    An adapter raises only `mcp_bridge.errors.ProviderError` subclasses (and
    lets cancellation through); it knows nothing of health or routing.
    """

    def __init__(self, provider: ProviderConfig, client: httpx2.AsyncClient) -> None:
        self.provider = provider
        self.client = client

    @abstractmethod
    async def send(
        self,
        request: ChatRequest,
        timeouts: AttemptTimeouts,
        on_chunk: ChunkCallback | None = None,
    ) -> ChatResponse:
        """Send one request and return the whole, validated answer."""

    @abstractmethod
    async def probe(self, timeout_s: float) -> None:
        """Check reachability and credentials with a cheap request (models list)."""
