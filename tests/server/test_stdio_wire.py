"""The event-loop stdio wire: lines in, frames out, over real pipes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import anyio
import pytest

from mcp_bridge.server._stdio import _Lines, _Out

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


async def test_frames_larger_than_the_pipe_arrive_whole_and_in_order(
    pipe: tuple[int, int],
) -> None:
    """A frame far over the pipe's capacity waits for the reader, not fails."""
    read_end, write_end = pipe
    frames = ["a" * 300_000 + "\n", '{"id": 2}\n', "é" * 70_000 + "\n"]
    received: list[str] = []

    async def write_all() -> None:
        out = _Out(write_end)
        for frame in frames:
            await out.write(frame)
            await out.flush()
        os.close(write_end)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(write_all)
            async for line in _Lines(read_end):
                received.append(line)
    assert received == frames


async def test_a_last_line_without_newline_is_still_delivered(
    pipe: tuple[int, int],
) -> None:
    """EOF ends the stream after handing over what was left unterminated."""
    read_end, write_end = pipe
    os.write(write_end, b'{"a": 1}\n{"b": 2}\n{"c"')
    os.close(write_end)
    with anyio.fail_after(5):
        lines = [line async for line in _Lines(read_end)]
    assert lines == ['{"a": 1}\n', '{"b": 2}\n', '{"c"']


async def test_invalid_utf8_is_replaced_not_fatal(pipe: tuple[int, int]) -> None:
    """Bytes that are not UTF-8 decode with replacement, as the SDK's reader does."""
    read_end, write_end = pipe
    os.write(write_end, b"ok\xff\n")
    os.close(write_end)
    with anyio.fail_after(5):
        lines = [line async for line in _Lines(read_end)]
    assert lines == ["ok\ufffd\n"]
