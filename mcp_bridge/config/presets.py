"""Provider presets as data; any field can be overridden in TOML."""

from __future__ import annotations

from typing import Any

__all__ = ["PRESETS", "ENV_DETECTION"]

PRESETS: dict[str, dict[str, Any]] = {
    "openai": {
        "protocol": "openai",
        "base_url": "https://api.openai.com/v1",
        "api_key_env": "OPENAI_API_KEY",
        "model": "gpt-4.1-mini",
        "context_window": 1_047_576,
        "structured_output": "json_schema",
        "strict_schema": True,
        "max_tokens_field": "max_completion_tokens",
        "price_input_per_mtok": 0.40,
        "price_output_per_mtok": 1.60,
    },
    "anthropic": {
        "protocol": "anthropic",
        "base_url": "https://api.anthropic.com",
        "api_key_env": "ANTHROPIC_API_KEY",
        "model": "claude-sonnet-4-5",
        "context_window": 200_000,
        "structured_output": "tool",
        "price_input_per_mtok": 3.00,
        "price_output_per_mtok": 15.00,
    },
    "gemini": {
        "protocol": "gemini",
        "base_url": "https://generativelanguage.googleapis.com/v1beta",
        "api_key_env": "GEMINI_API_KEY",
        "model": "gemini-2.5-flash",
        "context_window": 1_048_576,
        "structured_output": "native",
        "price_input_per_mtok": 0.30,
        "price_output_per_mtok": 2.50,
    },
    "deepseek": {
        "protocol": "openai",
        "base_url": "https://api.deepseek.com/v1",
        "api_key_env": "DEEPSEEK_API_KEY",
        "model": "deepseek-chat",
        "context_window": 128_000,
        "structured_output": "json_object",
        "price_input_per_mtok": 0.28,
        "price_output_per_mtok": 0.42,
    },
    "openrouter": {
        "protocol": "openai",
        "base_url": "https://openrouter.ai/api/v1",
        "api_key_env": "OPENROUTER_API_KEY",
        "model": "openai/gpt-4.1-mini",
        "context_window": 1_047_576,
        "structured_output": "json_schema",
        "price_input_per_mtok": 0.40,
        "price_output_per_mtok": 1.60,
    },
    "mistral": {
        "protocol": "openai",
        "base_url": "https://api.mistral.ai/v1",
        "api_key_env": "MISTRAL_API_KEY",
        "model": "mistral-small-latest",
        "context_window": 128_000,
        "structured_output": "json_schema",
        "stream_usage": False,
        "price_input_per_mtok": 0.10,
        "price_output_per_mtok": 0.30,
    },
    "groq": {
        "protocol": "openai",
        "base_url": "https://api.groq.com/openai/v1",
        "api_key_env": "GROQ_API_KEY",
        "model": "llama-3.3-70b-versatile",
        "context_window": 131_072,
        "structured_output": "json_object",
        "stream_structured": False,
        "price_input_per_mtok": 0.59,
        "price_output_per_mtok": 0.79,
    },
    "xai": {
        "protocol": "openai",
        "base_url": "https://api.x.ai/v1",
        "api_key_env": "XAI_API_KEY",
        "model": "grok-3-mini",
        "context_window": 131_072,
        "structured_output": "json_schema",
        "price_input_per_mtok": 0.30,
        "price_output_per_mtok": 0.50,
    },
    "together": {
        "protocol": "openai",
        "base_url": "https://api.together.xyz/v1",
        "api_key_env": "TOGETHER_API_KEY",
        "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "context_window": 131_072,
        "structured_output": "json_object",
        "price_input_per_mtok": 0.88,
        "price_output_per_mtok": 0.88,
    },
    "ollama": {
        "protocol": "openai",
        "base_url": "http://127.0.0.1:11434/v1",
        "api_key_env": None,
        "model": "llama3.2",
        "context_window": 8_192,
        "structured_output": "json_schema",
        # A local server may load the model on the first request, and a CPU
        # reads a long prompt slowly: its first token can take a minute.
        "first_token_timeout_s": 60.0,
    },
    "openai-compatible": {
        "protocol": "openai",
        "api_key_env": None,
        "context_window": 32_768,
        "structured_output": "json_schema",
        "first_token_timeout_s": 60.0,
    },
}

# Zero-config detection: preset name -> environment variables that enable it,
# in order of preference. Ollama is enabled by OLLAMA_HOST (its base URL).
ENV_DETECTION: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "together": ("TOGETHER_API_KEY",),
    "ollama": ("OLLAMA_HOST",),
}
