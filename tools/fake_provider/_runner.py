"""Run the fake in a background thread, for tests and in-process benchmarks."""

from __future__ import annotations

import contextlib
import socket
from concurrent.futures import Future
from types import TracebackType
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.abc import TaskStatus

from tools.fake_provider._app import FakeApp
from tools.fake_provider._control import reply_from
from tools.fake_provider._http import serve_http
from tools.fake_provider._state import FakeState, RecordedRequest

__all__ = ["FakeProvider", "refused_base_url", "serve_fake"]

_PATHS = {"openai": "/v1", "anthropic": "", "gemini": "/v1beta"}


async def serve_fake(
    state: FakeState,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the fake on the current event loop until cancelled; reports the port."""
    await serve_http(FakeApp(state), host, port, task_status=task_status)


def refused_base_url(protocol: str = "openai") -> str:
    """A base URL on 127.0.0.1 where nothing listens, so connections are refused."""
    # Bind then close: the kernel will not hand the port out again at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{_PATHS[protocol]}"


class FakeProvider:
    """A fault-injecting OpenAI / Anthropic / Gemini server on 127.0.0.1.

    Use `with FakeProvider() as fake:` or `async with FakeProvider() as fake:`;
    the server runs on its own event loop in a background thread, so both
    synchronous and asynchronous clients can call it.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        models: list[str] | None = None,
    ) -> None:
        self.state = FakeState(latency_ms, models)
        self.host = host
        self._wanted_port = port
        self._port: int | None = None
        self._portal: contextlib.ExitStack | None = None
        self._task: Future[Any] | None = None

    @property
    def port(self) -> int:
        """The bound port; raises RuntimeError before `start()`."""
        if self._port is None:
            raise RuntimeError("FakeProvider is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        """The server root, e.g. http://127.0.0.1:PORT."""
        return f"http://{self.host}:{self.port}"

    def base_url(self, protocol: str) -> str:
        """The base URL a provider of `protocol` (openai, anthropic, gemini) uses."""
        if protocol not in _PATHS:
            known = ", ".join(_PATHS)
            raise ValueError(f"protocol must be one of {known}, not {protocol!r}")
        return self.url + _PATHS[protocol]

    def start(self) -> FakeProvider:
        """Start serving on a background thread; returns self once listening."""
        stack = contextlib.ExitStack()
        portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
        self._task, self._port = portal.start_task(
            serve_fake, self.state, self.host, self._wanted_port
        )
        self._portal = stack
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._portal is not None:
            self._portal.close()
            self._portal = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeProvider:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await anyio.to_thread.run_sync(self.stop)

    def set_fault(
        self, model: str, fault: str, count: int | None = None, **args: Any
    ) -> None:
        """Inject `fault` for `model` ('*' = every model and the models list)."""
        self.state.set_fault(model, fault, count, args)

    def clear_faults(self, model: str | None = None) -> None:
        """Remove the rule for `model`, or all rules."""
        self.state.clear_faults(model)

    def queue_reply(self, model: str, reply: Any) -> None:
        """Queue an exact answer for `model` ('*' = any): str as text, else JSON."""
        self.state.queue_reply(model, reply_from(reply))

    def set_latency(self, ms: float) -> None:
        """Delay every provider answer by `ms` milliseconds."""
        self.state.latency_ms = ms

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every provider request received, oldest first."""
        return self.state.requests()

    def requests_for(self, model: str) -> list[RecordedRequest]:
        """The requests that named `model`."""
        return self.state.requests(model)

    @property
    def in_flight(self) -> int:
        """Provider requests being answered right now."""
        return self.state.in_flight

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> None:
        """Block until `count` requests arrived; TimeoutError after `timeout` s."""
        if not self.state.wait_for_requests(count, timeout):
            got = len(self.state.requests())
            raise TimeoutError(f"fake provider saw {got} of {count} requests")

    async def until_requests(self, count: int) -> None:
        """Wait until `count` requests arrived; bound it with `anyio.fail_after`."""
        # Short waits in a worker thread keep cancellation prompt and leak nothing.
        wait = self.state.wait_for_requests
        while not await anyio.to_thread.run_sync(wait, count, 0.05):
            pass

    def reset(self) -> None:
        """Forget faults, replies, the request log and per-model counters."""
        self.state.reset()
