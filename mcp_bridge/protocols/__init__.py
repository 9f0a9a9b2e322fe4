"""Wire protocols: OpenAI Chat Completions, Anthropic Messages, Google Gemini."""

from __future__ import annotations

import httpx2

from mcp_bridge.config import ProviderConfig
from mcp_bridge.protocols._base import AttemptTimeouts, ChunkCallback, ProtocolAdapter
from mcp_bridge.protocols._pool import upstream_client
from mcp_bridge.protocols._tls import needs_tls, prepare_tls_context, tls_context

__all__ = [
    "AttemptTimeouts",
    "ChunkCallback",
    "ProtocolAdapter",
    "adapter_for",
    "needs_tls",
    "prepare_tls_context",
    "tls_context",
    "upstream_client",
]


def adapter_for(
    provider: ProviderConfig, client: httpx2.AsyncClient
) -> ProtocolAdapter:
    """Return the adapter that speaks `provider.protocol`."""
    if provider.protocol == "anthropic":
        from mcp_bridge.protocols.anthropic import AnthropicAdapter

        return AnthropicAdapter(provider, client)
    if provider.protocol == "gemini":
        from mcp_bridge.protocols.gemini import GeminiAdapter

        return GeminiAdapter(provider, client)
    from mcp_bridge.protocols.openai import OpenAIAdapter

    return OpenAIAdapter(provider, client)
