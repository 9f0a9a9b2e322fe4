"""The README's examples work as written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mcp_bridge.config import load_config

README = Path(__file__).resolve().parents[1] / "README.md"


def _mcp_json_env() -> dict[str, str]:
    """The `env` of the README's project-scoped .mcp.json example."""
    blocks = re.findall(r"```json\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    example: dict[str, Any] = next(json.loads(b) for b in blocks if '"mcpServers"' in b)
    env: dict[str, str] = example["mcpServers"]["multibridge"]["env"]
    return env


def test_the_mcp_json_example_loads_in_a_fresh_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claude Code expands ${VAR}; a new user has no configuration file yet."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    outer = {"HOME": str(tmp_path), "OPENAI_API_KEY": "sk-readme-0123456789"}
    outer["DEEPSEEK_API_KEY"] = "sk-readme-9876543210"
    expand = re.compile(r"\$\{(\w+)\}")
    env = {k: expand.sub(lambda m: outer[m[1]], v) for k, v in _mcp_json_env().items()}

    config = load_config(env=env)

    assert {p.name for p in config.providers} == {"openai", "deepseek"}
