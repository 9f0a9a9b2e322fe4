"""The validated configuration: one pydantic model per TOML table."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

__all__ = [
    "BreakerSettings",
    "BridgeConfig",
    "HedgingSettings",
    "HttpSettings",
    "MAX_WORKERS",
    "LimitSettings",
    "ProtocolName",
    "ProviderConfig",
    "RoutingSettings",
    "StructuredOutput",
    "TimeoutSettings",
]

MAX_WORKERS = 64
"""The most processes `[http] workers` (or `--workers`) may ask for."""

ProtocolName = Literal["openai", "anthropic", "gemini"]
StructuredOutput = Literal["json_schema", "json_object", "tool", "native", "prompt"]
"""How a provider is asked for JSON.

json_schema: OpenAI-style response_format with a schema (strict when
`strict_schema`); json_object: JSON mode, schema in the prompt; tool: a forced
tool call (Anthropic); native: Gemini responseSchema; prompt: schema in the
prompt only.
"""


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ProviderConfig(_Table):
    """One backend: a protocol, an endpoint, a model and a key."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    preset: str | None = None
    protocol: ProtocolName
    base_url: str = Field(min_length=1)
    model: str = Field(min_length=1)
    api_key_env: str | None = None
    api_key: SecretStr | None = None
    """Resolved at load time from api_key_env; set in TOML only if you must."""
    priority: int = 100
    """Lower is tried first."""
    weight: float = Field(default=1.0, gt=0)
    enabled: bool = True
    context_window: int = Field(default=128_000, gt=0)
    max_output_tokens: int = Field(default=4096, gt=0)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    """OpenAI protocol: the body key for the output limit. OpenAI's reasoning
    models accept only max_completion_tokens; most compatible servers only
    max_tokens."""
    structured_output: StructuredOutput = "prompt"
    strict_schema: bool = False
    price_input_per_mtok: float = Field(default=0.0, ge=0)
    price_output_per_mtok: float = Field(default=0.0, ge=0)
    connect_timeout_s: float | None = Field(default=None, gt=0)
    first_token_timeout_s: float | None = Field(default=None, gt=0)
    stall_timeout_s: float | None = Field(default=None, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers (for example OpenRouter's HTTP-Referer)."""
    stream: bool = True
    stream_usage: bool = True
    """OpenAI protocol: ask for usage in the stream (stream_options); servers
    that reject the field (Mistral) get it turned off."""
    stream_structured: bool = True
    """OpenAI protocol: stream requests that carry response_format; servers
    that refuse the pair (Groq) get such requests sent whole."""

    _key_source: str = PrivateAttr(default="none")

    @property
    def key_source(self) -> str:
        """Where the key came from: "env:NAME", "file", or "none"."""
        return self._key_source

    def secret(self) -> str | None:
        """The API key in clear text, for the protocol layer only."""
        return self.api_key.get_secret_value() if self.api_key else None


class TimeoutSettings(_Table):
    """Deadlines; per-provider values override the attempt timeouts."""

    total_s: float = Field(default=55.0, gt=0)
    """One deadline per tool call, failover included."""
    connect_s: float = Field(default=3.0, gt=0)
    first_token_s: float = Field(default=20.0, gt=0)
    stall_s: float = Field(default=15.0, gt=0)


class RoutingSettings(_Table):
    strategy: Literal["priority", "latency", "cost"] = "priority"
    content_filter_failover: bool = False
    """Try the next provider when one refuses on policy grounds."""
    same_provider_retry: bool = True
    """One quick retry on the same provider after a one-off 500 or reset."""


class BreakerSettings(_Table):
    consecutive_failures: int = Field(default=3, ge=1)
    failure_ratio: float = Field(default=0.5, gt=0, le=1)
    window: int = Field(default=20, ge=1)
    min_calls: int = Field(default=10, ge=1)
    base_cooldown_s: float = Field(default=5.0, gt=0)
    max_cooldown_s: float = Field(default=300.0, gt=0)
    quota_cooldown_s: float = Field(default=3600.0, gt=0)
    active_probes: bool = True
    """Probe open providers with a models-list call when serving HTTP."""
    probe_interval_s: float = Field(default=10.0, gt=0)
    """How often the HTTP service looks for open providers to probe."""


class HedgingSettings(_Table):
    enabled: bool = True
    delay_s: float | None = Field(default=None, gt=0)
    """Fixed hedge delay; by default the primary's observed p95 time to first token."""
    min_delay_s: float = Field(default=1.0, gt=0)
    max_share: float = Field(default=0.1, ge=0, le=1)
    """At most this share of calls may start a hedge."""


class LimitSettings(_Table):
    max_file_bytes: int = Field(default=256_000, gt=0)
    max_files_bytes: int = Field(default=1_000_000, gt=0)
    file_roots: list[str] | None = None
    """Directories under which `files` may be read. Unset: anywhere for stdio
    (the caller runs on this machine) and nowhere for the HTTP service, whose
    callers must not read the server's own files (its keys among them)."""
    max_result_chars: int = Field(default=80_000, gt=0)
    """Results are cut here (about 20,000 tokens, under Claude Code's 25,000 cap)."""


class HttpSettings(_Table):
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    tokens: list[SecretStr] = Field(default_factory=list)
    token_env: str | None = "MULTIBRIDGE_TOKENS"
    """Comma-separated bearer tokens read from this environment variable."""
    allowed_hosts: list[str] = Field(default_factory=list)
    allowed_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=4_000_000, gt=0)
    rate_limit_per_minute: int = Field(default=600, ge=0)
    stateless: bool = True
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    workers: int = Field(default=1, ge=1, le=MAX_WORKERS)
    """Processes serving HTTP on one port; one process uses at most one core."""


class BridgeConfig(_Table):
    """The whole configuration, validated once at start."""

    providers: list[ProviderConfig] = Field(default_factory=list)
    state: str = "sqlite"
    """"sqlite" (default path), "sqlite:///path", "memory" or "redis://host:port/db"."""
    timeouts: TimeoutSettings = Field(default_factory=TimeoutSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    hedging: HedgingSettings = Field(default_factory=HedgingSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)

    _source: str = PrivateAttr(default="environment")

    @property
    def source(self) -> str:
        """The file the configuration came from, or "environment"."""
        return self._source

    def provider(self, name: str) -> ProviderConfig | None:
        return next((p for p in self.providers if p.name == name), None)
