"""State in one SQLite file (WAL), shared by every bridge process on a machine.

Health writes are write-behind: they land in memory at once and a background
flusher commits them in one transaction every `flush_s` seconds, so a call
never waits for the disk and a kill -9 loses at most that interval. Reads
are cached for `refresh_s` seconds. Any SQLite error (a corrupt file, a lock
held past the busy timeout) switches the store to process memory with one
WARNING; the bridge keeps working.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.abc

from mcp_bridge.store._base import HealthDict, StateStore
from mcp_bridge.store.memory import MemoryStore

__all__ = ["SqliteStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS health ("
    " key TEXT PRIMARY KEY, rev INTEGER NOT NULL, record TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS probes (key TEXT PRIMARY KEY, until REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS plans ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    " body TEXT NOT NULL)",
)
_UPSERT_HEALTH = (
    "INSERT INTO health (key, rev, record) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET rev = excluded.rev, record = excluded.record "
    "WHERE excluded.rev >= health.rev"
)
# One statement, so SQLite's write lock makes the lease atomic across processes.
_TAKE_LEASE = (
    "INSERT INTO probes (key, until) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE probes.until <= ?"
)
_UPSERT_PLAN = (
    "INSERT INTO plans (id, body) VALUES (?, ?) "
    "ON CONFLICT (id) DO UPDATE SET body = excluded.body"
)


class SqliteStore(StateStore):
    """A `StateStore` in a SQLite database file."""

    name = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        refresh_s: float = 0.2,
        flush_s: float = 0.2,
        busy_timeout_s: float = 2.0,
    ) -> None:
        self.path = Path(path).expanduser()
        self._clock = clock
        self._refresh_s = refresh_s
        self._flush_s = flush_s
        # Everything this process wrote; also the fallback after an error.
        self._memory = MemoryStore(clock)
        self._pending: dict[str, HealthDict] = {}
        self._cache: dict[str, HealthDict] = {}
        self._cache_at = float("-inf")
        self._reading: anyio.Event | None = None
        """Set while a health read runs; it fires when the read ends."""
        self._limiter = anyio.CapacityLimiter(1)
        self._lock = threading.Lock()
        self._flusher: anyio.abc.TaskGroup | None = None
        self._conn = self._connect(busy_timeout_s)

    def _connect(self, busy_timeout_s: float) -> sqlite3.Connection | None:
        # Processes that start together (agent sessions, --workers) race to
        # switch a new file to WAL and create its tables; SQLite answers
        # "database is locked" at once there instead of waiting, so the setup
        # is retried until the busy timeout.
        give_up = time.monotonic() + busy_timeout_s
        pause = 0.005
        while True:
            try:
                return self._open(busy_timeout_s)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() + pause > give_up:
                    self._degrade(exc)
                    return None
            except (sqlite3.Error, OSError) as exc:
                self._degrade(exc)
                return None
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _open(self, busy_timeout_s: float) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path,
            timeout=busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        return conn

    def _degrade(self, exc: BaseException) -> None:
        if not self.degraded:
            logger.warning(
                "state database %s is unusable (%s); keeping provider health and "
                "plans in memory for this process; move or delete the file to "
                'start afresh, or set state = "memory" in multibridge.toml',
                self.path,
                exc,
            )
        self.degraded = True
        self._pending.clear()

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T | None:
        """Run `fn` on the connection in a worker thread; None once degraded."""
        if self._conn is None:
            return None
        conn = self._conn

        def locked() -> T:
            with self._lock:
                return fn(conn)

        try:
            return await anyio.to_thread.run_sync(locked, limiter=self._limiter)
        except sqlite3.Error as exc:
            self._drop_connection(exc)
            return None

    def _drop_connection(self, exc: BaseException) -> None:
        self._degrade(exc)
        conn, self._conn = self._conn, None
        if conn is not None:
            with self._lock:
                conn.close()

    async def load_health(self, keys: Sequence[str]) -> dict[str, HealthDict]:
        """The newer of the database's and this process's record for each key."""
        reading = self._reading
        if reading is None and time.monotonic() - self._cache_at >= self._refresh_s:
            # One read at a time; calls meanwhile use the previous rows. Each
            # read is a hop to a thread that waits for the GIL on a busy
            # server: a read per call queued hundreds and stalled calls for
            # seconds at 500 concurrent callers.
            self._reading = done = anyio.Event()
            try:
                rows = await self._run(_read_health)
                if rows is not None:
                    self._cache, self._cache_at = rows, time.monotonic()
            finally:
                self._reading = None
                done.set()
        elif reading is not None and self._cache_at == float("-inf"):
            # No rows yet: what other processes know must reach first calls.
            await reading.wait()
        mine = self._memory.read_health(keys)
        merged: dict[str, HealthDict] = {}
        for key in keys:
            candidates = [r for r in (self._cache.get(key), mine.get(key)) if r]
            if candidates and not self.degraded:
                merged[key] = max(candidates, key=lambda r: int(r.get("rev", 0)))
            elif key in mine:
                merged[key] = mine[key]
        return merged

    async def save_health(self, key: str, record: HealthDict) -> None:
        """Remember the record now; write it with the next flush."""
        self._memory.write_health(key, record)
        if self._conn is None:
            return
        self._pending[key] = record
        if self._flusher is None:
            await self.flush()

    async def flush(self) -> None:
        """Commit every pending health record in one transaction."""
        if not self._pending:
            return
        batch = [
            (key, int(rec.get("rev", 0)), json.dumps(rec))
            for key, rec in self._pending.items()
        ]
        self._pending.clear()

        def write(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("BEGIN")
                conn.executemany(_UPSERT_HEALTH, batch)

        await self._run(write)

    async def try_acquire_probe(self, key: str, ttl_s: float) -> bool:
        """Take the lease in the database, or in memory once degraded."""
        now = self._clock()

        def take(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(_TAKE_LEASE, (key, now + ttl_s, now))
            return cursor.rowcount == 1

        taken = await self._run(take)
        if taken is None:
            return self._memory.acquire(key, ttl_s)
        return taken

    async def save_plan(self, plan_id: str, plan: dict[str, Any]) -> None:
        """Write through: a saved plan survives the process."""
        self._memory.write_plan(plan_id, plan)
        body = json.dumps(plan)
        await self._run(lambda conn: conn.execute(_UPSERT_PLAN, (plan_id, body)))

    async def get_plan(self, plan_id: str) -> dict[str, Any] | None:
        """Read a plan from the database (or memory once degraded)."""

        def read(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT body FROM plans WHERE id = ?", (plan_id,)
            ).fetchone()
            return str(row[0]) if row else None

        body = await self._run(read)
        if self._conn is None:
            return await self._memory.get_plan(plan_id)
        return _load_json(body) if body is not None else None

    async def list_plans(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""

        def read(conn: sqlite3.Connection) -> list[str]:
            query = "SELECT body FROM plans ORDER BY seq DESC LIMIT ?"
            return [str(row[0]) for row in conn.execute(query, (max(limit, 0),))]

        bodies = await self._run(read)
        if bodies is None:
            return await self._memory.list_plans(limit)
        return [plan for plan in map(_load_json, bodies) if plan is not None]

    async def __aenter__(self) -> SqliteStore:
        """Start the background flusher."""
        self._flusher = anyio.create_task_group()
        await self._flusher.__aenter__()
        self._flusher.start_soon(self._flush_forever)
        return self

    async def _flush_forever(self) -> None:
        while True:
            await anyio.sleep(self._flush_s)
            await self.flush()

    async def aclose(self) -> None:
        """Stop the flusher, write what is pending and close the file."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel_scope.cancel()
            await flusher.__aexit__(None, None, None)
        with anyio.CancelScope(shield=True):
            await self.flush()
        conn, self._conn = self._conn, None
        if conn is not None:
            with self._lock:
                conn.close()


def _read_health(conn: sqlite3.Connection) -> dict[str, HealthDict]:
    rows = conn.execute("SELECT key, record FROM health").fetchall()
    records = {str(key): _load_json(str(body)) for key, body in rows}
    return {key: rec for key, rec in records.items() if rec is not None}


def _load_json(body: str) -> dict[str, Any] | None:
    # A row that does not parse is skipped, not fatal: it is only a cache of health.
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text
