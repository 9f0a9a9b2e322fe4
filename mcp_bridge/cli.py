"""The `multibridge-mcp` command: serve, doctor, config and status.

Only the standard library is imported at module level, so `--help` and
`--version` answer at once; each command imports what it needs. Logs go to
stderr; stdout carries only the MCP protocol (serve) or the command's table or
TOML, so the output can be piped.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from mcp_bridge import __version__

if TYPE_CHECKING:
    import httpx2

    from mcp_bridge.config import BridgeConfig, ProviderConfig
    from mcp_bridge.resilience import ProviderStatus

    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["main"]

logger = logging.getLogger(__name__)

PROG = "multibridge-mcp"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_NO_PROVIDER_FIX = (
    "no provider is configured; set a provider key such as OPENAI_API_KEY, "
    "ANTHROPIC_API_KEY or GEMINI_API_KEY, set OLLAMA_HOST for a local Ollama, "
    "or list [[providers]] in multibridge.toml (see the README)"
)
_NONE_USABLE_FIX = (
    "no provider is usable; fix the errors in the table above (key, base_url, "
    "model, network) and run `multibridge-mcp doctor` again"
)
_EXAMPLES = """\
examples:
  multibridge-mcp                          serve MCP over stdio (what Claude Code runs)
  multibridge-mcp serve --http --port 8765 serve MCP over streamable HTTP at /mcp
  multibridge-mcp doctor                   check every provider with a cheap request
  multibridge-mcp config                   print the effective configuration as TOML
  multibridge-mcp status                   show provider health (breakers, latency)
  multibridge-mcp --config ./multibridge.toml doctor --timeout 10

register in Claude Code:
  claude mcp add multibridge -e OPENAI_API_KEY=sk-... -- multibridge-mcp

configuration file lookup: --config, $MULTIBRIDGE_CONFIG, ./multibridge.toml,
then multibridge.toml in the user configuration directory; without a file,
providers are detected from OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY
(or GOOGLE_API_KEY), DEEPSEEK_API_KEY, OPENROUTER_API_KEY, MISTRAL_API_KEY,
GROQ_API_KEY, XAI_API_KEY, TOGETHER_API_KEY and OLLAMA_HOST.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    args = _parser().parse_args(argv)
    _configure_logging(getattr(args, "log_level", None))
    command: Callable[[argparse.Namespace], int] = getattr(args, "run", _serve)
    from mcp_bridge.errors import ConfigError

    try:
        return command(args)
    except ConfigError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _configure_logging(level: str | None) -> None:
    level = (level or os.environ.get("MULTIBRIDGE_LOG_LEVEL") or "WARNING").upper()
    if level not in _LEVELS:
        level = "WARNING"
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --- argument parsing -------------------------------------------------------


