"""The Redis state store against a real redis-server on a free loopback port."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import anyio
import pytest
from redis.asyncio import Redis

from mcp_bridge.store import open_store
from mcp_bridge.store.redis import RedisStore, open_redis_store
from tests.redis_fixtures import RedisServer, free_port, redis_server

__all__ = ["redis_server"]


@pytest.fixture
async def two_stores(
    redis_server: RedisServer,
) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two stores on one Redis, as two replicas would open them."""
    async with (
        open_redis_store(redis_server.url) as a,
        open_redis_store(redis_server.url) as b,
    ):
        assert isinstance(a, RedisStore) and isinstance(b, RedisStore)
        yield a, b


async def test_open_store_selects_redis_for_a_redis_url(
    redis_server: RedisServer,
) -> None:
    async with open_store(redis_server.url) as store:
        assert isinstance(store, RedisStore)
        assert store.name == "redis"


async def test_a_health_record_written_by_one_replica_is_read_by_another(
    two_stores: tuple[RedisStore, RedisStore],
) -> None:
    a, b = two_stores
    await a.save_health("p:m", {"rev": 3, "state": "open"})
    assert await b.load_health(["p:m", "q:m"]) == {"p:m": {"rev": 3, "state": "open"}}


async def test_an_older_revision_never_replaces_a_newer_one(
    two_stores: tuple[RedisStore, RedisStore],
) -> None:
    a, b = two_stores
    await a.save_health("p:m", {"rev": 5, "state": "open"})
    await b.save_health("p:m", {"rev": 4, "state": "closed"})
    assert (await a.load_health(["p:m"]))["p:m"]["state"] == "open"
    await b.save_health("p:m", {"rev": 6, "state": "closed"})
    assert (await a.load_health(["p:m"]))["p:m"]["state"] == "closed"


async def test_a_probe_lease_is_granted_once_across_replicas(
    two_stores: tuple[RedisStore, RedisStore],
) -> None:
    a, b = two_stores
    results: list[bool] = []

    async def take(store: RedisStore) -> None:
        results.append(await store.try_acquire_probe("p:m@1", 30.0))

    async with anyio.create_task_group() as tg:
        for store in (a, b, a, b):
            tg.start_soon(take, store)
    assert sorted(results) == [False, False, False, True]
    assert await a.try_acquire_probe("p:m@2", 30.0) is True


async def test_a_probe_lease_expires_after_its_ttl(
    two_stores: tuple[RedisStore, RedisStore], redis_server: RedisServer
) -> None:
    a, _ = two_stores
    assert await a.try_acquire_probe("p:m@1", 7.5) is True
    async with Redis.from_url(redis_server.url) as client:
        ttl_ms = await client.pttl("multibridge:health:probe:p:m@1")
    assert 0 < ttl_ms <= 7500


async def test_plans_are_shared_newest_first_and_keep_their_place_when_revised(
    two_stores: tuple[RedisStore, RedisStore],
) -> None:
    a, b = two_stores
    await a.save_plan("one", {"plan_id": "one", "revision": 1})
    await b.save_plan("two", {"plan_id": "two", "revision": 1})
    await a.save_plan("one", {"plan_id": "one", "revision": 2})
    assert [p["plan_id"] for p in await b.list_plans()] == ["two", "one"]
    assert await b.get_plan("one") == {"plan_id": "one", "revision": 2}
    assert await b.get_plan("missing") is None
    assert [p["plan_id"] for p in await a.list_plans(limit=1)] == ["two"]


async def test_an_unreachable_redis_falls_back_to_memory_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mcp_bridge.store.redis")
    spec = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"
    async with open_redis_store(spec) as store:
        await store.save_health("p:m", {"rev": 1, "state": "open"})
        await store.save_plan("one", {"plan_id": "one"})
        assert await store.try_acquire_probe("p:m@1", 30.0) is True
        assert await store.try_acquire_probe("p:m@1", 30.0) is False
        assert (await store.load_health(["p:m"]))["p:m"]["state"] == "open"
        assert await store.get_plan("one") == {"plan_id": "one"}
        assert store.degraded
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0].getMessage()
    assert "hunter2secret" not in caplog.text


async def test_sharing_resumes_when_redis_returns(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mcp_bridge.store.redis")
    async with open_redis_store(redis_server.url, retry_s=0.0) as store:
        await store.save_health("p:m", {"rev": 1, "state": "closed"})
        redis_server.stop()
        await store.save_health("p:m", {"rev": 2, "state": "open"})
        await store.save_plan("during", {"plan_id": "during"})
        assert store.degraded
        redis_server.start()
        assert (await store.load_health(["p:m"]))["p:m"]["rev"] == 2
        assert not store.degraded
        async with open_redis_store(redis_server.url) as other:
            assert (await other.load_health(["p:m"]))["p:m"]["state"] == "open"
            assert await other.get_plan("during") == {"plan_id": "during"}
    assert "reachable again" in caplog.text
