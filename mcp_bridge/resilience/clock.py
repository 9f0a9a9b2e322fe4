"""Time as the resilience engine sees it, injectable so tests never sleep."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Two readings: wall time for shared state, monotonic time for durations."""

    def time(self) -> float:
        """Seconds since the epoch; cooldown ends are stored in this unit."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for latencies."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """A monotonic reading in seconds."""
        return time.monotonic()


class FakeClock:
    """A clock that moves only when a test calls `advance`."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._wall = start
        self._mono = 0.0

    def time(self) -> float:
        """The fake wall time."""
        return self._wall

    def monotonic(self) -> float:
        """The fake monotonic time."""
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both readings forward by `seconds`."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards; pass seconds >= 0")
        self._wall += seconds
        self._mono += seconds
