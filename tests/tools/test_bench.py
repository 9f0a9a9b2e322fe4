"""The benchmark suite's smallest units still run (no timing is asserted)."""

from __future__ import annotations

import math
import os

from tools.bench._env import Bench, toml_text
from tools.bench._report import Section, Target, render_markdown, render_text
from tools.bench._stats import percentile, summary
from tools.bench.cli import _parser, _selected
from tools.bench.overhead import one_sample
from tools.bench.throughput import Load, Sample, Server, level_row


async def test_one_in_memory_overhead_sample_is_a_positive_latency() -> None:
    with Bench() as bench:
        latency = await one_sample(bench, "memory")
    assert latency > 0


def test_percentiles_interpolate_between_samples() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert math.isnan(percentile([], 99))
    assert summary([5.0])["p99_ms"] == 5.0


def test_config_tables_become_toml_the_loader_reads() -> None:
    with Bench() as bench:
        data = bench.config_data([bench.provider("primary")], breaker={"window": 7})
        config = bench.load(data)
    assert "[[providers]]" in toml_text(data)
    assert config.state == "memory" and config.breaker.window == 7
    assert config.providers[0].first_token_timeout_s == 1.0


def test_report_renders_rows_and_target_verdicts() -> None:
    section = Section("x", "Example", "How.", rows=[{"a": 1.5, "b": None}])
    section.targets.append(Target("speed", "2 ms", "<= 1 ms", False))
    text = render_text([section])
    markdown = render_markdown([section], {"CPU": "test"}, "python -m tools.bench", 1.0)
    assert "FAIL" in text and "| speed | 2 ms | <= 1 ms | FAIL |" in markdown
    assert "| CPU | test |" in markdown


def test_only_accepts_known_suites_in_the_given_order() -> None:
    assert _selected("footprint,overhead") == ["footprint", "overhead"]
    args = _parser().parse_args(["--quick", "--json", "out.json"])
    assert args.quick and args.json == "out.json"


def test_a_level_row_pools_its_rounds_over_their_total_time() -> None:
    server = Server("bridge", 0, os.getpid(), "complete", {})
    quick = Load(500, seconds=1.0, ok=90, errors=10, latencies=[200.0] * 100)
    quick.client_cpu, quick.first_error = 10.0, "HTTP 503"
    slow = Load(500, seconds=3.0, ok=300, latencies=[300.0] * 300, client_cpu=30.0)

    row = level_row(server, [Sample(quick, 1.0, 0.2), Sample(slow, 2.0, 0.6)])

    assert row["calls/s"] == 97.5  # 390 calls in 4 s, not the mean of 90 and 100
    assert row["error rate"] == 0.025
    assert row["p50_ms"] == 300.0
    assert (row["server CPU %"], row["fake CPU %"], row["client CPU %"]) == (75, 20, 25)
    assert row["first error"] == "HTTP 503"
    assert row["server peak RSS MB"] > 0
