"""Progress notifications: router events plus a heartbeat while waiting.

Claude Code resets its idle watchdog on every progress notification, so a
long upstream call must keep sending them; values strictly increase.

One `Heartbeat` task serves the whole server: a call only joins its set of
reporters while it runs, so a call that ends within the heartbeat period
costs no task, timer or task group.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio

__all__ = ["Heartbeat", "Reporter", "heartbeat"]

logger = logging.getLogger(__name__)

SendFn = Callable[[float, str], Awaitable[None]]

_TICK_S = 1.0
"""How often the heartbeat looks for calls that have been quiet too long."""


class Reporter:
    """Numbers one call's events 1, 2, 3, ... and sends them in that order."""

    __slots__ = (
        "_count",
        "_send",
        "_sending",
        "_turn",
        "closed",
        "label",
        "last_sent",
        "started",
    )

    def __init__(self, send: SendFn, label: str) -> None:
        self._send = send
        self._count = 0
        self._sending = False
        self._turn: anyio.Event | None = None
        """Made only when a report has to wait for another (rare): a lock per
        call would cost every call its queue."""
        self.label = label
        self.started = self.last_sent = anyio.current_time()
        self.closed = False
        """Set when the call has ended: nothing more may follow its result."""

    async def __call__(self, message: str) -> None:
        # One report at a time, numbered in the order they are sent, when the
        # heartbeat and a router event (or two hedged attempts) race. An
        # uncontended report does not yield to the event loop.
        while self._sending:
            if self._turn is None:
                self._turn = anyio.Event()
            await self._turn.wait()
        if self.closed:
            return
        self._sending = True
        try:
            self._count += 1
            self.last_sent = anyio.current_time()
            await self._send(self._count, message)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            logger.debug("progress not sent: the client has gone")
        finally:
            self._sending = False
            turn, self._turn = self._turn, None
            if turn is not None:
                turn.set()


class Heartbeat:
    """Sends "still working" for every call quiet for `every_s` seconds."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._calls: set[Reporter] = set()

    @contextmanager
    def watch(self, send: SendFn, label: str) -> Iterator[Reporter]:
        """A reporter for one call, kept alive by the heartbeat until the end."""
        reporter = Reporter(send, label)
        self._calls.add(reporter)
        try:
            yield reporter
        finally:
            reporter.closed = True
            self._calls.discard(reporter)

    async def run(self) -> None:
        """Beat until cancelled; a slow client delays only its own beats."""
        async with anyio.create_task_group() as tg:
            while True:
                await anyio.sleep(min(_TICK_S, self.every_s))
                now = anyio.current_time()
                for reporter in list(self._calls):
                    if now - reporter.last_sent >= self.every_s:
                        # Marked now, so a slow send is not doubled next tick.
                        reporter.last_sent = now
                        waited = now - reporter.started
                        message = f"{reporter.label}: still working ({waited:.0f} s)"
                        tg.start_soon(reporter, message)


@asynccontextmanager
async def heartbeat(every_s: float) -> AsyncIterator[Heartbeat]:
    """Run a `Heartbeat` for the duration of the block (the server's lifespan)."""
    beat = Heartbeat(every_s)
    async with anyio.create_task_group() as tg:
        tg.start_soon(beat.run)
        try:
            yield beat
        finally:
            tg.cancel_scope.cancel()
