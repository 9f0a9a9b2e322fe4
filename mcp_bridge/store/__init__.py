"""Health and plan persistence: SQLite (default), memory, and Redis for replicas."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp_bridge.errors import ConfigError
from mcp_bridge.store._base import HealthDict, StateStore
from mcp_bridge.store.memory import MemoryStore

if TYPE_CHECKING:
    from mcp_bridge.store.sqlite import SqliteStore

__all__ = [
    "HealthDict",
    "MemoryStore",
    "SqliteStore",
    "StateStore",
    "default_sqlite_path",
    "open_store",
]


def __getattr__(name: str) -> Any:
    # SQLite is loaded when first used: a memory or Redis state spares the
    # sqlite3 module (about 1 MB of a serving process) and its import time.
    if name == "SqliteStore":
        from mcp_bridge.store.sqlite import SqliteStore

        return SqliteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_sqlite_path() -> Path:
    """Where the SQLite state lives unless `state` names another file."""
    import platformdirs

    return Path(platformdirs.user_state_dir("multibridge")) / "state.db"


def open_store(spec: str, *, clock: Callable[[], float] = time.time) -> StateStore:
    """Open the store that the `state` setting names.

    "memory", "sqlite" (the default file), "sqlite:///path/to/state.db", or
    "redis://host:port/db". `clock` returns wall time in seconds (for leases).
    """
    if spec == "memory":
        return MemoryStore(clock)
    if spec == "sqlite" or spec.startswith("sqlite://"):
        return _open_sqlite(spec, clock)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return _open_redis(spec, clock)
    raise ConfigError(
        f'state: unknown store {spec!r}; use "sqlite", "sqlite:///path", '
        '"memory" or "redis://host:port/db" in multibridge.toml'
    )


def _open_sqlite(spec: str, clock: Callable[[], float]) -> StateStore:
    from mcp_bridge.store.sqlite import SqliteStore

    if spec == "sqlite":
        return SqliteStore(default_sqlite_path(), clock=clock)
    path = spec.removeprefix("sqlite://")
    if not path:
        raise ConfigError('state: "sqlite://" needs a path, e.g. sqlite:///x.db')
    return SqliteStore(path, clock=clock)


def _open_redis(spec: str, clock: Callable[[], float]) -> StateStore:
    # Imported lazily: Redis is an optional extra.
    try:
        module = importlib.import_module("mcp_bridge.store.redis")
    except ImportError as exc:
        raise ConfigError(
            f"state: {spec!r} needs the Redis store; install multibridge-mcp[redis]"
        ) from exc
    store = module.open_redis_store(spec, clock=clock)
    if not isinstance(store, StateStore):
        raise ConfigError("state: the Redis store did not provide a StateStore")
    return store
