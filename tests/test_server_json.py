"""server.json is a valid registry manifest that matches the package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from mcp_bridge import __version__
from mcp_bridge.config import ENV_DETECTION

ROOT = Path(__file__).resolve().parents[1]
# The registry's published schema lives beside the repository, not inside it.
SCHEMA = ROOT.parent / "shared" / "schemas" / "server.schema.2025-12-11.json"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = _load(ROOT / "server.json")
    return manifest


def _variables() -> dict[str, dict[str, Any]]:
    package = _manifest()["packages"][0]
    return {item["name"]: item for item in package["environmentVariables"]}


def test_server_json_validates_against_the_registry_schema() -> None:
    assert SCHEMA.is_file(), f"registry schema missing at {SCHEMA}"
    schema = _load(SCHEMA)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)

    errors = list(validator_class(schema).iter_errors(_manifest()))

    assert errors == [], [error.message for error in errors]


def test_server_json_versions_equal_the_package_version() -> None:
    manifest = _manifest()

    assert manifest["version"] == __version__
    assert [package["version"] for package in manifest["packages"]] == [__version__]


def test_server_json_names_the_pypi_package_over_stdio() -> None:
    manifest = _manifest()
    (package,) = manifest["packages"]

    assert manifest["name"] == "io.github.multibridge/multibridge-mcp"
    assert len(manifest["description"]) <= 100
    assert package["registryType"] == "pypi"
    assert package["identifier"] == "multibridge-mcp"
    assert package["transport"] == {"type": "stdio"}


def test_every_provider_key_variable_is_an_optional_secret() -> None:
    variables = _variables()
    keys = {name for names in ENV_DETECTION.values() for name in names}
    keys.discard("OLLAMA_HOST")

    for name in keys:
        assert variables[name]["isSecret"] is True, name
        assert variables[name]["isRequired"] is False, name


def test_ollama_host_and_config_path_are_not_secret() -> None:
    variables = _variables()

    assert variables["OLLAMA_HOST"]["isSecret"] is False
    assert variables["MULTIBRIDGE_CONFIG"]["isSecret"] is False


def test_readme_carries_the_registry_ownership_comment() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert f"<!-- mcp-name: {_manifest()['name']} -->" in readme
