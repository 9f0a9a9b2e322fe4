"""State in Redis, shared by every replica of the bridge.

Health records live in one hash (JSON per provider+model) beside a hash of
their revisions; a Lua script makes the revision check and the write one
atomic step. A probe lease is `SET key 1 NX PX ttl`, so exactly one replica
tests a provider whose cooldown is over. Plans live in a hash, ordered by a
sorted set of creation numbers.

Every write also lands in process memory. When Redis cannot be reached the
store keeps serving from that memory with one WARNING, tries Redis again
every `retry_s` seconds, and on its return pushes what it learned meanwhile
and resumes sharing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from mcp_bridge.store._base import HealthDict, StateStore
from mcp_bridge.store.memory import MemoryStore

__all__ = ["RedisStore", "open_redis_store"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# KEYS: records hash, revisions hash. ARGV: field, rev, JSON record.
_SAVE_HEALTH = """
local stored = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
if tonumber(ARGV[2]) < stored then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
"""

# KEYS: plans hash, order zset, sequence. ARGV: plan id, JSON body.
_SAVE_PLAN = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
return 1
"""

_FAILURES = (RedisError, OSError)


def open_redis_store(
    spec: str,
    *,
    clock: Callable[[], float] = time.time,
    prefix: str = "multibridge",
    retry_s: float = 2.0,
) -> RedisStore:
    """A `RedisStore` for a URL such as "redis://127.0.0.1:6379/0"."""
    client = Redis.from_url(
        spec,
        socket_connect_timeout=0.5,
        socket_timeout=1.0,
        # Fail fast: the memory fallback is better than a call waiting on retries.
        retry=Retry(NoBackoff(), 0),
    )
    return RedisStore(
        client, where=_describe(spec), clock=clock, prefix=prefix, retry_s=retry_s
    )


def _describe(spec: str) -> str:
    """The URL without user or password, for log lines."""
    parts = urlsplit(spec)
    return f"{parts.scheme}://{parts.hostname or ''}:{parts.port or 6379}{parts.path}"


