"""Memory one in-flight upstream request holds: `python -m tools.bench.inflight`.

Run by the footprint section in a fresh process (a process that has already
freed memory grows less, and the number would depend on what ran before):
reads a JSON request (url, headers, body, requests) on stdin, sends it that
many times at once through the bridge's upstream client while the fake
provider holds every answer, and prints the growth of its own RSS per
request in KB.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from typing import Any

import anyio

from mcp_bridge.protocols._pool import upstream_client
from tools.bench._env import rss_mb

__all__ = ["main"]

HOLD_S = 1.0
"""How long after sending the requests RSS is read; the fake must hold them longer."""


async def _grow(spec: dict[str, Any]) -> float:
    url, headers, body = spec["url"], spec["headers"], spec["body"]
    async with upstream_client(tls=False) as client:

        async def one() -> None:
            async with client.stream("POST", url, json=body, headers=headers) as r:
                async for _ in r.aiter_raw():
                    pass

        async with anyio.create_task_group() as group:
            for _ in range(5):  # warm: lazy imports, the pools, first connections
                group.start_soon(one)
        gc.collect()
        before = rss_mb(os.getpid())
        async with anyio.create_task_group() as group:
            for _ in range(spec["requests"]):
                group.start_soon(one)
            await anyio.sleep(HOLD_S)
            during = rss_mb(os.getpid())
    return (during - before) * 1024.0 / spec["requests"]


def main() -> int:
    """Print KB per in-flight request for the request read from stdin."""
    print(f"{anyio.run(_grow, json.load(sys.stdin)):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
