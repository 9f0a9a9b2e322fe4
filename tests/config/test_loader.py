"""Loading the configuration from files and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_bridge.config import PRESETS, load_config
from mcp_bridge.errors import ConfigError, redact

DEEPSEEK_KEY = "sk-deepseek-0123456789abcdef"
OPENAI_KEY = "sk-openai-0123456789abcdef"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ./multibridge.toml and no user configuration file leak into a test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def error_for(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env or {})
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    return message


# --- environment detection --------------------------------------------------


def test_an_empty_environment_gives_no_providers_and_no_error() -> None:
    config = load_config(env={})

    assert config.providers == []
    assert config.source == "environment"


def test_provider_keys_in_the_environment_enable_their_presets_in_order() -> None:
    env = {"DEEPSEEK_API_KEY": DEEPSEEK_KEY, "OPENAI_API_KEY": OPENAI_KEY}

    config = load_config(env=env)

    assert [p.name for p in config.providers] == ["openai", "deepseek"]
    assert config.providers[0].priority < config.providers[1].priority
    deepseek = config.providers[1]
    assert deepseek.secret() == DEEPSEEK_KEY
    assert deepseek.key_source == "env:DEEPSEEK_API_KEY"
    assert deepseek.base_url == PRESETS["deepseek"]["base_url"]


def test_google_api_key_stands_in_for_gemini_api_key() -> None:
    config = load_config(env={"GOOGLE_API_KEY": "AIza-google-0123456789"})

    (gemini,) = config.providers
    assert gemini.name == "gemini"
    assert gemini.key_source == "env:GOOGLE_API_KEY"


def test_gemini_api_key_wins_over_google_api_key() -> None:
    env = {"GOOGLE_API_KEY": "AIza-google-1", "GEMINI_API_KEY": "AIza-gemini-1"}

    (gemini,) = load_config(env=env).providers

    assert gemini.secret() == "AIza-gemini-1"


@pytest.mark.parametrize(
    ("host", "base_url"),
    [
        ("localhost:11434", "http://localhost:11434/v1"),
        ("0.0.0.0", "http://0.0.0.0:11434/v1"),
        ("http://gpu-box:9000/", "http://gpu-box:9000/v1"),
        ("https://ollama.example.com/v1", "https://ollama.example.com/v1"),
    ],
)
def test_ollama_host_enables_ollama_without_a_key(host: str, base_url: str) -> None:
    (ollama,) = load_config(env={"OLLAMA_HOST": host}).providers

    assert ollama.base_url == base_url
    assert ollama.secret() is None
    assert ollama.key_source == "none"


def test_a_model_variable_overrides_the_preset_default_model() -> None:
    env = {"OPENAI_API_KEY": OPENAI_KEY, "MULTIBRIDGE_OPENAI_MODEL": "gpt-5-mini"}

    (openai,) = load_config(env=env).providers

    assert openai.model == "gpt-5-mini"


def test_loaded_keys_are_redacted_from_any_text() -> None:
    load_config(env={"DEEPSEEK_API_KEY": "plain-key-without-a-known-shape"})

    assert "plain-key" not in redact("auth with plain-key-without-a-known-shape")


# --- files ------------------------------------------------------------------


def test_a_preset_is_merged_under_the_entry_own_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.toml",
        '[[providers]]\npreset = "deepseek"\nmodel = "deepseek-reasoner"\n'
        "priority = 1\n",
    )

    (deepseek,) = load_config(path, env={"DEEPSEEK_API_KEY": DEEPSEEK_KEY}).providers

    assert deepseek.name == "deepseek"
    assert deepseek.model == "deepseek-reasoner"
    assert deepseek.priority == 1
    assert deepseek.base_url == PRESETS["deepseek"]["base_url"]
    assert deepseek.api_key_env == "DEEPSEEK_API_KEY"


def test_the_model_variable_changes_a_preset_but_not_an_explicit_model(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "m.toml",
        '[[providers]]\npreset = "openai"\n\n'
        '[[providers]]\nname = "pinned"\npreset = "openai"\nmodel = "gpt-4.1"\n',
    )
    env = {"OPENAI_API_KEY": OPENAI_KEY, "MULTIBRIDGE_OPENAI_MODEL": "gpt-5"}

    models = [p.model for p in load_config(path, env=env).providers]

    assert models == ["gpt-5", "gpt-4.1"]


def test_when_the_file_lists_providers_only_those_are_used(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.toml",
        '[[providers]]\nname = "local"\nprotocol = "openai"\n'
        'base_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n',
    )

    config = load_config(path, env={"OPENAI_API_KEY": OPENAI_KEY})

    assert [p.name for p in config.providers] == ["local"]
    assert config.providers[0].key_source == "none"
    assert config.source == str(path)


def test_a_file_without_providers_still_detects_them_from_the_environment(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "m.toml", "[timeouts]\ntotal_s = 30\n")

    config = load_config(path, env={"OPENAI_API_KEY": OPENAI_KEY})

    assert [p.name for p in config.providers] == ["openai"]
    assert config.timeouts.total_s == 30


def test_a_key_written_in_the_file_is_marked_as_coming_from_the_file(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "m.toml",
        '[[providers]]\npreset = "openai"\napi_key = "sk-in-file-0123456789"\n',
    )

    (openai,) = load_config(path, env={}).providers

    assert openai.key_source == "file"
    assert openai.secret() == "sk-in-file-0123456789"


def test_a_disabled_provider_may_lack_its_key(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.toml", '[[providers]]\npreset = "deepseek"\nenabled = false\n'
    )

    (deepseek,) = load_config(path, env={}).providers

    assert deepseek.enabled is False
    assert deepseek.secret() is None


# --- lookup order -----------------------------------------------------------

ENTRY = (
    '[[providers]]\nname = "{}"\nprotocol = "openai"\n'
    'base_url = "http://x/v1"\nmodel = "m"\n'
)


def test_the_explicit_path_wins_over_every_other_location(tmp_path: Path) -> None:
    explicit = write(tmp_path / "explicit.toml", ENTRY.format("explicit"))
    named = write(tmp_path / "named.toml", ENTRY.format("named"))
    write(tmp_path / "multibridge.toml", ENTRY.format("cwd"))

    config = load_config(explicit, env={"MULTIBRIDGE_CONFIG": str(named)})

    assert [p.name for p in config.providers] == ["explicit"]


def test_multibridge_config_wins_over_the_working_directory(tmp_path: Path) -> None:
    named = write(tmp_path / "named.toml", ENTRY.format("named"))
    write(tmp_path / "multibridge.toml", ENTRY.format("cwd"))

    config = load_config(env={"MULTIBRIDGE_CONFIG": str(named)})

    assert [p.name for p in config.providers] == ["named"]


def test_the_working_directory_wins_over_the_user_directory(tmp_path: Path) -> None:
    write(tmp_path / "xdg" / "multibridge" / "multibridge.toml", ENTRY.format("user"))
    write(tmp_path / "multibridge.toml", ENTRY.format("cwd"))

    assert [p.name for p in load_config(env={}).providers] == ["cwd"]


def test_the_user_configuration_directory_is_the_last_resort(tmp_path: Path) -> None:
    write(tmp_path / "xdg" / "multibridge" / "multibridge.toml", ENTRY.format("user"))

    assert [p.name for p in load_config(env={}).providers] == ["user"]


def test_a_missing_explicit_file_is_an_error_naming_it(tmp_path: Path) -> None:
    message = error_for(tmp_path / "absent.toml")

    assert "does not exist" in message


def test_a_directory_given_as_the_file_is_called_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "multibridge.toml"
    folder.mkdir()

    message = error_for(folder)

    assert "is a directory" in message and "--config" in message


def test_a_missing_file_named_by_the_variable_names_the_variable(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="MULTIBRIDGE_CONFIG"):
        load_config(env={"MULTIBRIDGE_CONFIG": str(tmp_path / "absent.toml")})


# --- bad files --------------------------------------------------------------


def test_an_unknown_key_names_its_path_and_the_valid_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "m.toml", '[[providers]]\npreset = "openai"\ncolour = 1\n')

    message = error_for(path, {"OPENAI_API_KEY": OPENAI_KEY})

    assert "providers[0].colour" in message
    assert "unknown key" in message
    assert "priority" in message  # one of the keys that are allowed


def test_an_unknown_table_names_the_valid_tables(tmp_path: Path) -> None:
    path = write(tmp_path / "m.toml", "[timeout]\ntotal_s = 3\n")

    message = error_for(path)

    assert "timeout: unknown key" in message
    assert "timeouts" in message


def test_a_wrong_type_names_the_key_and_what_is_expected(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.toml",
        '[[providers]]\npreset = "openai"\n\n[[providers]]\npreset = "deepseek"\n'
        'priority = "high"\n',
    )

    message = error_for(path, {"OPENAI_API_KEY": "k1", "DEEPSEEK_API_KEY": "k2"})

    assert "providers[1].priority" in message
    assert "integer" in message
    assert "'high'" in message


def test_a_missing_key_variable_says_to_set_it_or_remove_the_provider(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "m.toml", '[[providers]]\npreset = "deepseek"\n')

    message = error_for(path)

    assert f"set DEEPSEEK_API_KEY or remove the provider from {path}" in message
    assert "deepseek" in message


def test_a_duplicate_name_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.toml",
        '[[providers]]\npreset = "openai"\n\n[[providers]]\npreset = "openai"\n',
    )

    message = error_for(path, {"OPENAI_API_KEY": OPENAI_KEY})

    assert "providers[1].name" in message
    assert 'duplicate provider name "openai"' in message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "m.toml", '[[providers]]\nname = "a"\nmodel = \n')

    message = error_for(path)

    assert "invalid TOML" in message
    assert "line 3" in message


def test_an_unknown_preset_lists_the_valid_presets(tmp_path: Path) -> None:
    path = write(tmp_path / "m.toml", '[[providers]]\npreset = "deepsek"\n')

    message = error_for(path)

    assert "providers[0].preset" in message
    assert "'deepsek'" in message
    assert "deepseek" in message.split("expected one of:")[1]


def test_a_missing_required_key_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.toml", '[[providers]]\nname = "x"\nprotocol = "openai"\n'
    )

    message = error_for(path)

    assert 'providers[0].base_url (provider "x"): missing required key' in message


def test_a_file_key_with_a_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.toml", '[[providers]]\npreset = "openai"\napi_key = ["sk-x"]\n'
    )

    message = error_for(path)

    assert "providers[0].api_key" in message
    assert "sk-x" not in message


def test_an_unknown_state_store_is_a_configuration_error(tmp_path: Path) -> None:
    path = write(tmp_path / "multibridge.toml", 'state = "postgres://db"\n')
    message = error_for(path)
    assert "state: unknown store 'postgres://db'" in message
    assert '"sqlite:///path"' in message


# --- placeholders an MCP client left unexpanded --------------------------------


def test_an_unexpanded_placeholder_does_not_enable_a_preset(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = {"OPENAI_API_KEY": "${OPENAI_API_KEY}", "DEEPSEEK_API_KEY": DEEPSEEK_KEY}

    config = load_config(env=env)

    assert [p.name for p in config.providers] == ["deepseek"]
    assert "OPENAI_API_KEY holds the unexpanded placeholder" in caplog.text


def test_a_file_provider_whose_key_is_a_placeholder_says_to_set_the_variable(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "m.toml", '[[providers]]\npreset = "deepseek"\n')

    message = error_for(path, {"DEEPSEEK_API_KEY": "${DEEPSEEK_API_KEY}"})

    assert "needs the environment variable DEEPSEEK_API_KEY" in message