class RedisStore(StateStore):
    """A `StateStore` in Redis, with process memory as a fallback."""

    name = "redis"

    def __init__(
        self,
        client: Redis,
        *,
        where: str = "redis",
        clock: Callable[[], float] = time.time,
        prefix: str = "multibridge",
        retry_s: float = 2.0,
    ) -> None:
        self.where = where
        self._client = client
        self._memory = MemoryStore(clock)
        self._retry_s = retry_s
        self._retry_at = 0.0
        self._health_keys: set[str] = set()
        self._offline_plans: dict[str, dict[str, Any]] = {}
        self._keys = {
            name: f"{prefix}:{name}"
            for name in ("health", "health_rev", "plans", "plan_order", "plan_seq")
        }
        self._save_health = client.register_script(_SAVE_HEALTH)
        self._save_plan = client.register_script(_SAVE_PLAN)

    async def load_health(self, keys: Sequence[str]) -> dict[str, HealthDict]:
        """The newer of Redis's and this process's record for each key."""
        mine = self._memory.read_health(keys)
        if not keys:
            return mine
        raw = await self._run(lambda r: r.hmget(self._keys["health"], list(keys)))
        merged = dict(mine)
        for key, body in zip(keys, raw or [], strict=False):
            shared = _load_json(body)
            local = mine.get(key)
            if shared is not None and (local is None or _rev(shared) > _rev(local)):
                merged[key] = shared
        return merged

    async def save_health(self, key: str, record: HealthDict) -> None:
        """Write through to Redis unless a newer revision is stored there."""
        self._memory.write_health(key, record)
        self._health_keys.add(key)
        await self._run(lambda r: self._push_health(key, record))

    def _push_health(self, key: str, record: HealthDict) -> Awaitable[Any]:
        keys = [self._keys["health"], self._keys["health_rev"]]
        args: list[str | int] = [key, _rev(record), json.dumps(record)]
        return self._save_health(keys=keys, args=args)

    async def try_acquire_probe(self, key: str, ttl_s: float) -> bool:
        """One winner across all replicas: SET NX with an expiry."""
        ttl_ms = max(int(ttl_s * 1000), 1)
        name = f"{self._keys['health']}:probe:{key}"
        taken = await self._run(lambda r: r.set(name, b"1", nx=True, px=ttl_ms))
        if self.degraded:
            return self._memory.acquire(key, ttl_s)
        return bool(taken)

    async def save_plan(self, plan_id: str, plan: dict[str, Any]) -> None:
        """Write through; the first save fixes the plan's place in the order."""
        self._memory.write_plan(plan_id, plan)
        await self._run(lambda r: self._push_plan(plan_id, plan))
        if self.degraded:
            self._offline_plans[plan_id] = plan

    def _push_plan(self, plan_id: str, plan: dict[str, Any]) -> Awaitable[Any]:
        keys = [self._keys[k] for k in ("plans", "plan_order", "plan_seq")]
        return self._save_plan(keys=keys, args=[plan_id, json.dumps(plan)])

    async def get_plan(self, plan_id: str) -> dict[str, Any] | None:
        """Read from Redis, or from memory while Redis is away."""
        body = await self._run(lambda r: r.hget(self._keys["plans"], plan_id))
        if self.degraded:
            return await self._memory.get_plan(plan_id)
        return _load_json(body)

    async def list_plans(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        if limit <= 0:
            return []
        ids = await self._run(
            lambda r: r.zrevrange(self._keys["plan_order"], 0, limit - 1)
        )
        if self.degraded or ids is None:
            return await self._memory.list_plans(limit)
        if not ids:
            return []
        names = [bytes(i) if isinstance(i, bytes) else str(i) for i in ids]
        bodies = await self._run(lambda r: r.hmget(self._keys["plans"], names))
        if self.degraded or bodies is None:
            return await self._memory.list_plans(limit)
        return [plan for plan in map(_load_json, bodies) if plan is not None]

    async def aclose(self) -> None:
        """Close the connection pool (writes are already through)."""
        try:
            await self._client.aclose()
        except _FAILURES:
            logger.debug("closing the Redis connection failed", exc_info=True)

    async def _run(self, op: Callable[[Redis], Awaitable[T]]) -> T | None:
        """Run `op` on Redis; None while Redis is unreachable."""
        if self.degraded and time.monotonic() < self._retry_at:
            return None
        try:
            result = await op(self._client)
        except _FAILURES as exc:
            self._lost(exc)
            return None
        if self.degraded:
            await self._recovered()
        return result

    def _lost(self, exc: BaseException) -> None:
        self._retry_at = time.monotonic() + self._retry_s
        if not self.degraded:
            logger.warning(
                "state store %s is unreachable (%s); keeping provider health and "
                "plans in this process's memory and retrying every %.0f s; start "
                "Redis or fix `state` in multibridge.toml",
                self.where,
                type(exc).__name__,
                self._retry_s,
            )
        self.degraded = True

    async def _recovered(self) -> None:
        """Push what this process learned while Redis was away, then share again."""
        self.degraded = False
        logger.warning("state store %s is reachable again; sharing state", self.where)
        try:
            mine = self._memory.read_health(sorted(self._health_keys))
            for key, record in mine.items():
                await self._push_health(key, record)
            while self._offline_plans:
                plan_id = next(iter(self._offline_plans))
                await self._push_plan(plan_id, self._offline_plans.pop(plan_id))
        except _FAILURES as exc:
            self._lost(exc)


def _rev(record: HealthDict) -> int:
    try:
        return int(record.get("rev", 0))
    except (TypeError, ValueError):
        return 0


def _load_json(body: bytes | str | None) -> dict[str, Any] | None:
    # A value that does not parse is skipped: another version may have written it.
    if body is None:
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
