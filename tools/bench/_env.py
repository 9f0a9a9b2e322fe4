"""What every benchmark shares: the fake provider, bridge configs, processes.

The fake provider runs as its own process so that its work does not share a
GIL with the client being timed. Bridge configurations are written as TOML
and loaded with the bridge's own loader, in-process or by a child process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp_bridge.config import BridgeConfig, load_config
from tools.fake_provider import FakeProcess

__all__ = [
    "BENCH_KEY_ENV",
    "REPO",
    "Bench",
    "child_env",
    "free_port",
    "rss_mb",
    "spawn_http",
    "toml_text",
    "wait_for_port",
]

REPO = Path(__file__).resolve().parents[2]
BENCH_KEY_ENV = "MULTIBRIDGE_BENCH_KEY"
BENCH_KEY = "bench-key-0123456789abcdef"
PROTOCOLS = {"primary": "openai", "secondary": "anthropic", "tertiary": "gemini"}
STRUCTURED = {"openai": "json_schema", "anthropic": "tool", "gemini": "native"}
FAST_TIMEOUTS = {
    "connect_timeout_s": 0.5,
    "first_token_timeout_s": 1.0,
    "stall_timeout_s": 1.0,
}
"""Per-provider attempt limits, small so that fault runs stay short."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 30.0) -> float:
    """Block until 127.0.0.1:port accepts; returns the seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return time.perf_counter() - start
        except OSError:
            time.sleep(0.01)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout_s} s")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of `pid` in MB from /proc (VmHWM for the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without provider keys, plus the bench key."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_HOST")) and not k.startswith("MULTIBRIDGE")
    }
    env[BENCH_KEY_ENV] = BENCH_KEY
    env.update(extra or {})
    return env


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def toml_text(data: Mapping[str, Any]) -> str:
    """TOML for the bridge config shape: scalars, tables, [[providers]]."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if _scalar(v)]
    for key, value in data.items():
        if isinstance(value, dict):
            lines += ["", f"[{key}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines += ["", f"[[{key}]]"]
                lines += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> bool:
    if isinstance(value, dict):
        return False
    return not (isinstance(value, list) and value and isinstance(value[0], dict))


class Bench:
    """The fake provider process and a scratch directory for one suite run."""

    def __init__(self) -> None:
        self.fake = FakeProcess()
        self._tmp = tempfile.TemporaryDirectory(prefix="mb-bench-")
        self.dir = Path(self._tmp.name)
        self._count = 0

    def __enter__(self) -> Bench:
        self.fake.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.fake.stop()
        self._tmp.cleanup()

    @property
    def fake_pid(self) -> int:
        """The fake provider's process id (0 when unknown)."""
        proc = getattr(self.fake, "_proc", None)
        return int(proc.pid) if proc is not None else 0

    def provider(self, name: str, fast: bool = True, **fields: Any) -> dict[str, Any]:
        """A provider table on the fake: model `{name}-model`, small timeouts."""
        protocol = PROTOCOLS[name]
        entry: dict[str, Any] = {
            "name": name,
            "protocol": protocol,
            "base_url": self.fake.base_url(protocol),
            "model": f"{name}-model",
            "api_key_env": BENCH_KEY_ENV,
            "priority": list(PROTOCOLS).index(name) + 1,
            "max_output_tokens": 128,
            "structured_output": STRUCTURED[protocol],
            **(FAST_TIMEOUTS if fast else {}),
        }
        entry.update(fields)
        return entry

    def config_data(
        self, providers: list[dict[str, Any]], **tables: Any
    ) -> dict[str, Any]:
        """A whole configuration: memory state, hedging off, HTTP rate limit off."""
        data: dict[str, Any] = {
            "state": "memory",
            "hedging": {"enabled": False},
            "http": {"rate_limit_per_minute": 0},
        }
        for key, value in tables.items():
            data[key] = (
                {**data.get(key, {}), **value} if isinstance(value, dict) else value
            )
        data["providers"] = providers
        return data

    def write_config(self, data: Mapping[str, Any]) -> Path:
        """Write `data` as TOML into the scratch directory; returns the path."""
        self._count += 1
        path = self.dir / f"bench-{self._count}.toml"
        path.write_text(toml_text(data), encoding="utf-8")
        return path

    def load(self, data: Mapping[str, Any]) -> BridgeConfig:
        """The BridgeConfig the bridge itself would load from `data`."""
        return load_config(self.write_config(data), env=child_env())


@contextmanager
def spawn_http(argv: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Run an HTTP server process until the block ends; waits for its port."""
    proc = subprocess.Popen(
        [sys.executable, *argv],
        cwd=REPO,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
