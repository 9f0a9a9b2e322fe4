"""A minimal HTTP/1.1 server on anyio sockets, with raw control of the connection.

A framework would hide exactly what the fake needs: closing a socket with a
TCP reset, answering nothing while holding the connection open, or cutting a
chunked body in the middle. Requests are read with Content-Length or chunked
bodies; responses are either whole (Content-Length) or chunked streams; the
connection is kept alive between requests, as real providers do.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

import anyio
from anyio.abc import SocketAttribute, SocketStream, TaskStatus
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = ["ConnectionGone", "HttpConnection", "HttpRequest", "serve_http"]

logger = logging.getLogger(__name__)

_MAX_HEAD = 64 * 1024
_MAX_BODY = 32 * 1024 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Site Overloaded",
}
_CLOSED = (
    anyio.EndOfStream,
    anyio.IncompleteRead,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.DelimiterNotFound,
    ConnectionError,
    OSError,
)


@dataclass
class HttpRequest:
    """One parsed request: lower-cased header names, the path already unquoted."""

    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = field(repr=False)


class ConnectionGone(Exception):
    """The connection was closed on purpose; the serving loop stops quietly."""


class HttpConnection:
    """Reads requests from one socket and writes whole, streamed or broken answers."""

    def __init__(self, stream: SocketStream) -> None:
        self._stream = stream
        self._reader = BufferedByteReceiveStream(stream)
        self.keep_alive = True
        self._chunked = False

    async def read_request(self) -> HttpRequest | None:
        """Return the next request, or None when the client closed the connection."""
        try:
            head = await self._reader.receive_until(b"\r\n\r\n", _MAX_HEAD)
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = _parse_headers(lines[1:])
        body = await self._read_body(headers)
        self.keep_alive = _wants_keep_alive(version, headers)
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        return HttpRequest(method, target, unquote(parts.path), query, headers, body)

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return await self._read_chunked()
        length = int(headers.get("content-length", "0") or 0)
        if length > _MAX_BODY:
            raise ConnectionGone("request body too large")
        return await self._reader.receive_exactly(length) if length else b""

    async def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_line = await self._reader.receive_until(b"\r\n", 1024)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Skip trailers up to the blank line.
                while await self._reader.receive_until(b"\r\n", _MAX_HEAD):
                    pass
                return bytes(body)
            body += await self._reader.receive_exactly(size)
            await self._reader.receive_exactly(2)

    async def send_whole(
        self,
        status: int,
        headers: dict[str, str],
        body: bytes,
        limit: int | None = None,
    ) -> None:
        """Send a response with a Content-Length; `limit` sends only that many bytes."""
        head = _head(status, {**headers, "content-length": str(len(body))}, self)
        await self._stream.send(head + body[:limit])

    async def start_stream(self, status: int, headers: dict[str, str]) -> None:
        """Send the status line and headers of a chunked response."""
        self._chunked = True
        head = _head(status, {**headers, "transfer-encoding": "chunked"}, self)
        await self._stream.send(head)

    async def send_stream(
        self, status: int, headers: dict[str, str], chunks: list[bytes], *, end: bool
    ) -> None:
        """Send headers and chunks in one write (fast); `end` adds the last chunk."""
        head = _head(status, {**headers, "transfer-encoding": "chunked"}, self)
        frames = b"".join(b"%x\r\n%b\r\n" % (len(c), c) for c in chunks if c)
        await self._stream.send(head + frames + (b"0\r\n\r\n" if end else b""))

    async def send_chunk(self, data: bytes) -> None:
        """Send one chunk of a streamed response (empty data is skipped)."""
        if data:
            await self._stream.send(b"%x\r\n%b\r\n" % (len(data), data))

    async def end_stream(self) -> None:
        """Send the terminating zero-length chunk."""
        await self._stream.send(b"0\r\n\r\n")
        self._chunked = False

    async def reset(self) -> None:
        """Close with a TCP reset (RST), not an orderly FIN."""
        raw = self._stream.extra(SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await self._stream.aclose()
        raise ConnectionGone("reset")

    async def close(self) -> None:
        """Close the connection abruptly with a FIN, mid-response if need be."""
        await self._stream.aclose()
        raise ConnectionGone("closed")

    async def hold_until_disconnect(self) -> None:
        """Answer nothing until the client goes away, then close."""
        try:
            while True:
                await self._reader.receive()
        except _CLOSED:
            pass
        await self._stream.aclose()
        raise ConnectionGone("client left")


Handler = Callable[[HttpRequest, HttpConnection], Awaitable[None]]


async def serve_http(
    handler: Handler,
    host: str,
    port: int,
    *,
    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled; reports the bound port through `task_status`."""
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    async with listener:
        task_status.started(listener.extra(SocketAttribute.local_port))
        await listener.serve(lambda stream: _serve_connection(handler, stream))


async def _serve_connection(handler: Handler, stream: SocketStream) -> None:
    conn = HttpConnection(stream)
    async with stream:
        try:
            while (request := await conn.read_request()) is not None:
                await handler(request, conn)
                if not conn.keep_alive:
                    return
        except (ConnectionGone, *_CLOSED):
            return
        except Exception:
            # A fake that dies on one odd request would fail every later test.
            logger.exception("fake provider: request handling failed")


def _parse_headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return headers


def _wants_keep_alive(version: str, headers: dict[str, str]) -> bool:
    token = headers.get("connection", "").lower()
    if version.strip() == "HTTP/1.0":
        return token == "keep-alive"
    return token != "close"


def _head(status: int, headers: dict[str, str], conn: HttpConnection) -> bytes:
    reason = _REASONS.get(status, "Unknown")
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if not conn.keep_alive:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
