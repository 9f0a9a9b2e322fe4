"""The garbage collector's settings for a long-running server.

Start-up builds hundreds of thousands of objects that live as long as the
process (the SDK's and pydantic's schemas): they are frozen out of the
collector. The interpreter's own collections are then turned off: with
hundreds of calls in flight they walked the same live calls over and over.
What calls leave behind in reference cycles (the SDK's per-request runner
is one) is swept instead by one full collection, at most once a second and
only once enough new objects have piled up.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

__all__ = [
    "COLLECT_EVERY_S",
    "MIN_NEW_OBJECTS",
    "collect_if_due",
    "freeze_startup_objects",
    "sweeping",
]

COLLECT_EVERY_S = 1.0
"""How often the sweep looks at how many objects are new."""

MIN_NEW_OBJECTS = 8_000
"""The sweep runs a full collection once this many objects are new since the
last one: about 500 stateless HTTP requests' leftovers (each leaves about 16
objects in a cycle), 1.5 MB.

Measured at 500 callers on one process (gc.callbacks timing): the default
thresholds spent 16 % of CPU collecting; raised ones (50,000, 10, 100) about
13 %, and without any full collection RSS crept by 0.5 MB/s with no end in
sight; this sweep alone about 8 %, with RSS flat. Looking 4 times a second
kept 1.5 MB less but cost a fifth of the throughput."""


_settings = {"frozen": False}


def freeze_startup_objects() -> None:
    """Freeze start-up's objects and hand collection over to the sweep.

    Called by the serve commands, which own the process and run `sweeping`
    for as long as they serve.
    """
    gc.freeze()
    gc.disable()
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

    A full collection walks only what is not frozen: the calls in flight and
    their leftovers, about 0.1 s at 500 calls in flight. The sweep runs only
    after `freeze_startup_objects`: in a program that
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
