"""The collector in a serving process: no per-request cycles, a seldom sweep."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

import anyio
import anyio.lowlevel
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.server.runner import ServerRunner

from mcp_bridge.server import _memory
from mcp_bridge.server._memory import (
    Sweep,
    prepare_serving_process,
    sweeping,
    untie_sdk_runner,
)
from tests.server._upstream import Bridge, Upstream, make_config


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

    assert Sweep(every_s=1, min_new=100).look() is not None

    assert all(ref() is None for ref in refs)


def test_no_collection_while_few_objects_are_new(quiet_collector: None) -> None:
    refs = _garbage(10)

    assert Sweep(every_s=1, min_new=10_000).look() is None

    # Still waiting: the sweep did not pay for a full collection.
    assert all(ref() is not None for ref in refs)
    gc.collect()
    assert all(ref() is None for ref in refs)


def _looks_until_collected(sweep: Sweep, limit: int = 50) -> int:
    """How many looks the sweep takes to run its next collection."""
    for count in range(1, limit + 1):
        _garbage(sweep.min_new)  # enough new objects: only the wait holds it
        if sweep.look() is not None:
            return count
    raise AssertionError(f"no collection in {limit} looks")


def test_the_wait_doubles_while_collections_find_little(
    quiet_collector: None,
) -> None:
    # Each round leaves `min_new` cycles, fewer than `worth`: not worth it.
    sweep = Sweep(every_s=1, longest_s=4, min_new=20, worth=1_000)

    waits = [_looks_until_collected(sweep) for _ in range(5)]

    assert waits == [1, 2, 4, 4, 4]


def test_a_collection_that_finds_garbage_brings_the_wait_back(
    quiet_collector: None,
) -> None:
    sweep = Sweep(every_s=1, longest_s=8, min_new=20, worth=1_000)
    for _ in range(3):
        _looks_until_collected(sweep)
    assert sweep.wait_s == 8

    _garbage(2_000)  # a burst of cycles: well over `worth`
    assert _looks_until_collected(sweep) == 8

    assert sweep.wait_s == 1
    assert _looks_until_collected(sweep) == 1


def test_serving_hands_collection_over_to_the_sweep(
    monkeypatch: pytest.MonkeyPatch, tied_runner: None
) -> None:
    monkeypatch.setitem(_memory._settings, "frozen", False)
    try:
        prepare_serving_process()

        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0
        assert _memory._settings["frozen"] is True
        assert not isinstance(ServerRunner.__dict__["on_request"], cached_property)
    finally:
        gc.unfreeze()
        gc.enable()


@contextmanager
def cyclic_garbage() -> Iterator[list[str]]:
    """The type names of what the block left that only the collector frees."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    left: list[str] = []
    try:
        yield left
        gc.collect()
        left.extend(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest.fixture
def tied_runner() -> Iterator[None]:
    """The SDK's runner as the SDK ships it, restored after the test."""
    saved = {name: ServerRunner.__dict__[name] for name in ("on_request", "on_notify")}
    try:
        yield
    finally:
        for name, attr in saved.items():
            setattr(ServerRunner, name, attr)


def _echo_server() -> MCPServer:
    server = MCPServer(name="echo")

    @server.tool()
    async def echo(text: str = "") -> str:
        return text

    return server


async def test_an_untied_runner_leaves_no_cycles_per_request(
    quiet_collector: None, tied_runner: None
) -> None:
    untie_sdk_runner()
    async with Client(_echo_server()) as client:
        await client.call_tool("echo", {"text": "warm"})
        with cyclic_garbage() as left:
            for _ in range(5):
                result = await client.call_tool("echo", {"text": "x"})

    assert result.structured_content == {"result": "x"}
    assert left == []  # tied, each call left its ServerRunner and 15 more
    # A second untie finds nothing left to change.
    assert untie_sdk_runner() is False


async def test_a_failed_over_call_leaves_no_cycles_either(
    quiet_collector: None, tied_runner: None, bridge: Bridge, upstream: Upstream
) -> None:
    # An error path is where tracebacks and frames would tie a call up.
    untie_sdk_runner()
    for _ in range(3):  # the breaker would open after a third failure
        upstream.queue("a-model", 503)
        upstream.queue("b-model", "from b")
    async with bridge(make_config("a", "b")) as client:
        await client.call_tool("complete", {"prompt": "warm"})
        with cyclic_garbage() as left:
            for _ in range(2):
                result = await client.call_tool("complete", {"prompt": "hi"})

    assert result.structured_content is not None
    assert [a["provider"] for a in result.structured_content["attempts"]] == ["a", "b"]
    assert left == []


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

    async with sweeping(Sweep(every_s=0, min_new=10)):
        await _turns(20)

    assert [ref() is None for ref in refs] == [collected] * len(refs)
