"""MultiBridge benchmark suite: `python -m tools.bench --help`.

Overhead against the MCP SDK floor, failover per fault class, HTTP
throughput and footprint, all against the fake provider on 127.0.0.1.
Kept import-light: `python -m tools.bench.floor` is timed for start-up.
"""
