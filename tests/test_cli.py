"""The multibridge-mcp command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mcp_bridge import __version__

KEY = "sk-fake-0123456789abcdefXYZ"


def run_cli(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a clean environment and no configuration file around."""
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "PYTHONIOENCODING": "utf-8",
    }
    return subprocess.run(
        [sys.executable, "-m", "mcp_bridge", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**base, **(env or {})},
        timeout=60,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_clean_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("multibridge-mcp: error: ")
    return lines[0]


# --- help and version -------------------------------------------------------


def test_help_lists_every_command_with_examples(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--help")

    assert result.returncode == 0
    for command in ("serve", "doctor", "config", "status"):
        assert command in result.stdout
    assert "claude mcp add multibridge" in result.stdout
    assert "--config PATH" in result.stdout


def test_doctor_help_documents_the_timeout(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "doctor", "--help")

    assert result.returncode == 0
    assert "--timeout" in result.stdout
    assert "--log-level" in result.stdout


@pytest.mark.parametrize(
    "args", [("--version",), ("doctor", "--version"), ("serve", "--version")]
)
def test_version_is_accepted_before_and_after_the_command(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    result = run_cli(tmp_path, *args)

    assert result.returncode == 0
    assert result.stdout.strip() == f"multibridge-mcp {__version__}"


def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "frobnicate")

    assert result.returncode == 2
    assert "invalid choice" in result.stderr


# --- configuration errors ---------------------------------------------------

BAD_FILES = {
    "unknown key": ('[[providers]]\npreset = "openai"\ncolour = 1\n', "colour"),
    "wrong type": (
        '[[providers]]\npreset = "openai"\npriority = "high"\n',
        "providers[0].priority",
    ),
    "missing key variable": (
        '[[providers]]\npreset = "deepseek"\n',
        "set DEEPSEEK_API_KEY or remove the provider from",
    ),
    "duplicate name": (
        '[[providers]]\npreset = "openai"\n[[providers]]\npreset = "openai"\n',
        "duplicate provider name",
    ),
    "invalid toml": ('[[providers]\nname = "a"\n', "line 1"),
    "unknown preset": ('[[providers]]\npreset = "opnai"\n', "expected one of"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_stops_with_one_clean_message(tmp_path: Path, case: str) -> None:
    text, expected = BAD_FILES[case]
    path = write(tmp_path / "bad.toml", text)

    result = run_cli(
        tmp_path, "config", "--config", str(path), env={"OPENAI_API_KEY": KEY}
    )

    line = assert_one_clean_error(result)
    assert str(path) in line
    assert expected in line


def test_serve_stops_on_a_bad_file_before_serving(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", '[[providers]]\npreset = "deepseek"\n')

    result = run_cli(tmp_path, "serve", "--config", str(path))

    assert "DEEPSEEK_API_KEY" in assert_one_clean_error(result)


def test_config_before_the_command_is_honoured(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", "[timeouts]\ntotal_s = 'soon'\n")

    result = run_cli(tmp_path, "--config", str(path), "doctor")

    assert "timeouts.total_s" in assert_one_clean_error(result)


def test_the_config_variable_finds_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "named.toml", "[routing]\nstrategy = 'fastest'\n")

    result = run_cli(tmp_path, "config", env={"MULTIBRIDGE_CONFIG": str(path)})

    assert "routing.strategy" in assert_one_clean_error(result)


# --- config -----------------------------------------------------------------


def test_config_prints_valid_toml_with_the_key_masked(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path, "config", "--log-level", "debug", env={"OPENAI_API_KEY": KEY}
    )

    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout + result.stderr
    assert "env:OPENAI_API_KEY (sk-f…)" in result.stdout
    parsed = tomllib.loads(result.stdout)
    assert parsed["providers"][0]["name"] == "openai"
    assert "api_key" not in parsed["providers"][0]
    assert "DEBUG" in result.stderr  # logs go to stderr, never into the TOML


def test_config_masks_keys_written_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.toml", f'[[providers]]\npreset = "openai"\napi_key = "{KEY}"\n'
    )

    result = run_cli(tmp_path, "config", "--config", str(path))

    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout + result.stderr
    assert "file (sk-f…)" in result.stdout


# --- doctor -----------------------------------------------------------------


def test_doctor_without_providers_exits_1_with_the_fix(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "doctor")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "OPENAI_API_KEY" in result.stderr
    assert "OLLAMA_HOST" in result.stderr


class _FakeOpenAI(BaseHTTPRequestHandler):
    """Answers the models list for the right key, 401 for any other."""

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            body = {"error": {"message": "Incorrect API key", "type": "auth"}}
            self._reply(401, body)
        elif self.path.endswith("/models"):
            self._reply(200, {"object": "list", "data": [{"id": "fake-model"}]})
        else:
            self._reply(404, {"error": {"message": "no such path"}})

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def fake_openai() -> Iterator[str]:
    """A real OpenAI-compatible HTTP server on a free loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def provider_toml(name: str, base_url: str, key_env: str) -> str:
    return (
        f'[[providers]]\nname = "{name}"\nprotocol = "openai"\n'
        f'base_url = "{base_url}"\nmodel = "fake-model"\napi_key_env = "{key_env}"\n'
    )


def test_doctor_reports_a_working_provider_with_a_masked_key(
    tmp_path: Path, fake_openai: str
) -> None:
    path = write(tmp_path / "m.toml", provider_toml("local", fake_openai, "FAKE_KEY"))

    result = run_cli(tmp_path, "doctor", "--config", str(path), env={"FAKE_KEY": KEY})

    assert result.returncode == 0, result.stdout + result.stderr
    assert KEY not in result.stdout + result.stderr
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("local")]
    assert "env:FAKE_KEY (sk-f…)" in row
    assert " ok " in row
    assert row.rstrip().endswith("ms")


def test_doctor_exits_1_when_no_provider_is_usable(
    tmp_path: Path, fake_openai: str
) -> None:
    path = write(tmp_path / "m.toml", provider_toml("local", fake_openai, "FAKE_KEY"))
    wrong = "sk-wrong-0123456789abcdef"

    result = run_cli(tmp_path, "doctor", "--config", str(path), env={"FAKE_KEY": wrong})

    assert result.returncode == 1
    assert wrong not in result.stdout + result.stderr
    assert "auth" in result.stdout
    assert "no provider is usable" in result.stderr


def test_doctor_succeeds_when_one_of_several_providers_works(
    tmp_path: Path, fake_openai: str
) -> None:
    text = provider_toml("good", fake_openai, "FAKE_KEY") + provider_toml(
        "down", "http://127.0.0.1:9/v1", "FAKE_KEY"
    )
    path = write(tmp_path / "m.toml", text)

    result = run_cli(
        tmp_path,
        "doctor",
        "--config",
        str(path),
        "--timeout",
        "3",
        env={"FAKE_KEY": KEY},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    table, _, details = result.stdout.partition("\n\n")
    rows = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert " ok " in rows["good"]
    assert "error: connection" in rows["down"]
    # The cell stays short; the whole message, with its fix, follows the table.
    assert "down: could not connect" in details and "base_url" in details


# --- status -----------------------------------------------------------------


async def test_status_shows_the_health_recorded_by_earlier_calls(
    tmp_path: Path,
) -> None:
    from mcp_bridge.canonical import ChatRequest, Message
    from mcp_bridge.config import load_config
    from mcp_bridge.errors import AllAttemptsFailed
    from mcp_bridge.resilience import open_router

    state = tmp_path / "state.db"
    text = f'state = "sqlite:///{state}"\n' + provider_toml(
        "down", "http://127.0.0.1:9/v1", "FAKE_KEY"
    )
    path = write(tmp_path / "m.toml", text)
    request = ChatRequest(messages=[Message(role="user", content="hi")])
    config = load_config(path, env={"FAKE_KEY": KEY})
    async with open_router(config) as router:
        with pytest.raises(AllAttemptsFailed):
            await router.call(request, timeout_s=5)

    result = run_cli(tmp_path, "status", "--config", str(path), env={"FAKE_KEY": KEY})

    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split()[:3] == ["PROVIDER", "MODEL", "STATE"]
    assert row.startswith("down")
    assert "0%" in row
    assert "connection" in row


def test_status_without_providers_exits_1_with_the_fix(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "status")

    assert result.returncode == 1
    assert "OPENAI_API_KEY" in result.stderr


def test_a_non_positive_doctor_timeout_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "doctor", "--timeout", "0")

    assert result.returncode == 2
    assert "expected seconds > 0" in result.stderr
