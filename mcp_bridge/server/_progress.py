"""Progress notifications: router events plus a heartbeat while waiting.

Claude Code resets its idle watchdog on every progress notification, so a
long upstream call must keep sending them; values strictly increase.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio

__all__ = ["Reporter", "progress_reporter"]

logger = logging.getLogger(__name__)

SendFn = Callable[[float, str], Awaitable[None]]


class Reporter:
    """Numbers events 1, 2, 3, ... and sends them in that order."""

    def __init__(self, send: SendFn) -> None:
        self._send = send
        self._count = 0
        self._lock = anyio.Lock()
        self.last_message = ""

    @property
    def count(self) -> int:
        """How many notifications were sent."""
        return self._count

    async def __call__(self, message: str) -> None:
        # The lock keeps the numbering and the sending order the same when a
        # heartbeat and a router event (or two hedged attempts) race.
        async with self._lock:
            self._count += 1
            self.last_message = message
            try:
                await self._send(self._count, message)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                logger.debug("progress not sent: the client has gone")


@asynccontextmanager
async def progress_reporter(
    send: SendFn, *, heartbeat_s: float, label: str
) -> AsyncIterator[Reporter]:
    """Yield a reporter that also sends a heartbeat every `heartbeat_s` seconds."""
    reporter = Reporter(send)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_heartbeat, reporter, heartbeat_s, label)
        try:
            yield reporter
        finally:
            tg.cancel_scope.cancel()


async def _heartbeat(reporter: Reporter, every_s: float, label: str) -> None:
    started = anyio.current_time()
    await reporter(f"{label}: started")
    while True:
        await anyio.sleep(every_s)
        waited = anyio.current_time() - started
        await reporter(f"{label}: still working ({waited:.0f} s)")
