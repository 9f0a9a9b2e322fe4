"""Anthropic Messages.

Request: POST {base_url}/v1/messages with `x-api-key` and
`anthropic-version: 2023-06-01`, the system text at the top level,
`max_tokens` always set, and roles that alternate starting with the user.
Structured output is a forced tool call whose `input` is the answer; the
stream carries it as `input_json_delta` fragments. Only `message_stop`
completes a stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mcp_bridge.canonical import ChatRequest, FinishReason, Usage
from mcp_bridge.errors import ContentFiltered, InvalidResponse
from mcp_bridge.protocols._errors import Caller
from mcp_bridge.protocols._http import (
    Answer,
    HTTPAdapter,
    StreamParser,
    Structured,
    WireRequest,
)
from mcp_bridge.protocols._sse import SSEEvent
from mcp_bridge.protocols._structured import with_schema_instruction
from mcp_bridge.protocols._turns import alternating
from mcp_bridge.protocols.schema import for_anthropic

__all__ = ["ANTHROPIC_VERSION", "AnthropicAdapter"]

ANTHROPIC_VERSION = "2023-06-01"
_TOOL_DESCRIPTION = "Record the answer. Its input is the complete answer."

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}


class AnthropicAdapter(HTTPAdapter):
    """Speaks the Messages API."""

    def auth_headers(self) -> dict[str, str]:
        """`x-api-key` (when there is a key) and the API version."""
        key = self.provider.secret()
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if key:
            headers["x-api-key"] = key
        return headers

    def probe_url(self) -> str:
        """GET {base_url}/v1/models."""
        return f"{self.base_url()}/v1/models"

    def wire_request(self, request: ChatRequest) -> WireRequest:
        """The Messages body for `request`."""
        turns = alternating(request.messages, user_first=True)
        body: dict[str, Any] = {
            "model": self.provider.model,
            "max_tokens": request.max_tokens or self.provider.max_output_tokens,
            "messages": [{"role": role, "content": text} for role, text in turns],
        }
        system, structured = self._structured(request, body)
        if system:
            body["system"] = system
        if request.temperature is not None:
            # Anthropic's range is 0..1; the canonical range goes to 2.
            body["temperature"] = min(request.temperature, 1.0)
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if self.provider.stream:
            body["stream"] = True
        return WireRequest(
            url=f"{self.base_url()}/v1/messages",
            body=body,
            headers=self.headers(stream=self.provider.stream),
            stream=self.provider.stream,
            structured=structured,
        )

    def _structured(
        self, request: ChatRequest, body: dict[str, Any]
    ) -> tuple[str | None, Structured | None]:
        """System text, and tools added to `body`, for a schema request."""
        schema = request.json_schema
        if schema is None:
            return request.system, None
        if self.provider.structured_output in ("prompt", "json_object"):
            return with_schema_instruction(request.system, schema), Structured(schema)
        input_schema, wrapped = for_anthropic(schema)
        name = request.schema_name
        body["tools"] = [
            {
                "name": name,
                "description": _TOOL_DESCRIPTION,
                "input_schema": input_schema,
            }
        ]
        body["tool_choice"] = {"type": "tool", "name": name}
        return request.system, Structured(schema, wrapped=wrapped)

    def stream_parser(self, caller: Caller) -> StreamParser:
        """A parser for Messages stream events."""
        return _EventParser(caller, self)

    def parse_body(self, body: Any, caller: Caller) -> Answer:
        """The answer in a whole message body."""
        if not isinstance(body, dict) or body.get("type") == "error":
            raise self.map_error(caller, None, body, {})
        content = body.get("content")
        if not isinstance(content, list):
            raise caller.error(InvalidResponse, "the message has no content list")
        usage = body.get("usage") or {}
        return Answer(
            text="".join(_block_text(block) for block in content),
            finish_reason=_stop(body.get("stop_reason"), caller),
            usage=Usage(
                input_tokens=_input_tokens(usage),
                output_tokens=int(usage.get("output_tokens") or 0),
            ),
            model=str(body.get("model") or ""),
        )


class _EventParser(StreamParser):
    """Assembles message_start ... message_stop."""

    def __init__(self, caller: Caller, adapter: AnthropicAdapter) -> None:
        super().__init__(caller)
        self.adapter = adapter
        self.stop_seen = False

    def feed(self, event: SSEEvent) -> None:
        """Take one event."""
        payload = self.json_of(event)
        if not isinstance(payload, dict):
            raise self.caller.error(InvalidResponse, "a stream event is not an object")
        kind = payload.get("type", event.event)
        if kind == "error" or event.event == "error" or "error" in payload:
            raise self.adapter.map_error(self.caller, None, payload, {})
        handler = _HANDLERS.get(str(kind))
        if handler is not None:
            handler(self, payload)

    def _start(self, payload: dict[str, Any]) -> None:
        message = payload.get("message") or {}
        self.answer.model = str(message.get("model") or "")
        usage = message.get("usage") or {}
        self.answer.usage = Usage(
            input_tokens=_input_tokens(usage),
            output_tokens=int(usage.get("output_tokens") or 0),
        )

    def _delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            self.add_text(str(delta.get("text") or ""))
        elif kind == "input_json_delta":
            self.add_text(str(delta.get("partial_json") or ""))
        elif kind in ("thinking_delta", "signature_delta"):
            self.active = True

    def _message_delta(self, payload: dict[str, Any]) -> None:
        reason = (payload.get("delta") or {}).get("stop_reason")
        self.answer.finish_reason = _stop(reason, self.caller)
        self.stop_seen = True
        usage = payload.get("usage") or {}
        self.answer.usage = Usage(
            input_tokens=_input_tokens(usage) or self.answer.usage.input_tokens,
            output_tokens=int(usage.get("output_tokens") or 0),
        )

    def _stop(self, payload: dict[str, Any]) -> None:
        self.complete = self.ended = self.active = True


_HANDLERS = {
    "message_start": _EventParser._start,
    "content_block_delta": _EventParser._delta,
    "message_delta": _EventParser._message_delta,
    "message_stop": _EventParser._stop,
}


def _block_text(block: Any) -> str:
    if not isinstance(block, dict):
        return ""
    if block.get("type") == "text":
        return str(block.get("text") or "")
    if block.get("type") == "tool_use":
        return json.dumps(block.get("input"), ensure_ascii=False)
    return ""


def _stop(reason: object, caller: Caller) -> FinishReason:
    if reason == "refusal":
        raise caller.error(ContentFiltered, "the model refused (stop_reason refusal)")
    return _STOP.get(str(reason), "other") if reason else "other"


def _input_tokens(usage: Mapping[str, Any]) -> int:
    """Input tokens including the cached ones, which are input all the same."""
    keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return sum(int(usage.get(key) or 0) for key in keys)
