"""Run the fake provider as a process: `python -m tools.fake_provider --port 0`.

Prints `listening on http://127.0.0.1:PORT` once bound, then serves until
SIGINT or SIGTERM. Script it over HTTP with the /_control/ API.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys

import anyio

from tools.fake_provider._runner import serve_fake
from tools.fake_provider._state import FakeState


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m tools.fake_provider")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--models", default="fake-ok", help="comma-separated")
    args = parser.parse_args(argv)
    state = FakeState(args.latency_ms, args.models.split(","))
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(_serve, state, args.host, args.port)


async def _serve(state: FakeState, host: str, port: int) -> None:
    async with anyio.create_task_group() as tg:
        bound = await tg.start(serve_fake, state, host, port)
        print(f"listening on http://{host}:{bound}", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                print("fake provider stopping", file=sys.stderr, flush=True)
                tg.cancel_scope.cancel()
                return


if __name__ == "__main__":
    main()
