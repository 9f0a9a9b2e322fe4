"""Profile the hot path: `python -m tools.bench.profile [--calls N] [--html PATH]`.

Runs `complete` calls through an in-memory bridge on the fake provider under
pyinstrument (install it into the venv first: `pip install pyinstrument`)
and prints the call tree.
"""

from __future__ import annotations

import argparse
import logging
import sys

import anyio

from tools.bench._clients import open_session, timed, tool_call
from tools.bench._env import Bench
from tools.bench.overhead import PROMPT, bridge_data

__all__ = ["main"]


async def _calls(bench: Bench, calls: int, profiler: object) -> None:
    async with open_session(bench, bridge_data(bench), "memory") as client:
        call = tool_call(client, "complete", PROMPT)
        await timed(call, 20, 0)
        profiler.start()  # type: ignore[attr-defined]
        await timed(call, calls, 0)
        profiler.stop()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    """Profile `--calls` in-memory calls and print (or save) the report."""
    from pyinstrument import Profiler

    parser = argparse.ArgumentParser(prog="python -m tools.bench.profile")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--html", metavar="PATH")
    parser.add_argument("--all", action="store_true", help="show library frames")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    profiler = Profiler(async_mode="disabled", interval=0.0005)
    with Bench() as bench:
        anyio.run(_calls, bench, args.calls, profiler)
    if args.html:
        profiler.write_html(args.html)
    print(profiler.output_text(unicode=True, show_all=args.all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
