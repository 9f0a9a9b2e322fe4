"""An httpx2 transport that notes when the bridge sent each upstream request."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import httpx2

__all__ = ["Recorder", "Sent"]


@dataclass
class Sent:
    """One upstream request: who it was for, when it left, when it ended."""

    provider: str
    start: float
    end: float = 0.0
    status: int | None = None


class Recorder(httpx2.AsyncBaseTransport):
    """Wraps the real transport; attributes requests by `{name}-model`."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self._names = names
        self.sent: list[Sent] = []

    def _who(self, request: httpx2.Request) -> str:
        text = str(request.url) + request.content.decode("utf-8", "replace")
        return next((n for n in self._names if f"{n}-model" in text), "?")

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Forward the request, keeping its start time and status."""
        await request.aread()
        entry = Sent(self._who(request), anyio.current_time())
        self.sent.append(entry)
        try:
            response = await self._inner.handle_async_request(request)
        finally:
            entry.end = anyio.current_time()
        entry.status = response.status_code
        return response

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()

    def times(self, provider: str) -> list[float]:
        """Start times of the requests sent to `provider`, in order."""
        return [s.start for s in self.sent if s.provider == provider]
