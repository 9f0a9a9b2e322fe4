"""Progress notifications: router events plus a heartbeat while waiting.

Claude Code resets its idle watchdog on every progress notification, so a
long upstream call must keep sending them; values strictly increase.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["Reporter", "with_progress"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
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


async def with_progress(
    send: SendFn,
    call: Callable[[Reporter], Awaitable[T]],
    *,
    heartbeat_s: float,
    label: str,
) -> T:
    """Run `call(reporter)` while a heartbeat reports every `heartbeat_s` seconds.

    The call's own exception comes out as it is, not inside an exception group,
    so that callers can map it to a tool error.
    """
    reporter = Reporter(send)
    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(_heartbeat, reporter, heartbeat_s, label)
        try:
            value = await call(reporter)
        except Exception as exc:
            failure = exc
        finally:
            tg.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return value


async def _heartbeat(reporter: Reporter, every_s: float, label: str) -> None:
    started = anyio.current_time()
    await reporter(f"{label}: started")
    while True:
        await anyio.sleep(every_s)
        waited = anyio.current_time() - started
        await reporter(f"{label}: still working ({waited:.0f} s)")
