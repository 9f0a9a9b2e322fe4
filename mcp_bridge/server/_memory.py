"""The garbage collector's settings for a long-running server.

Start-up builds hundreds of thousands of objects that live as long as the
process (the SDK's and pydantic's schemas): they are frozen out of the
collector. The interpreter's own collections are then turned off: with
hundreds of calls in flight they walked the same live calls over and over.

A call leaves nothing in reference cycles once the SDK's per-request runner
stops holding a bound method of itself (see `untie_sdk_runner`); refcounting
frees everything else. What remains (closed sockets' transports, mostly) is
swept by a full collection that runs seldom: once a second while collections
find garbage, and ever less often, down to once every `LONGEST_WAIT_S`,
while they find almost none.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property

import anyio

__all__ = [
    "COLLECT_EVERY_S",
    "LONGEST_WAIT_S",
    "MIN_NEW_OBJECTS",
    "WORTH_COLLECTING",
    "Sweep",
    "prepare_serving_process",
    "sweeping",
    "untie_sdk_runner",
]

COLLECT_EVERY_S = 1.0
"""How often the sweep looks, and its wait after a collection found garbage."""

LONGEST_WAIT_S = 8.0
"""The longest wait between full collections, reached by doubling the wait
after each collection that found less than `WORTH_COLLECTING` objects.

A full collection walks every call in flight: 120-170 ms at 500 callers on
one process. Measured there: a collection every second cost about 12 % of
CPU and found nothing; every 8 s it costs under 2 %."""

MIN_NEW_OBJECTS = 8_000
"""No collection while fewer objects than this are new since the last one:
an idle server never collects."""

WORTH_COLLECTING = 1_000
"""A collection that frees at least this many objects brings the wait back
to `COLLECT_EVERY_S`: something is leaving cycles at a real rate."""

_settings = {"frozen": False}


def untie_sdk_runner() -> bool:
    """Stop the SDK's per-request runner from leaving itself in a cycle.

    `ServerRunner` caches its bound `on_request` and `on_notify` methods with
    `cached_property`: the instance then holds a method that holds the
    instance. A stateless HTTP request builds one runner, so every request
    left 16 objects (its connection, exit stack, events) that only a full
    collection could free. A plain property returns the same bound method,
    made afresh on each read; refcounting then frees the runner when the
    request ends. Returns whether the SDK still had the cached form (a later
    release may have fixed it).
    """
    from mcp.server.runner import ServerRunner

    untied = False
    for name in ("on_request", "on_notify"):
        attr = ServerRunner.__dict__.get(name)
        if isinstance(attr, cached_property):
            setattr(ServerRunner, name, property(attr.func, doc=attr.__doc__))
            untied = True
    return untied


def prepare_serving_process() -> None:
    """Freeze start-up's objects and hand collection over to the sweep.

    Called by the serve commands, which own the process and run `sweeping`
    for as long as they serve; a program that embeds the server keeps its
    own collector and the SDK as it is.
    """
    untie_sdk_runner()
    gc.freeze()
    gc.disable()
    _settings["frozen"] = True


class Sweep:
    """When to run the next full collection, and running it.

    `look` is called every `every_s`. It collects when the current wait has
    passed and `min_new` objects are new; the wait then doubles, up to
    `longest_s`, unless the collection freed `worth` objects or more.
    """

    def __init__(
        self,
        every_s: float = COLLECT_EVERY_S,
        longest_s: float = LONGEST_WAIT_S,
        min_new: int = MIN_NEW_OBJECTS,
        worth: int = WORTH_COLLECTING,
    ) -> None:
        self.every_s, self.longest_s = every_s, longest_s
        self.min_new, self.worth = min_new, worth
        self.wait_s = every_s
        self._waited_s = 0.0

    def look(self) -> int | None:
        """One look: the objects a collection freed, or None when none ran."""
        self._waited_s += self.every_s
        if self._waited_s < self.wait_s or gc.get_count()[0] < self.min_new:
            return None
        self._waited_s = 0.0
        found = gc.collect()
        if found >= self.worth:
            self.wait_s = self.every_s
        else:
            self.wait_s = min(self.wait_s * 2, self.longest_s)
        return found


@asynccontextmanager
async def sweeping(sweep: Sweep | None = None) -> AsyncIterator[None]:
    """Run `sweep` (a default one) every `sweep.every_s` inside the block.

    The sweep runs only after `prepare_serving_process`: in a program that
    embeds the server nothing is frozen, and a full collection would walk
    (and pause) all of that program's objects.
    """
    if not _settings["frozen"]:
        yield
        return
    sweep = sweep or Sweep()

    async def run() -> None:
        while True:
            await anyio.sleep(sweep.every_s)
            sweep.look()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()
