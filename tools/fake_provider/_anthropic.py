"""Anthropic Messages as the fake speaks it, including forced tool calls."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from tools.fake_provider._answers import (
    Answer,
    Ask,
    StreamParts,
    all_text,
    count_tokens,
    last_user_text,
)
from tools.fake_provider._http import HttpRequest
from tools.fake_provider._wire import ErrorSpec, Wire, compact, new_id

__all__ = ["AnthropicWire"]

_STOP = {"stop": "end_turn", "length": "max_tokens", "content_filter": "refusal"}


class AnthropicWire(Wire):
    """POST /v1/messages and GET /v1/models (when Anthropic headers are sent)."""

    name = "anthropic"
    errors: ClassVar[dict[str, ErrorSpec]] = {
        "rate_limit": (
            429,
            "rate_limit_error",
            "This request would exceed your organization's rate limit; retry later.",
        ),
        "server_error": (500, "api_error", "Internal server error"),
        "unavailable": (503, "api_error", "Service unavailable"),
        "overloaded": (503, "overloaded_error", "Overloaded"),
        "overloaded_529": (529, "overloaded_error", "Overloaded"),
        "auth": (401, "authentication_error", "invalid x-api-key"),
        "forbidden": (403, "permission_error", "This key may not use {model}."),
        "quota": (
            400,
            "invalid_request_error",
            "Your credit balance is too low to use the API; add credits under "
            "Plans & Billing.",
        ),
        "model_not_found": (404, "not_found_error", "model: {model}"),
        "context_length": (
            400,
            "invalid_request_error",
            "prompt is too long: {tokens} tokens > 200000 maximum",
        ),
        "bad_request": (
            400,
            "invalid_request_error",
            "messages: roles must alternate between user and assistant",
        ),
        "content_filter_error": (
            400,
            "invalid_request_error",
            "Output blocked by content filtering policy",
        ),
    }

    def parse(self, request: HttpRequest, body: Any) -> Ask:
        """Read the Messages request; a forced tool or output format asks for JSON."""
        messages = body.get("messages") or []
        tool_name, schema = _forced_tool(body)
        if tool_name is None:
            schema = _output_schema(body)
        return Ask(
            protocol=self.name,
            model=str(body.get("model", "")),
            stream=bool(body.get("stream")),
            prompt=last_user_text(messages, "user"),
            input_tokens=count_tokens([body.get("system"), messages]),
            max_tokens=body.get("max_tokens"),
            json_mode=tool_name is not None or schema is not None,
            schema=schema,
            tool_name=tool_name,
            context=all_text(body.get("system"), messages),
        )

    def whole(self, ask: Ask, answer: Answer) -> dict[str, Any]:
        """A message object with one text or tool_use block."""
        tool_input = _tool_input(answer)
        stop = _STOP.get(answer.finish)
        if tool_input is not None:
            block: dict[str, Any] = _tool_block(answer, tool_input)
            stop = "tool_use" if answer.finish == "stop" else stop
        else:
            block = {"type": "text", "text": answer.text}
        content = [] if answer.finish == "content_filter" else [block]
        return {
            **_message(ask, content, stop),
            "usage": {
                "input_tokens": answer.input_tokens,
                "output_tokens": answer.output_tokens,
            },
        }

    def stream(self, ask: Ask, answer: Answer) -> StreamParts:
        """message_start .. content_block_* .. message_delta, message_stop."""
        as_tool = answer.tool_name is not None and answer.finish != "content_filter"
        start_usage = {"input_tokens": answer.input_tokens, "output_tokens": 1}
        message = {**_message(ask, [], None), "usage": start_usage}
        block = _tool_block(answer, {}) if as_tool else {"type": "text", "text": ""}
        stop = "tool_use" if as_tool and answer.finish == "stop" else None
        return StreamParts(
            head=[
                _event("message_start", {"message": message}),
                _event("content_block_start", {"index": 0, "content_block": block}),
                _event("ping", {}),
            ],
            body=[_delta(piece, as_tool) for piece in answer.pieces],
            tail=[
                _event("content_block_stop", {"index": 0}),
                _event(
                    "message_delta",
                    {
                        "delta": {
                            "stop_reason": stop or _STOP.get(answer.finish),
                            "stop_sequence": None,
                        },
                        "usage": {"output_tokens": answer.output_tokens},
                    },
                ),
                _event("message_stop", {}),
            ],
        )

    def malformed_event(self) -> bytes:
        """A content_block_delta whose JSON stops half-way."""
        return (
            b"event: content_block_delta\n"
            b'data: {"type":"content_block_delta","index":0,"delta":{"type":"te\n\n'
        )

    def error_event(self, ask: Ask) -> bytes:
        """An `error` event, as sent when the service overloads mid-stream."""
        error = {"type": "overloaded_error", "message": "Overloaded"}
        return _event("error", {"error": error})

    def error_body(
        self, fault: str, status: int, kind: str, message: str, args: dict[str, Any]
    ) -> Any:
        """{"type": "error", "error": {"type", "message"}, "request_id"}."""
        error = {"type": kind, "message": message}
        return {"type": "error", "error": error, "request_id": new_id("req_")}

    def models(self, names: list[str]) -> dict[str, Any]:
        """A page of model objects."""
        data = [
            {
                "type": "model",
                "id": name,
                "display_name": name,
                "created_at": "2025-01-01T00:00:00Z",
            }
            for name in names
        ]
        first = names[0] if names else None
        last = names[-1] if names else None
        return {"data": data, "has_more": False, "first_id": first, "last_id": last}

    def response_headers(self) -> dict[str, str]:
        """A request id and rate-limit headers, like the real service."""
        return {
            "request-id": new_id("req_"),
            "anthropic-ratelimit-requests-limit": "4000",
            "anthropic-ratelimit-requests-remaining": "3999",
        }


def _forced_tool(body: dict[str, Any]) -> tuple[str | None, Any]:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice") or {}
    if not tools or choice.get("type") not in ("tool", "any"):
        return None, None
    wanted = choice.get("name") if choice.get("type") == "tool" else None
    for tool in tools:
        if wanted is None or tool.get("name") == wanted:
            return str(tool.get("name")), tool.get("input_schema")
    return None, None


def _output_schema(body: dict[str, Any]) -> Any:
    """The schema of the native structured-output option, old or new spelling."""
    fmt = body.get("output_format") or (body.get("output_config") or {}).get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return fmt.get("schema") or {}
    return None


def _tool_input(answer: Answer) -> dict[str, Any] | None:
    """The tool input when the answer is a JSON object; else the model 'wrote text'."""
    if answer.tool_name is None:
        return None
    try:
        value = json.loads(answer.text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _tool_block(answer: Answer, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": new_id("toolu_"),
        "name": answer.tool_name,
        "input": tool_input,
    }


def _message(ask: Ask, content: list[Any], stop: str | None) -> dict[str, Any]:
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": ask.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
    }


def _delta(piece: str, as_tool: bool) -> bytes:
    if as_tool:
        delta = {"type": "input_json_delta", "partial_json": piece}
    else:
        delta = {"type": "text_delta", "text": piece}
    return _event("content_block_delta", {"index": 0, "delta": delta})


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {compact({'type': name, **data})}\n\n".encode()
