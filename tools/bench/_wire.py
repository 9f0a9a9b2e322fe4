"""A minimal HTTP/1.1 keep-alive client on anyio streams, for load generation.

httpx2 spends several times more CPU per request than the servers under test
at hundreds of concurrent callers; this client parses only what the MCP
server sends back (Content-Length or chunked bodies) so that the load
generator stays light.
"""

from __future__ import annotations

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = ["Connection"]


class Connection:
    """One kept-alive TCP connection sending POSTs one after another."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self._stream: anyio.abc.SocketStream | None = None
        self._reader: BufferedByteReceiveStream | None = None

    async def _open(self) -> None:
        self._stream = await anyio.connect_tcp(self.host, self.port)
        self._reader = BufferedByteReceiveStream(self._stream)

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """Send one POST; returns (status, body). Reconnects once if closed."""
        if self._stream is None:
            await self._open()
        try:
            return await self._exchange(body, headers)
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            await self.aclose()
            await self._open()
            return await self._exchange(body, headers)

    async def _exchange(
        self, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        assert self._stream is not None and self._reader is not None
        lines = [f"POST {self.path} HTTP/1.1", f"host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"content-length: {len(body)}")
        await self._stream.send("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
        head = await self._reader.receive_until(b"\r\n\r\n", 65536)
        status_line, *fields = head.decode("latin-1").split("\r\n")
        found = dict(_field(f) for f in fields if ":" in f)
        if "content-length" in found:
            data = await self._reader.receive_exactly(int(found["content-length"]))
        elif found.get("transfer-encoding") == "chunked":
            data = await self._chunks()
        else:
            data = b""
        if found.get("connection") == "close":
            await self.aclose()
        return int(status_line.split()[1]), data

    async def _chunks(self) -> bytes:
        assert self._reader is not None
        parts: list[bytes] = []
        while True:
            size = int(
                (await self._reader.receive_until(b"\r\n", 1024)).split(b";")[0], 16
            )
            if size == 0:
                await self._reader.receive_until(b"\r\n", 65536)
                return b"".join(parts)
            parts.append(await self._reader.receive_exactly(size))
            await self._reader.receive_exactly(2)

    async def aclose(self) -> None:
        """Close the connection (a later post reconnects)."""
        if self._stream is not None:
            await self._stream.aclose()
        self._stream = self._reader = None


def _field(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()
