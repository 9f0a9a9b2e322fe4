"""`[http] workers`: several processes behind one port, serving as one service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from mcp_bridge.config import BridgeConfig
from mcp_bridge.errors import ConfigError
from mcp_bridge.server._workers import Supervisor, run_workers
from tests.server.test_http_service import (
    MCP_HEADERS,
    REPO,
    TOKEN,
    Bridge,
    bridge_toml,
    metric,
    provider_toml,
)
from tools.fake_provider import FakeProvider

CALL = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "tools/call",
    "params": {"name": "complete", "arguments": {"prompt": "hi"}},
}
AUTH = {**MCP_HEADERS, "authorization": f"Bearer {TOKEN}"}


def children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(x) for x in text.split()}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def service(fake: FakeProvider, tmp_path: Path) -> Iterator[Bridge]:
    """Two workers over one SQLite file, a token and a small rate limit."""
    providers = provider_toml(fake, "steady", "steady-model")
    http = f'tokens = ["{TOKEN}"]\nworkers = 2\nrate_limit_per_minute = 30'
    toml = bridge_toml(f"sqlite://{tmp_path / 'state.db'}", providers, http)
    server = Bridge(tmp_path, toml, "workers").start()
    yield server
    server.stop()


async def call_once(url: str) -> int:
    """One tools/call on a fresh connection (so the kernel may pick any worker)."""
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(url + "/mcp", json=CALL, headers=AUTH)
    if response.status_code == 200:
        result = json.loads(response.text.rsplit("data: ", 1)[1])["result"]
        assert result["isError"] is False, result
    return response.status_code


pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="workers are counted from /proc"
)


async def test_two_workers_answer_on_one_port_and_every_scrape_counts_all_calls(
    service: Bridge,
) -> None:
    """Metrics add up across workers, whichever worker a scrape reaches."""
    assert service.process is not None
    assert len(children(service.process.pid)) == 2
    for _ in range(12):
        assert await call_once(service.url) == 200
    series = 'multibridge_tool_calls_total{outcome="ok",tool="complete"}'
    seen = {await metric(service.url, series) for _ in range(6)}
    assert seen == {12.0}


async def test_the_rate_limit_is_one_bucket_across_workers(service: Bridge) -> None:
    """A token gets its limit once, not once per worker."""
    statuses = [await call_once(service.url) for _ in range(40)]
    allowed = statuses.count(200)
    # 30 per minute, plus what refills while the calls run (one every 2 s).
    assert 30 <= allowed <= 32, statuses
    assert statuses[-1] == 429


async def test_a_worker_that_dies_is_replaced_and_the_service_keeps_answering(
    service: Bridge,
) -> None:
    assert service.process is not None
    first = children(service.process.pid)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    line = await service.wait_for_line(
        rf"worker {victim} exited \(signal SIGKILL\); started worker \d+"
    )
    replacement = int(line.rsplit("worker ", 1)[1].split()[0])
    assert children(service.process.pid) == (first - {victim}) | {replacement}
    assert await call_once(service.url) == 200


async def test_sigterm_stops_every_worker_and_exits_cleanly(service: Bridge) -> None:
    assert service.process is not None
    workers = children(service.process.pid)
    service.process.send_signal(signal.SIGTERM)
    # wait's own timeout: a thread blocked in wait() ignores cancellation.
    code = await anyio.to_thread.run_sync(lambda: service.process.wait(timeout=30))
    assert code == 0, service.output()
    assert all(_gone(pid) for pid in workers)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_workers_with_memory_state_are_refused_naming_both_settings(
    tmp_path: Path,
) -> None:
    config = tmp_path / "memory.toml"
    config.write_text('state = "memory"\n')
    argv = [sys.executable, "-m", "mcp_bridge", "serve", "--http", "--port", "0"]
    argv += ["--workers", "2", "--config", str(config)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "workers = 2" in done.stderr and 'state = "sqlite"' in done.stderr
    assert "Traceback" not in done.stderr


def test_workers_with_stateful_sessions_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "stateful.toml"
    config.write_text("[http]\nstateless = false\nworkers = 2\n")
    argv = [sys.executable, "-m", "mcp_bridge", "serve", "--http", "--port", "0"]
    argv += ["--config", str(config)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "workers = 2" in done.stderr and "stateless = true" in done.stderr
    assert "Traceback" not in done.stderr


def test_workers_on_a_platform_without_fork_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(os, "fork")
    config = BridgeConfig.model_validate({"http": {"workers": 3}})
    with pytest.raises(ConfigError, match=r"workers = 3 needs fork\(\)"):
        run_workers(config, "127.0.0.1", 0, prepare=lambda: None)


def test_a_worker_count_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "mcp_bridge", "serve", "--http", "--workers", "0"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--workers" in done.stderr and "1 to 64" in done.stderr


def _fail_at_start(slot: int) -> None:
    raise RuntimeError("cannot open the state store")


def test_a_supervisor_stops_when_workers_keep_failing_at_start() -> None:
    """Workers that die at once are not restarted forever; the exit code says so."""
    exits: list[int] = []
    supervisor = Supervisor(_fail_at_start, 2, on_exit=exits.append)
    assert supervisor.run() == 1
    assert len(exits) >= 3 and len(set(exits)) == len(exits)


_SIGNALLED_AT_ONCE = """
import os, signal, sys, time
from mcp_bridge.server._workers import Supervisor

def serve(slot):
    time.sleep(60)

# SIGTERM as soon as the workers are forked: before they have reset the
# parent's handlers, unless the fork kept it blocked until they had.
stop = lambda: os.kill(os.getpid(), signal.SIGTERM)
for _ in range(int(sys.argv[1])):
    assert Supervisor(serve, 4, on_started=stop).run() == 0
"""


def test_a_signal_that_races_the_fork_still_stops_every_worker() -> None:
    argv = [sys.executable, "-c", _SIGNALLED_AT_ONCE, "10"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