def _common_options() -> argparse.ArgumentParser:
    """Options accepted before and after the subcommand.

    SUPPRESS keeps a subcommand's parser from overwriting a value given before
    the subcommand with its own default.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="configuration file (default: $MULTIBRIDGE_CONFIG, ./multibridge.toml, "
        "then the user configuration directory)",
    )
    common.add_argument(
        "--log-level",
        type=str.upper,
        choices=_LEVELS,
        default=argparse.SUPPRESS,
        help="stderr log level (default: $MULTIBRIDGE_LOG_LEVEL or WARNING)",
    )
    common.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="MultiBridge: one MCP server (tools complete, plan, verify) "
        "in front of many LLM providers, with failover. Without a command it "
        "serves MCP over stdio.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_serve(commands, common)
    _add_doctor(commands, common)
    _add_config(commands, common)
    _add_status(commands, common)
    return parser


def _add_serve(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="serve MCP over stdio (default) or streamable HTTP",
        description="Serve the MCP tools. stdio by default; with --http, "
        "streamable HTTP at http://HOST:PORT/mcp.",
    )
    serve.add_argument("--http", action="store_true", help="serve streamable HTTP")
    serve.add_argument(
        "--host", help="HTTP bind address (default: [http].host, 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, help="HTTP port (default: [http].port, 8765)"
    )
    serve.add_argument(
        "--workers",
        type=_worker_count,
        help="HTTP worker processes sharing the port (default: [http].workers, 1)",
    )
    serve.set_defaults(run=_serve)


def _worker_count(text: str) -> int:
    from mcp_bridge.config import MAX_WORKERS

    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            f"expected 1 to {MAX_WORKERS} processes, got {text!r}"
        )
    return count


def _add_doctor(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    doctor = commands.add_parser(
        "doctor",
        parents=[common],
        help="check every provider with a cheap real request",
        description="List every provider with its key source (masked) and check "
        "each one with a models-list request. Exits 1 when none is usable.",
    )
    doctor.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=5.0,
        metavar="SECONDS",
        help="limit per provider check (default: 5)",
    )
    doctor.set_defaults(run=_doctor)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def _add_config(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    config = commands.add_parser(
        "config",
        parents=[common],
        help="print the effective configuration as TOML, secrets masked",
        description="Print the effective configuration (file, presets and "
        "environment merged) as TOML. API keys and tokens are masked.",
    )
    config.set_defaults(run=_config)


def _add_status(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    status = commands.add_parser(
        "status",
        parents=[common],
        help="show each provider's health: breaker, success rate, latency",
        description="Show the health the router has recorded for each provider "
        "(from the shared state store).",
    )
    status.set_defaults(run=_status)


# --- commands ---------------------------------------------------------------


def _load(args: argparse.Namespace) -> BridgeConfig:
    from mcp_bridge.config import load_config

    return load_config(getattr(args, "config", None))


def _serve(args: argparse.Namespace) -> int:
    config = _load(args)
    if not config.providers:
        logger.warning("%s; tools will report this until it is fixed", _NO_PROVIDER_FIX)
    from mcp_bridge.server import run_http, run_stdio

    if getattr(args, "http", False):
        from mcp_bridge.protocols import needs_tls, prepare_tls_context

        # A service starts once: certificates load in a thread while the
        # server starts. Over stdio, where start-up delays every agent
        # session, they load with the first upstream request instead.
        if needs_tls(p.base_url for p in config.providers):
            prepare_tls_context()
        host = args.host or config.http.host
        port = config.http.port if args.port is None else args.port
        if args.workers is not None:
            http = config.http.model_copy(update={"workers": args.workers})
            config = config.model_copy(update={"http": http})
        return run_http(config, host, port)
    else:
        run_stdio(config)
    return 0


def _config(args: argparse.Namespace) -> int:
    import tomli_w

    config = _load(args)
    data = config.model_dump(mode="json", exclude_none=True)
    for entry in data["providers"]:
        entry.pop("api_key", None)  # shown, masked, in the header instead
        if not entry["headers"]:
            del entry["headers"]
    data["http"]["tokens"] = ["***"] * len(config.http.tokens)
    sys.stdout.write(_config_header(config) + tomli_w.dumps(data))
    return 0


def _config_header(config: BridgeConfig) -> str:
    lines = [f"# Effective MultiBridge configuration (source: {config.source})."]
    if not config.providers:
        lines.append(f"# {_NO_PROVIDER_FIX}.")
    for provider in config.providers:
        lines.append(f"# key of {provider.name}: {key_display(provider)}")
    return "\n".join(lines) + "\n\n"


def key_display(provider: ProviderConfig) -> str:
    """Where the key comes from, with at most its first four characters."""
    secret = provider.secret()
    if not secret:
        return provider.key_source
    # Short keys show fewer characters, so the mask never gives most of one away.
    shown = secret[: min(4, len(secret) // 4)]
    return f"{provider.key_source} ({shown}…)"


@dataclass(frozen=True)
class _Probe:
    """The outcome of one doctor check."""

    status: str
    latency_ms: float | None = None
    detail: str | None = None
    """The whole error message, printed under the table (the cell is short)."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _doctor(args: argparse.Namespace) -> int:
    import anyio

    config = _load(args)
    if not config.providers:
        print(f"{PROG}: error: {_NO_PROVIDER_FIX}", file=sys.stderr)
        return 1
    probes = anyio.run(_probe_all, config.providers, args.timeout)
    header = ("PROVIDER", "PROTOCOL", "MODEL", "KEY", "STATUS", "LATENCY")
    rows = [
        _doctor_row(provider, probe)
        for provider, probe in zip(config.providers, probes, strict=True)
    ]
    sys.stdout.write(_table(header, rows))
    details = [
        f"{provider.name}: {probe.detail}"
        for provider, probe in zip(config.providers, probes, strict=True)
        if probe.detail
    ]
    if details:
        sys.stdout.write("\n" + "\n".join(details) + "\n")
    if not any(probe.ok for probe in probes):
        print(f"{PROG}: error: {_NONE_USABLE_FIX}", file=sys.stderr)
        return 1
    return 0


