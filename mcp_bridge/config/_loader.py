"""Find, read and validate the configuration; every problem becomes one ConfigError.

The file is looked up in this order: the `path` argument (`--config`),
`$MULTIBRIDGE_CONFIG`, `./multibridge.toml`, then `multibridge.toml` in the
user configuration directory. Without a file, or when the file lists no
providers, providers are detected from the environment.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, ValidationError

from mcp_bridge.config._environment import detected_providers, preset_defaults
from mcp_bridge.config._models import BridgeConfig, ProviderConfig
from mcp_bridge.config.presets import PRESETS
from mcp_bridge.errors import ConfigError, redact, register_secret

__all__ = ["FILE_NAME", "find_config_file", "load_config"]

logger = logging.getLogger(__name__)

FILE_NAME = "multibridge.toml"
_SECRET_FIELDS = frozenset({"api_key", "tokens"})
_MAX_REPORTED = 3
_STATE_SCHEMES = ("sqlite://", "redis://", "rediss://", "unix://")
# What an MCP client such as Claude Code passes when `.mcp.json` says
# "${OPENAI_API_KEY}" and its own environment lacks that variable.
_PLACEHOLDER = re.compile(r"\$\{[^{}\s]+\}")


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> BridgeConfig:
    """Load and validate the configuration; raise ConfigError saying what to fix."""
    env = _without_placeholders(os.environ if env is None else env)
    file = find_config_file(path, env)
    data = _read_toml(file) if file else {}
    entries = _provider_entries(file, data, env)
    if not entries:
        entries = detected_providers(env)
    config = _validate(file, {**data, "providers": entries})
    _check_unique_names(file, config.providers)
    _check_state(file, config.state)
    for provider in config.providers:
        _resolve_key(file, provider, env)
    for token in config.http.tokens:
        register_secret(token.get_secret_value())
    config._source = str(file) if file else "environment"
    logger.debug("configuration from %s: %d providers", config.source, len(entries))
    return config


def _without_placeholders(env: Mapping[str, str]) -> Mapping[str, str]:
    """`env` less the variables that hold an unexpanded `${NAME}` placeholder."""
    unexpanded = [name for name, value in env.items() if _PLACEHOLDER.fullmatch(value)]
    for name in unexpanded:
        # Taken as a key it would only earn 401s that blame a correct key.
        logger.warning(
            "environment variable %s holds the unexpanded placeholder %r, so it "
            "is treated as not set; set %s in the environment that starts the "
            "MCP client (the client copies it into the server's environment)",
            name,
            env[name],
            name,
        )
    if not unexpanded:
        return env
    return {name: value for name, value in env.items() if name not in unexpanded}


def find_config_file(path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    """The configuration file to read, or None when there is none."""
    if path is not None:
        return _must_exist(Path(path), "check the --config option")
    if env.get("MULTIBRIDGE_CONFIG"):
        named = Path(env["MULTIBRIDGE_CONFIG"])
        return _must_exist(named, "fix or unset MULTIBRIDGE_CONFIG")
    for candidate in (
        Path(FILE_NAME),
        Path(platformdirs.user_config_dir("multibridge")) / FILE_NAME,
    ):
        if candidate.is_file():
            return candidate
    return None


def _must_exist(path: Path, fix: str) -> Path:
    if path.is_dir():
        raise ConfigError(
            f"configuration file {path} is a directory; {fix} to name a TOML file"
        )
    if not path.is_file():
        raise ConfigError(f"configuration file {path} does not exist; {fix}")
    return path


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read {file}: {reason}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)".
        raise ConfigError(f"{file}: invalid TOML: {exc}") from exc


def _provider_entries(
    file: Path | None, data: dict[str, Any], env: Mapping[str, str]
) -> list[Any]:
    """The file's [[providers]] entries with their presets merged underneath."""
    raw = data.get("providers", [])
    if not isinstance(raw, list):
        raise ConfigError(
            f"{file}: providers: expected an array of tables ([[providers]]), "
            f"got {type(raw).__name__}"
        )
    return [_merge_preset(file, i, entry, env) for i, entry in enumerate(raw)]


