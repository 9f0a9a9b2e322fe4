"""Provider settings taken from the environment: zero-config detection and presets.

A preset's default model can be changed without a file through
`MULTIBRIDGE_<PRESET>_MODEL` (for example `MULTIBRIDGE_OPENAI_MODEL=gpt-4.1`,
`MULTIBRIDGE_OPENAI_COMPATIBLE_MODEL` for the "openai-compatible" preset).
Ollama is detected from `OLLAMA_HOST`, which also sets its base URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mcp_bridge.config.presets import ENV_DETECTION, PRESETS

__all__ = [
    "detected_providers",
    "model_override_variable",
    "ollama_base_url",
    "preset_defaults",
]

_OLLAMA_PORT = 11434


def model_override_variable(preset: str) -> str:
    """The environment variable that overrides `preset`'s default model."""
    return "MULTIBRIDGE_" + preset.upper().replace("-", "_") + "_MODEL"


def ollama_base_url(host: str) -> str:
    """Turn an OLLAMA_HOST value ("localhost:11434", "http://h/") into a /v1 URL."""
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = "http://" + host
    parts = urlsplit(host)
    netloc = parts.netloc
    if parts.port is None and parts.scheme == "http":
        # Ollama itself assumes its usual port when OLLAMA_HOST names only a host.
        netloc = f"{netloc}:{_OLLAMA_PORT}"
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return f"{parts.scheme}://{netloc}{path}"


def _first_set(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if env.get(name)), None)


def preset_defaults(preset: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The preset's fields, adjusted by the environment.

    The key variable becomes the first alternative that is set (GOOGLE_API_KEY
    stands in for GEMINI_API_KEY), OLLAMA_HOST sets Ollama's base URL, and
    `MULTIBRIDGE_<PRESET>_MODEL` replaces the default model.
    """
    fields = dict(PRESETS[preset])
    if preset == "ollama":
        if env.get("OLLAMA_HOST"):
            fields["base_url"] = ollama_base_url(env["OLLAMA_HOST"])
    elif preset in ENV_DETECTION and fields.get("api_key_env"):
        fields["api_key_env"] = (
            _first_set(env, ENV_DETECTION[preset]) or fields["api_key_env"]
        )
    model = env.get(model_override_variable(preset))
    if model:
        fields["model"] = model
    return fields


def detected_providers(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """Provider entries (not yet validated) for every preset enabled by `env`.

    Priorities follow the order of ENV_DETECTION, so the result is stable.
    """
    entries: list[dict[str, Any]] = []
    for rank, (preset, variables) in enumerate(ENV_DETECTION.items(), start=1):
        if _first_set(env, variables) is None:
            continue
        entry = {"name": preset, "preset": preset, "priority": rank * 10}
        entries.append({**preset_defaults(preset, env), **entry})
    return entries
