"""Routes requests to a vendor wire format and plays the chosen fault."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from tools.fake_provider._answers import Answer, Ask, build_answer
from tools.fake_provider._anthropic import AnthropicWire
from tools.fake_provider._control import ControlApi
from tools.fake_provider._gemini import GeminiWire, gemini_model_and_method
from tools.fake_provider._http import HttpConnection, HttpRequest
from tools.fake_provider._openai import OpenAIWire
from tools.fake_provider._state import FAULTS, FakeState, RecordedRequest
from tools.fake_provider._wire import Wire, compact

__all__ = ["FakeApp"]

_ERROR_FAULTS = frozenset(OpenAIWire.errors) - {"content_filter_error"}
_STREAM_TYPE = {"content-type": "text/event-stream; charset=utf-8"}
_JSON_TYPE = {"content-type": "application/json"}


@dataclass
class Exchange:
    """One chat request being answered."""

    wire: Wire
    ask: Ask
    conn: HttpConnection
    sse: bool
    gap_s: float = 0.0


@dataclass
class Delivery:
    """How an answer goes out: whole, cut, stalled, late or with extra events."""

    end: str = "clean"
    chunks: int | None = None
    first_delay_s: float = 0.0
    events: list[bytes] | None = None


Play = Callable[[Exchange, dict[str, Any]], Awaitable[None]]


class FakeApp:
    """The request handler behind the HTTP server."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.control = ControlApi(state)
        self.wires: dict[str, Wire] = {
            "openai": OpenAIWire(),
            "anthropic": AnthropicWire(),
            "gemini": GeminiWire(),
        }
        self._plays: dict[str, Play] = {
            "reset": self._reset,
            "no_response": self._no_response,
            "plain_error": self._plain_error,
            "detail_error": self._detail_error,
            "foreign_error": self._foreign_error,
            "slow_first_token": self._slow_first_token,
            "latency": self._latency,
            "stream_cut": self._stream_cut,
            "stream_stall": self._stream_stall,
            "malformed_chunk": self._malformed_chunk,
            "missing_terminal": self._missing_terminal,
            "stream_error": self._stream_error,
            "empty_stream": self._empty_stream,
            "content_filter": self._content_filter,
            "length": self._length,
            "invalid_json": self._invalid_json,
        }

    async def __call__(self, request: HttpRequest, conn: HttpConnection) -> None:
        """Handle one request, counting provider requests in flight meanwhile."""
        if request.path.startswith("/_control/"):
            await self.control.handle(request, conn)
            return
        self.state.enter()
        try:
            await self._dispatch(request, conn)
        finally:
            self.state.leave()

    async def _dispatch(self, request: HttpRequest, conn: HttpConnection) -> None:
        wire, kind = self._route(request)
        if wire is None:
            body = compact({"error": f"no route for {request.method} {request.path}"})
            await conn.send_whole(404, _JSON_TYPE, body.encode())
        elif kind == "models":
            await self._models(wire, request, conn)
        else:
            await self._chat(wire, request, conn)

    def _route(self, request: HttpRequest) -> tuple[Wire | None, str]:
        path, method = request.path.rstrip("/"), request.method
        if method == "POST" and path == "/v1/chat/completions":
            return self.wires["openai"], "chat"
        if method == "POST" and path == "/v1/messages":
            return self.wires["anthropic"], "chat"
        if method == "POST" and gemini_model_and_method(path):
            return self.wires["gemini"], "chat"
        if method == "GET" and path == "/v1/models":
            anthropic = "anthropic-version" in request.headers
            return self.wires["anthropic" if anthropic else "openai"], "models"
        if method == "GET" and path == "/v1beta/models":
            return self.wires["gemini"], "models"
        return None, ""

    async def _chat(
        self, wire: Wire, request: HttpRequest, conn: HttpConnection
    ) -> None:
        body = _load_json(request.body)
        if not isinstance(body, dict):
            self._record(request, body, wire.name, None, None)
            x = Exchange(wire, Ask(wire.name, ""), conn, sse=False)
            await self._error(x, "bad_request", {"message": "Body is not JSON."})
            return
        ask = wire.parse(request, body)
        chosen = self.state.choose_fault(ask.model)
        fault, args = chosen or (None, {})
        self._record(request, body, wire.name, ask.model, fault)
        sse = ask.stream and (
            wire.name != "gemini" or request.query.get("alt") == "sse"
        )
        x = Exchange(wire, ask, conn, sse)
        await self._wait(fault, args)
        await self._play(x, fault, args)

    async def _models(
        self, wire: Wire, request: HttpRequest, conn: HttpConnection
    ) -> None:
        chosen = self.state.choose_fault(None)
        fault, args = chosen or (None, {})
        self._record(request, None, wire.name, None, fault)
        await self._wait(fault, args)
        x = Exchange(wire, Ask(wire.name, ""), conn, sse=False)
        if fault in _ERROR_FAULTS or fault in ("reset", "no_response", "plain_error"):
            await self._play(x, fault, args)
            return
        body = compact(wire.models(self.state.models)).encode()
        await conn.send_whole(200, {**wire.response_headers(), **_JSON_TYPE}, body)

    async def _play(self, x: Exchange, fault: str | None, args: dict[str, Any]) -> None:
        if fault is None:
            await self._deliver(x, self._answer(x), Delivery())
        elif fault in _ERROR_FAULTS:
            await self._error(x, fault, args)
        elif fault in self._plays:
            await self._plays[fault](x, args)
        else:
            unknown = f"Unknown fault {fault!r}; known: {', '.join(sorted(FAULTS))}"
            await self._error(x, "bad_request", {"message": unknown})

    async def _wait(self, fault: str | None, args: dict[str, Any]) -> None:
        delay_ms = self.state.latency_ms
        if fault == "latency":
            delay_ms += float(args.get("ms", 0))
        if delay_ms > 0:
            await anyio.sleep(delay_ms / 1000)

    def _answer(self, x: Exchange, **kwargs: Any) -> Answer:
        return build_answer(x.ask, self.state.take_reply(x.ask.model), **kwargs)

    def _record(
        self,
        request: HttpRequest,
        body: Any,
        protocol: str,
        model: str | None,
        fault: str | None,
    ) -> None:
        entry = RecordedRequest(
            request.method,
            request.path,
            request.query,
            request.headers,
            body,
            protocol,
            model,
            fault,
        )
        self.state.record(entry)

    async def _error(self, x: Exchange, fault: str, args: dict[str, Any]) -> None:
        reply = x.wire.error(fault, x.ask, args)
        headers = {**reply.headers, "content-type": reply.content_type}
        await x.conn.send_whole(reply.status, headers, reply.body)

    async def _deliver(self, x: Exchange, answer: Answer, how: Delivery) -> None:
        """Send an answer whole or streamed, possibly late, cut or stalled."""
        if not x.sse:
            await self._deliver_whole(x, answer, how)
            return
        parts = x.wire.stream(x.ask, answer)
        events = how.events if how.events is not None else parts.complete()
        if how.end != "clean":
            events = parts.head + parts.body[: how.chunks]
        headers = {**x.wire.response_headers(), **_STREAM_TYPE}
        if how.first_delay_s or x.gap_s:
            await self._paced(x, headers, events, how.first_delay_s)
            await self._finish(x, how.end, streamed=True)
            return
        # One write per answer keeps the fake fast enough for benchmarks; clients
        # must parse any split of the byte stream anyway.
        await x.conn.send_stream(200, headers, events, end=how.end == "clean")
        await self._finish(x, how.end, streamed=False)

    async def _paced(
        self, x: Exchange, headers: dict[str, str], events: list[bytes], delay: float
    ) -> None:
        await x.conn.start_stream(200, headers)
        if delay:
            await anyio.sleep(delay)
        for event in events:
            if x.gap_s:
                await anyio.sleep(x.gap_s)
            await x.conn.send_chunk(event)

    async def _deliver_whole(self, x: Exchange, answer: Answer, how: Delivery) -> None:
        data = self._whole_bytes(x, answer)
        if how.first_delay_s:
            await anyio.sleep(how.first_delay_s)
        limit = None if how.end == "clean" else len(data) // 2
        headers = {**x.wire.response_headers(), **_JSON_TYPE}
        await x.conn.send_whole(200, headers, data, limit)
        await self._finish(x, how.end, streamed=False)

    async def _finish(self, x: Exchange, end: str, *, streamed: bool) -> None:
        if end == "cut":
            await x.conn.close()
        elif end == "stall":
            await x.conn.hold_until_disconnect()
        elif streamed:
            await x.conn.end_stream()

    def _whole_bytes(self, x: Exchange, answer: Answer) -> bytes:
        if not x.ask.stream:
            return compact(x.wire.whole(x.ask, answer)).encode()
        # streamGenerateContent without alt=sse answers one JSON array of chunks.
        events = x.wire.stream(x.ask, answer).complete()
        items = [e.decode().removeprefix("data: ").strip() for e in events]
        return ("[" + ",\r\n".join(items) + "]").encode()

    async def _reset(self, x: Exchange, args: dict[str, Any]) -> None:
        await x.conn.reset()

    async def _no_response(self, x: Exchange, args: dict[str, Any]) -> None:
        await x.conn.hold_until_disconnect()

    async def _plain_error(self, x: Exchange, args: dict[str, Any]) -> None:
        status = int(args.get("status", 500))
        text = str(args.get("message", "Internal Server Error")).encode()
        await x.conn.send_whole(status, {"content-type": "text/plain"}, text)

    async def _detail_error(self, x: Exchange, args: dict[str, Any]) -> None:
        status = int(args.get("status", 500))
        body = {"detail": str(args.get("message", "Internal server error"))}
        await x.conn.send_whole(status, _JSON_TYPE, compact(body).encode())

    async def _foreign_error(self, x: Exchange, args: dict[str, Any]) -> None:
        other = "anthropic" if x.wire.name == "openai" else "openai"
        inner = str(args.get("fault", "rate_limit"))
        foreign = Exchange(self.wires[other], x.ask, x.conn, x.sse)
        await self._error(foreign, inner, args)

    async def _slow_first_token(self, x: Exchange, args: dict[str, Any]) -> None:
        delay_s = float(args.get("delay_ms", 1000)) / 1000
        await self._deliver(x, self._answer(x), Delivery(first_delay_s=delay_s))

    async def _latency(self, x: Exchange, args: dict[str, Any]) -> None:
        x.gap_s = float(args.get("chunk_ms", 0)) / 1000
        await self._deliver(x, self._answer(x), Delivery())

    async def _stream_cut(self, x: Exchange, args: dict[str, Any]) -> None:
        how = Delivery(end="cut", chunks=int(args.get("chunks", 2)))
        await self._deliver(x, self._answer(x), how)

    async def _stream_stall(self, x: Exchange, args: dict[str, Any]) -> None:
        how = Delivery(end="stall", chunks=int(args.get("chunks", 2)))
        await self._deliver(x, self._answer(x), how)

    async def _malformed_chunk(self, x: Exchange, args: dict[str, Any]) -> None:
        if not x.sse:
            await x.conn.send_whole(200, _JSON_TYPE, b'{"id": "broken", "cho')
            return
        answer = self._answer(x)
        parts = x.wire.stream(x.ask, answer)
        at = int(args.get("chunks", 1))
        bad = [x.wire.malformed_event()]
        events = parts.head + parts.body[:at] + bad + parts.body[at:]
        events += parts.tail + parts.done
        await self._deliver(x, answer, Delivery(events=events))

    async def _missing_terminal(self, x: Exchange, args: dict[str, Any]) -> None:
        answer = self._answer(x, finish="none")
        parts = x.wire.stream(x.ask, answer)
        events = parts.head + parts.body + parts.done
        await self._deliver(x, answer, Delivery(events=events))

    async def _stream_error(self, x: Exchange, args: dict[str, Any]) -> None:
        if not x.sse:
            await self._error(x, "server_error", {})
            return
        answer = self._answer(x)
        parts = x.wire.stream(x.ask, answer)
        events = parts.head + parts.body[: int(args.get("chunks", 1))]
        events.append(x.wire.error_event(x.ask))
        await self._deliver(x, answer, Delivery(events=events))

    async def _empty_stream(self, x: Exchange, args: dict[str, Any]) -> None:
        if not x.sse:
            await x.conn.send_whole(200, _JSON_TYPE, b"")
            return
        await x.conn.start_stream(200, {**x.wire.response_headers(), **_STREAM_TYPE})
        await x.conn.end_stream()

    async def _content_filter(self, x: Exchange, args: dict[str, Any]) -> None:
        if args.get("mode") == "error":
            await self._error(x, "content_filter_error", args)
            return
        await self._deliver(x, self._answer(x, finish="content_filter"), Delivery())

    async def _length(self, x: Exchange, args: dict[str, Any]) -> None:
        await self._deliver(x, self._answer(x, finish="length"), Delivery())

    async def _invalid_json(self, x: Exchange, args: dict[str, Any]) -> None:
        kind = str(args.get("kind", "syntax"))
        await self._deliver(x, self._answer(x, invalid_json=kind), Delivery())


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data.decode("utf-8", "replace")