def _doctor_row(provider: ProviderConfig, probe: _Probe) -> list[str]:
    latency = "-" if probe.latency_ms is None else f"{probe.latency_ms:.0f} ms"
    return [
        provider.name,
        provider.protocol,
        provider.model,
        key_display(provider),
        probe.status,
        latency,
    ]


async def _probe_all(
    providers: Sequence[ProviderConfig], timeout_s: float
) -> list[_Probe]:
    """Check all providers concurrently, over the client the router uses."""
    import anyio

    from mcp_bridge.protocols import upstream_client

    probes: dict[int, _Probe] = {}

    async def probe_into(index: int, provider: ProviderConfig) -> None:
        probes[index] = await _probe(provider, client, timeout_s)

    async with upstream_client() as client, anyio.create_task_group() as group:
        for index, provider in enumerate(providers):
            group.start_soon(probe_into, index, provider)
    return [probes[index] for index in range(len(providers))]


async def _probe(
    provider: ProviderConfig, client: httpx2.AsyncClient, timeout_s: float
) -> _Probe:
    """One provider's check; every failure becomes a short status text."""
    import anyio

    from mcp_bridge.errors import ProviderError, redact
    from mcp_bridge.protocols import adapter_for

    if not provider.enabled:
        return _Probe("disabled")
    started = time.perf_counter()
    try:
        with anyio.fail_after(timeout_s):
            await adapter_for(provider, client).probe(timeout_s)
    except TimeoutError:
        return _Probe(f"error: timeout after {timeout_s:g} s")
    except ProviderError as exc:
        status = f" HTTP {exc.status}" if exc.status is not None else ""
        return _Probe(f"error: {exc.kind}{status}", detail=_one_line(exc.message))
    except Exception as exc:
        # doctor must report every failure as a row, whatever raised it.
        detail = _one_line(redact(f"{type(exc).__name__}: {exc}"))
        return _Probe("error: unexpected", detail=detail)
    return _Probe("ok", (time.perf_counter() - started) * 1000)


def _short(text: str, limit: int = 80) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [
        max(len(row[column]) for row in [header, *rows])
        for column in range(len(header))
    ]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _status(args: argparse.Namespace) -> int:
    import anyio

    config = _load(args)
    if not config.providers:
        print(f"{PROG}: error: {_NO_PROVIDER_FIX}", file=sys.stderr)
        return 1
    statuses = anyio.run(_read_status, config)
    header = ("PROVIDER", "MODEL", "STATE", "SUCCESS", "P50", "P95", "COOLDOWN")
    rows = [_status_row(status) for status in statuses]
    sys.stdout.write(_table((*header, "LAST ERROR"), rows))
    return 0


async def _read_status(config: BridgeConfig) -> list[ProviderStatus]:
    from mcp_bridge.resilience import open_router

    async with open_router(config) as router:
        return await router.status()


def _status_row(status: ProviderStatus) -> list[str]:
    rate = status.success_rate
    until = status.cooldown_until
    return [
        status.name,
        status.model,
        status.state,
        "-" if rate is None else f"{rate:.0%}",
        _milliseconds(status.latency_p50_ms),
        _milliseconds(status.latency_p95_ms),
        "-" if until is None else time.strftime("%H:%M:%S", time.localtime(until)),
        _short(status.last_error or "-", 60),
    ]


def _milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"
