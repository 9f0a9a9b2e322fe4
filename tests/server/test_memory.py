"""The sweep that collects what calls leave in reference cycles."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest

from mcp_bridge.server import _memory
from mcp_bridge.server._memory import collect_if_due, freeze_startup_objects, sweeping


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def quiet_collector() -> Iterator[None]:
    """No automatic collection during the test: only the sweep may free cycles."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _garbage(count: int) -> list[weakref.ref[_Node]]:
    refs = []
    for _ in range(count):
        node = _Node()
        refs.append(weakref.ref(node))
    return refs


def test_cycles_are_collected_once_many_objects_are_new(
    quiet_collector: None,
) -> None:
    refs = _garbage(500)

    assert collect_if_due(min_new=100) is True

    assert all(ref() is None for ref in refs)


def test_no_collection_while_few_objects_are_new(quiet_collector: None) -> None:
    refs = _garbage(10)

    assert collect_if_due(min_new=10_000) is False

    # Still waiting: the sweep did not pay for a full collection.
    assert all(ref() is not None for ref in refs)
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_serving_hands_collection_over_to_the_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(_memory._settings, "frozen", False)
    try:
        freeze_startup_objects()

        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0
        assert _memory._settings["frozen"] is True
    finally:
        gc.unfreeze()
        gc.enable()


async def _turns(count: int) -> None:
    for _ in range(count):
        await anyio.lowlevel.checkpoint()


@pytest.mark.parametrize(
    ("frozen", "collected"),
    [(True, True), (False, False)],
    ids=["serving process", "embedding program"],
)
async def test_the_sweep_collects_only_in_a_serving_process(
    quiet_collector: None,
    monkeypatch: pytest.MonkeyPatch,
    frozen: bool,
    collected: bool,
) -> None:
    # An embedding program froze nothing: a sweep would walk its whole heap.
    monkeypatch.setitem(_memory._settings, "frozen", frozen)
    refs = _garbage(50)

    async with sweeping(every_s=0, min_new=10):
        await _turns(20)

    assert [ref() is None for ref in refs] == [collected] * len(refs)
