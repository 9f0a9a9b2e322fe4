"""Behaviour every state store shares, run against memory and SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_bridge.store import MemoryStore, SqliteStore, StateStore, open_store


@pytest.fixture(params=["memory", "sqlite"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StateStore]:
    spec = "memory" if request.param == "memory" else f"sqlite://{tmp_path}/s.db"
    # Not entered with `async with`: pytest-asyncio tears fixtures down in
    # another task, and the flusher's task group must exit where it started.
    opened = open_store(spec)
    yield opened
    await opened.aclose()


async def test_health_record_round_trips(store: StateStore) -> None:
    await store.save_health("a:m", {"rev": 1, "state": "open"})
    await store.flush()
    assert await store.load_health(["a:m", "b:m"]) == {
        "a:m": {"rev": 1, "state": "open"}
    }


async def test_an_older_revision_never_replaces_a_newer_one(store: StateStore) -> None:
    await store.save_health("a:m", {"rev": 5, "state": "open"})
    await store.save_health("a:m", {"rev": 3, "state": "closed"})
    await store.flush()
    assert (await store.load_health(["a:m"]))["a:m"]["state"] == "open"


async def test_a_probe_lease_is_granted_to_exactly_one_of_fifty_callers(
    store: StateStore,
) -> None:
    granted: list[bool] = []

    async def contend() -> None:
        granted.append(await store.try_acquire_probe("a:m@1", ttl_s=30))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(contend)
    assert granted.count(True) == 1


async def test_an_expired_lease_can_be_taken_again() -> None:
    now = [100.0]
    store = MemoryStore(clock=lambda: now[0])
    assert await store.try_acquire_probe("k", ttl_s=10)
    assert not await store.try_acquire_probe("k", ttl_s=10)
    now[0] = 111.0
    assert await store.try_acquire_probe("k", ttl_s=10)


async def test_plans_are_listed_newest_first_and_an_update_keeps_its_place(
    store: StateStore,
) -> None:
    for plan_id in ("p1", "p2", "p3"):
        await store.save_plan(plan_id, {"id": plan_id, "v": 1})
    await store.save_plan("p1", {"id": "p1", "v": 2})
    plans = await store.list_plans(limit=2)
    assert [p["id"] for p in plans] == ["p3", "p2"]
    assert await store.get_plan("p1") == {"id": "p1", "v": 2}
    assert await store.get_plan("missing") is None


async def test_two_sqlite_stores_on_one_file_see_each_others_health(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.db"
    async with (
        SqliteStore(path, refresh_s=0) as first,
        SqliteStore(path, refresh_s=0) as second,
    ):
        await first.save_health("deepseek:chat", {"rev": 1, "state": "open"})
        await first.flush()
        seen = await second.load_health(["deepseek:chat"])
        assert seen["deepseek:chat"]["state"] == "open"
        assert await first.try_acquire_probe("deepseek:chat@9", ttl_s=60)
        assert not await second.try_acquire_probe("deepseek:chat@9", ttl_s=60)


async def test_health_written_behind_is_on_disk_after_the_store_closes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    async with SqliteStore(path, flush_s=3600) as store:
        await store.save_health("a:m", {"rev": 2, "state": "half_open"})
    reopened = SqliteStore(path)
    assert (await reopened.load_health(["a:m"]))["a:m"]["state"] == "half_open"
    await reopened.aclose()


async def test_a_corrupt_database_degrades_to_memory_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database at all\x00\xff" * 200)
    store = open_store(f"sqlite://{path}")
    assert store.degraded
    assert "unusable" in caplog.text and str(path) in caplog.text
    await store.save_health("a:m", {"rev": 1, "state": "open"})
    assert (await store.load_health(["a:m"]))["a:m"]["state"] == "open"
    await store.save_plan("p", {"id": "p"})
    assert await store.list_plans() == [{"id": "p"}]
    assert await store.try_acquire_probe("k", ttl_s=5)
    await store.aclose()


async def test_concurrent_calls_share_one_read_and_the_first_ones_wait_for_it(
    tmp_path: Path,
) -> None:
    writer = SqliteStore(tmp_path / "shared.db")
    await writer.save_health("a:m", {"rev": 4, "state": "open"})
    await writer.flush()
    reader = SqliteStore(tmp_path / "shared.db", refresh_s=60.0)
    reads = 0
    run = reader._run

    async def counted(fn: Any) -> Any:
        nonlocal reads
        reads += 1
        return await run(fn)

    reader._run = counted  # type: ignore[method-assign]
    seen: list[dict[str, Any]] = []

    async def call() -> None:
        seen.append(await reader.load_health(["a:m"]))

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(call)
    assert reads == 1
    assert all(s["a:m"]["state"] == "open" for s in seen) and len(seen) == 50
    await writer.aclose()
    await reader.aclose()


async def test_a_store_opened_while_another_process_sets_the_file_up_waits_its_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What SQLite answers, without waiting, to the second of two processes
    # switching one new file to WAL at the same moment.
    real_open = SqliteStore._open
    refusals = ["database is locked", "database is locked"]

    def racing_open(self: SqliteStore, busy_timeout_s: float) -> sqlite3.Connection:
        if refusals:
            raise sqlite3.OperationalError(refusals.pop())
        return real_open(self, busy_timeout_s)

    monkeypatch.setattr(SqliteStore, "_open", racing_open)
    store = SqliteStore(tmp_path / "shared.db")
    assert not store.degraded and not refusals
    await store.save_health("a:m", {"rev": 1, "state": "open"})
    await store.flush()
    assert (await store.load_health(["a:m"]))["a:m"]["state"] == "open"
    await store.aclose()


async def test_a_file_locked_past_the_busy_timeout_degrades_to_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = SqliteStore(path, busy_timeout_s=0.05)
    finally:
        holder.close()
    assert store.degraded
    assert "database is locked" in caplog.text and str(path) in caplog.text
    await store.aclose()


async def test_an_unknown_state_setting_is_a_config_error_naming_the_setting() -> None:
    from mcp_bridge.errors import ConfigError

    with pytest.raises(ConfigError, match="state"):
        open_store("postgres://x")
