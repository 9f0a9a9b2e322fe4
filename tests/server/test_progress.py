"""The server-wide heartbeat and the per-call reporters it keeps alive."""

from __future__ import annotations

import anyio
from anyio import wait_all_tasks_blocked

from mcp_bridge.server._progress import Reporter, heartbeat


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


async def test_racing_reports_are_sent_one_at_a_time_in_number_order() -> None:
    release = anyio.Event()
    log: list[tuple[str, float, str]] = []

    async def send(value: float, message: str) -> None:
        log.append(("start", value, message))
        if value == 1:
            await release.wait()
        log.append(("end", value, message))

    reporter = Reporter(send, "complete")
    async with anyio.create_task_group() as tg:
        tg.start_soon(reporter, "first")
        await wait_all_tasks_blocked()
        tg.start_soon(reporter, "second")
        tg.start_soon(reporter, "third")
        await wait_all_tasks_blocked()
        assert log == [("start", 1, "first")]  # the others wait their turn
        release.set()

    assert [entry[:2] for entry in log] == [
        ("start", 1),
        ("end", 1),
        ("start", 2),
        ("end", 2),
        ("start", 3),
        ("end", 3),
    ]


async def test_a_report_waiting_when_the_call_ends_is_dropped() -> None:
    release = anyio.Event()
    sent: list[str] = []

    async def send(value: float, message: str) -> None:
        sent.append(message)
        await release.wait()

    reporter = Reporter(send, "complete")
    async with anyio.create_task_group() as tg:
        tg.start_soon(reporter, "first")
        await wait_all_tasks_blocked()
        tg.start_soon(reporter, "late")
        await wait_all_tasks_blocked()
        reporter.closed = True
        release.set()

    assert sent == ["first"]
