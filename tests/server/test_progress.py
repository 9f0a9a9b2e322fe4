"""The server-wide heartbeat and the per-call reporters it keeps alive."""

from __future__ import annotations

import anyio

from mcp_bridge.server._progress import heartbeat


async def test_a_quiet_call_gets_beats_and_nothing_follows_its_end() -> None:
    sent: list[tuple[float, str]] = []
    two_beats = anyio.Event()

    async def send(value: float, message: str) -> None:
        sent.append((value, message))
        if len(sent) == 2:
            two_beats.set()

    async with heartbeat(0.01) as beat:
        with beat.watch(send, "plan") as reporter:
            with anyio.fail_after(5):
                await two_beats.wait()
        await reporter("late event")

    assert [value for value, _ in sent] == [1, 2]
    assert all(message.startswith("plan: still working") for _, message in sent)
