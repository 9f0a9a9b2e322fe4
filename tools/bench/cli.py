"""`python -m tools.bench`: run the suite, print the table, write JSON/Markdown."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import anyio

from tools.bench import failover, footprint, overhead, throughput
from tools.bench._env import Bench
from tools.bench._machine import describe_machine
from tools.bench._report import Section, render_markdown, render_text

__all__ = ["SUITES", "main", "run_suite"]

Runner = Callable[..., Awaitable[Section | list[Section]]]
SUITES: dict[str, Runner] = {
    "overhead": overhead.run,
    "failover": failover.run,
    "throughput": throughput.run,
    "footprint": footprint.run,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description="MultiBridge benchmarks against the fake provider on "
        "127.0.0.1: overhead, failover, throughput, footprint.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer samples (about 2 minutes)"
    )
    parser.add_argument(
        "--only",
        default=",".join(SUITES),
        help=f"comma-separated subset of {','.join(SUITES)}",
    )
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--markdown", metavar="PATH", help="write the report (docs/benchmarks.md)"
    )
    return parser


def _selected(only: str) -> list[str]:
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise SystemExit(f"--only: unknown {unknown}; choose from {', '.join(SUITES)}")
    return names


async def run_suite(names: Sequence[str], *, quick: bool) -> list[Section]:
    """Run the named benchmarks in order against one fake provider process."""
    sections: list[Section] = []
    with Bench() as bench:
        for name in names:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            result = await SUITES[name](bench, quick=quick)
            sections += result if isinstance(result, list) else [result]
    return sections


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; exit 0 even when a target fails (the report says so)."""
    args = _parser().parse_args(argv)
    names = _selected(args.only)
    # Quiet the bridge's per-attempt INFO lines and expected breaker warnings.
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    started = time.perf_counter()
    sections = anyio.run(lambda: run_suite(names, quick=args.quick))
    elapsed = time.perf_counter() - started
    print(render_text(sections))
    print(f"total {elapsed:.0f} s")
    machine = describe_machine()
    command = "python -m tools.bench " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    if args.json:
        document = {
            "command": command,
            "machine": machine,
            "seconds": round(elapsed, 1),
            "sections": [s.to_json() for s in sections],
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    if args.markdown:
        text = render_markdown(sections, machine, command.strip(), elapsed)
        Path(args.markdown).write_text(text, encoding="utf-8")
    return 0
