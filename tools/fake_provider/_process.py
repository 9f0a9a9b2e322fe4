"""Run the fake as a separate process and script it over its control API."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx2

__all__ = ["FakeProcess"]

_LISTENING = re.compile(r"listening on (http://\S+)")
_PATHS = {"openai": "/v1", "anthropic": "", "gemini": "/v1beta"}
_REPO = Path(__file__).resolve().parents[2]


class FakeProcess:
    """`python -m tools.fake_provider` in a child process (for benchmarks)."""

    def __init__(self, *, latency_ms: float = 0.0, port: int = 0) -> None:
        self._argv = [
            sys.executable,
            "-m",
            "tools.fake_provider",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
        ]
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> FakeProcess:
        """Spawn the process and wait for its `listening on` line."""
        self._proc = subprocess.Popen(
            self._argv, cwd=_REPO, stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        match = _LISTENING.search(line)
        if match is None:
            self.stop()
            raise RuntimeError(f"fake provider did not start; it printed {line!r}")
        self.url = match.group(1)
        return self

    def stop(self) -> None:
        """Terminate the process and wait for it."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def base_url(self, protocol: str) -> str:
        """The base URL for `protocol` (openai, anthropic, gemini)."""
        return self.url + _PATHS[protocol]

    def control(self, method: str, name: str, body: Any = None) -> Any:
        """Call /_control/{name}; returns the decoded JSON answer."""
        response = httpx2.request(method, f"{self.url}/_control/{name}", json=body)
        response.raise_for_status()
        return response.json()

    def set_fault(
        self, model: str, fault: str, count: int | None = None, **args: Any
    ) -> None:
        """Inject a fault, as `FakeProvider.set_fault` does."""
        body = {"model": model, "fault": fault, "count": count, "args": args}
        self.control("POST", "faults", body)

    def reset(self) -> None:
        """Forget faults, replies and the request log."""
        self.control("POST", "reset")

    def __enter__(self) -> FakeProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
