"""The garbage collector's settings for a long-running server.

Start-up builds hundreds of thousands of objects that live as long as the
process (the SDK's and pydantic's schemas): they are frozen out of the
collector. Calls in flight are collected rarely, because the collector would
otherwise walk the same live calls over and over. What a call leaves behind
in reference cycles (the SDK's per-request runner is one) is then swept by a
full collection every few seconds, once enough new objects have piled up.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

__all__ = [
    "COLLECT_EVERY_S",
    "GC_THRESHOLDS",
    "MIN_NEW_OBJECTS",
    "collect_if_due",
    "freeze_startup_objects",
    "sweeping",
]

GC_THRESHOLDS = (50_000, 10, 100)
"""Hundreds of calls in flight keep their objects alive across many young
collections: at the default (700, 10, 10) the collector spent 16 % of CPU at
500 callers (gc.callbacks timing), about 5 % with these."""

COLLECT_EVERY_S = 1.0
"""How often the sweep looks at how many objects are new."""

MIN_NEW_OBJECTS = 8_000
"""The sweep runs a full collection once this many objects are new since the
last one: about 500 stateless HTTP requests' leftovers (each leaves about 16
objects in a cycle), 1.5 MB. At the thresholds above alone the interpreter
seldom runs one, and RSS crept by about 0.5 MB/s at 500 calls/s with no end
in sight. Looking 4 times a second kept 1.5 MB less at 500 callers but cost
a fifth of the throughput; once a second costs about 4 %."""


_settings = {"frozen": False}


def freeze_startup_objects() -> None:
    """Keep start-up's objects out of every later collection; raise the thresholds.

    Called by the serve commands, which own the process; this also arms the sweep.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    _settings["frozen"] = True


def collect_if_due(min_new: int = MIN_NEW_OBJECTS) -> bool:
    """Run a full collection when `min_new` objects are new since the last one."""
    if gc.get_count()[0] < min_new:
        return False
    gc.collect()
    return True


@asynccontextmanager
async def sweeping(
    every_s: float = COLLECT_EVERY_S, min_new: int = MIN_NEW_OBJECTS
) -> AsyncIterator[None]:
    """Collect what calls leave in reference cycles, every `every_s`, in the block.

    A full collection walks only what is not frozen: the calls in flight. At
    500 calls in flight that is about 35 ms.
    The sweep runs only after `freeze_startup_objects`: in a program that
    embeds the server nothing is frozen, and a full collection would walk
    (and pause) all of that program's objects.
    """
    if not _settings["frozen"]:
        yield
        return

    async def sweep() -> None:
        while True:
            await anyio.sleep(every_s)
            collect_if_due(min_new)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sweep)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()