def _merge_preset(
    file: Path | None, index: int, entry: Any, env: Mapping[str, str]
) -> Any:
    if not isinstance(entry, dict) or "preset" not in entry:
        return entry  # validation reports a non-table entry with its path
    preset = entry["preset"]
    if preset not in PRESETS:
        valid = ", ".join(sorted(PRESETS))
        raise ConfigError(
            f"{file}: providers[{index}].preset: unknown preset {preset!r}; "
            f"expected one of: {valid}"
        )
    merged = {**preset_defaults(preset, env), "name": preset, **entry}
    return {key: value for key, value in merged.items() if value is not None}


def _validate(file: Path | None, data: dict[str, Any]) -> BridgeConfig:
    try:
        return BridgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(file, data, exc)) from exc


def _describe(file: Path | None, data: dict[str, Any], exc: ValidationError) -> str:
    """One line naming each problem's key path and what is expected."""
    errors = exc.errors()
    problems = [_problem(data, dict(error)) for error in errors[:_MAX_REPORTED]]
    more = len(errors) - _MAX_REPORTED
    tail = f" (and {more} more)" if more > 0 else ""
    where = str(file) if file else "configuration from the environment"
    return redact(f"{where}: " + "; ".join(problems) + tail)


def _problem(data: dict[str, Any], error: dict[str, Any]) -> str:
    loc: tuple[int | str, ...] = tuple(error["loc"])
    path = _key_path(loc) + _provider_hint(data, loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        valid = ", ".join(_field_names(loc[:-1]))
        return f"{path}: unknown key; expected one of: {valid}"
    if kind == "missing":
        return f"{path}: missing required key"
    message = str(error["msg"]).replace("Input should be", "expected")
    if _SECRET_FIELDS.intersection(str(part) for part in loc):
        return f"{path}: {message}"
    return f"{path}: {message}, got {error['input']!r}"


def _key_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".") or "(top level)"


def _provider_hint(data: dict[str, Any], loc: Sequence[int | str]) -> str:
    """' (provider "x")' when the path points into a named provider entry."""
    if len(loc) < 2 or loc[0] != "providers" or not isinstance(loc[1], int):
        return ""
    entry = data["providers"][loc[1]]
    name = entry.get("name") if isinstance(entry, dict) else None
    return f' (provider "{name}")' if isinstance(name, str) else ""


def _field_names(parent: Sequence[int | str]) -> list[str]:
    """The keys allowed in the table at `parent`."""
    model: type[BaseModel] = BridgeConfig
    for part in parent:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation
        model = ProviderConfig if part == "providers" else _as_model(annotation)
    return sorted(model.model_fields)


def _as_model(annotation: Any) -> type[BaseModel]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return BridgeConfig  # not reached: every nested table is a model


def _check_unique_names(file: Path | None, providers: list[ProviderConfig]) -> None:
    seen: dict[str, int] = {}
    for index, provider in enumerate(providers):
        if provider.name in seen:
            raise ConfigError(
                f"{file}: providers[{index}].name: duplicate provider name "
                f'"{provider.name}" (also providers[{seen[provider.name]}]); '
                "each provider needs a unique name"
            )
        seen[provider.name] = index


def _check_state(file: Path | None, state: str) -> None:
    """Reject a `state` no store understands now, not when serving starts."""
    if state in ("sqlite", "memory") or state.startswith(_STATE_SCHEMES):
        return
    where = file or "configuration"
    raise ConfigError(
        f'{where}: state: unknown store {state!r}; expected "sqlite", '
        '"sqlite:///path", "memory" or "redis://host:port/db"'
    )


def _resolve_key(
    file: Path | None, provider: ProviderConfig, env: Mapping[str, str]
) -> None:
    """Fill in the API key and record where it came from."""
    if provider.api_key is not None:
        provider._key_source = "file"
        logger.warning(
            "provider %s: api_key is written in %s; prefer api_key_env",
            provider.name,
            file,
        )
    elif provider.api_key_env:
        variable = provider.api_key_env
        value = env.get(variable)
        if not value:
            if not provider.enabled:
                return
            raise ConfigError(
                f"{file}: provider {provider.name!r} needs the environment "
                f"variable {variable}, which is not set; set {variable} or "
                f"remove the provider from {file}"
            )
        provider.api_key = value  # type: ignore[assignment]  # validated to SecretStr
        provider._key_source = f"env:{variable}"
    register_secret(provider.secret())
