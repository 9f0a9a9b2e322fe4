"""Stdio served from the event loop when stdin and stdout are pipes.

The SDK's stdio transport reads each line and writes each message through
worker threads (one hop per line read, two per message written). A client
such as Claude Code starts the server with pipes on both ends, and a pipe can
be polled: made non-blocking and read and written from the event loop, a call
costs no thread hop and no GIL hand-over. Anything else (a terminal, a file,
Windows) is served by the SDK's transport unchanged.

While serving, fd 0 reads the null device and fd 1 writes to stderr, as the
SDK arranges too: a stray `print` or a child process inheriting the standard
descriptors cannot tear a frame on the wire. The wire is served from private
duplicates, and both descriptors are restored on exit.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

__all__ = ["serve_stdio"]

_READ_SIZE = 256 * 1024


async def serve_stdio(server: MCPServer[Any]) -> None:
    """Serve `server` over this process's stdin and stdout until EOF."""
    if not _pollable_wire():
        await server.run_stdio_async()
        return
    lowlevel = server._lowlevel_server  # the SDK's own run_stdio_async uses it
    options = lowlevel.create_initialization_options()
    with _pipe_wire() as (wire_in, wire_out):
        lines, out = _Lines(wire_in), _Out(wire_out)
        async with stdio_server(stdin=lines, stdout=out) as (read, write):  # type: ignore[arg-type]
            await lowlevel.run(read, write, options)


def _pollable_wire() -> bool:
    if sys.platform == "win32":
        return False
    try:
        return all(_is_pipe(fd) for fd in (0, 1))
    except OSError:
        return False


def _is_pipe(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class _Lines:
    """The wire's incoming lines, decoded as the SDK decodes them."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._scanned = 0
        self._eof = False

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0:
                return self._take(end + 1)
            self._scanned = len(self._buffer)
            if self._eof:
                if self._buffer:
                    return self._take(len(self._buffer))
                raise StopAsyncIteration
            await self._fill()

    def _take(self, size: int) -> str:
        line = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._scanned = 0
        return line.decode("utf-8", errors="replace")

    async def _fill(self) -> None:
        while True:
            try:
                data = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                await anyio.wait_readable(self._fd)
                continue
            self._eof = not data
            self._buffer += data
            return


class _Out:
    """The wire's outgoing side: `write` buffers, `flush` empties into the pipe."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending = bytearray()

    async def write(self, text: str) -> None:
        self._pending += text.encode("utf-8")

    async def flush(self) -> None:
        while self._pending:
            try:
                written = os.write(self._fd, self._pending)
            except BlockingIOError:
                await anyio.wait_writable(self._fd)
                continue
            del self._pending[:written]


@contextmanager
def _pipe_wire() -> Iterator[tuple[int, int]]:
    """Private non-blocking duplicates of fds 0 and 1; the originals diverted."""
    import fcntl

    wire_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    wire_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    blocking = (os.get_blocking(wire_in), os.get_blocking(wire_out))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    try:
        os.set_blocking(wire_in, False)
        os.set_blocking(wire_out, False)
        yield wire_in, wire_out
    finally:
        # O_NONBLOCK belongs to the pipe's shared open file, not to our
        # descriptor: whoever else holds the pipe gets it back as it was.
        os.set_blocking(wire_in, blocking[0])
        os.set_blocking(wire_out, blocking[1])
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)
        os.close(wire_in)
        os.close(wire_out)
