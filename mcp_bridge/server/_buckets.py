"""A rate-limit table that several worker processes share.

With `[http] workers` above 1 the kernel hands each connection to any worker,
so a token's requests land in several processes; a bucket per process would
let a client through `workers` times its limit. This table lives in an
anonymous shared mapping made before the workers are forked, guarded by one
cross-process lock, so every worker spends from the same bucket.

Each slot holds a client's key digest, its tokens and the time they were
counted (CLOCK_MONOTONIC, the same in every process). Slots are found by
linear probing; a full neighbourhood gives up its stalest slot, whose client
then starts again with a full bucket, as after any idle spell.
"""

from __future__ import annotations

import hashlib
import mmap
import multiprocessing
import struct
import time
from collections.abc import Callable

from mcp_bridge.server._guard import spend

__all__ = ["SharedRateLimiter"]

_SLOT = struct.Struct("=Qdd")  # key digest, tokens, updated
_PROBES = 16


class SharedRateLimiter:
    """A token bucket per client: `per_minute` requests, shared across forks."""

    def __init__(
        self,
        per_minute: int,
        *,
        slots: int = 16_384,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._slots = slots
        self._clock = clock
        self._table = mmap.mmap(-1, slots * _SLOT.size)
        self._lock = multiprocessing.get_context("fork").Lock()

    def take(self, client: str) -> float | None:
        """Spend one request; None when allowed, else seconds until the next."""
        key = _digest(client)
        with self._lock:
            now = self._clock()
            offset, tokens, updated = self._find(key, now)
            tokens, wait = spend(tokens, now - updated, self.capacity, self._rate)
            _SLOT.pack_into(self._table, offset, key, tokens, now)
        return wait

    def _find(self, key: int, now: float) -> tuple[int, float, float]:
        """The slot for `key`, claimed (with a full bucket) when it had none."""
        start = key % self._slots
        stalest, stalest_at = 0, float("inf")
        for step in range(_PROBES):
            offset = ((start + step) % self._slots) * _SLOT.size
            held, tokens, updated = _SLOT.unpack_from(self._table, offset)
            if held == key:
                return offset, tokens, updated
            if held == 0:
                return offset, self.capacity, now
            if updated < stalest_at:
                stalest, stalest_at = offset, updated
        return stalest, self.capacity, now


def _digest(client: str) -> int:
    # Never 0: an all-zero slot is free.
    raw = hashlib.blake2b(client.encode(), digest_size=8).digest()
    return int.from_bytes(raw, "little") or 1
