"""OpenAI Chat Completions as the fake speaks it (and every compatible server)."""

from __future__ import annotations

import time
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

__all__ = ["OpenAIWire"]

_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter"}


class OpenAIWire(Wire):
    """POST /v1/chat/completions and GET /v1/models."""

    name = "openai"
    errors: ClassVar[dict[str, ErrorSpec]] = {
        "rate_limit": (
            429,
            "requests",
            "Rate limit reached for {model} on requests per minute; retry shortly.",
        ),
        "server_error": (500, "server_error", "The fake server failed on this call."),
        "unavailable": (503, "server_error", "The engine is unavailable right now."),
        "overloaded": (503, "server_error", "The engine is overloaded; retry later."),
        "overloaded_529": (529, "overloaded_error", "Overloaded"),
        "auth": (401, "invalid_request_error", "Incorrect API key provided."),
        "forbidden": (403, "permission_error", "This key may not use {model}."),
        "quota": (
            429,
            "insufficient_quota",
            "You exceeded your current quota; check your plan and billing details.",
        ),
        "model_not_found": (
            404,
            "invalid_request_error",
            "The model `{model}` does not exist or you do not have access to it.",
        ),
        "context_length": (
            400,
            "invalid_request_error",
            "This model's maximum context length is 200000 tokens, but your "
            "messages resulted in {tokens} tokens. Reduce the length of the messages.",
        ),
        "bad_request": (400, "invalid_request_error", "Invalid value for 'messages'."),
        "content_filter_error": (
            400,
            "invalid_request_error",
            "The prompt was filtered by the content management policy.",
        ),
    }
    _codes: ClassVar[dict[str, str]] = {
        "rate_limit": "rate_limit_exceeded",
        "auth": "invalid_api_key",
        "quota": "insufficient_quota",
        "model_not_found": "model_not_found",
        "context_length": "context_length_exceeded",
        "content_filter_error": "content_filter",
    }

    def parse(self, request: HttpRequest, body: Any) -> Ask:
        """Read the chat request; response_format selects JSON output."""
        messages = body.get("messages") or []
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema")
        return Ask(
            protocol=self.name,
            model=str(body.get("model", "")),
            stream=bool(body.get("stream")),
            prompt=last_user_text(messages, "user"),
            input_tokens=count_tokens(messages),
            max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
            json_mode=fmt.get("type") in ("json_schema", "json_object"),
            schema=schema,
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
            context=all_text(messages),
        )

    def whole(self, ask: Ask, answer: Answer) -> dict[str, Any]:
        """A chat.completion object."""
        finish = _FINISH.get(answer.finish)
        message = {"role": "assistant", "content": answer.text, "refusal": None}
        return {
            **_envelope(ask, "chat.completion"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": _usage(answer),
        }

    def stream(self, ask: Ask, answer: Answer) -> StreamParts:
        """chat.completion.chunk events, a usage chunk on request, then [DONE]."""
        envelope = _envelope(ask, "chat.completion.chunk")
        # The envelope is the same in every chunk: encoded once, the closing
        # brace left off so that each chunk's choices (and usage) follow it.
        opening = f"data: {compact(envelope)[:-1]},"
        closing = ',"usage":null}\n\n' if ask.include_usage else "}\n\n"

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None}
            choices = compact([{**choice, "finish_reason": finish}])
            return f'{opening}"choices":{choices}{closing}'.encode()

        parts = StreamParts(
            head=[chunk({"role": "assistant", "content": "", "refusal": None}, None)],
            body=[chunk({"content": piece}, None) for piece in answer.pieces],
            tail=[chunk({}, _FINISH.get(answer.finish))],
            done=[b"data: [DONE]\n\n"],
        )
        if ask.include_usage:
            parts.tail.append(
                _data({**envelope, "choices": [], "usage": _usage(answer)})
            )
        return parts

    def malformed_event(self) -> bytes:
        """A chunk whose JSON stops half-way."""
        return b'data: {"id":"chatcmpl-broken","choices":[{"index":0,"delta":{"con\n\n'

    def error_event(self, ask: Ask) -> bytes:
        """An error object sent as a data line inside the stream."""
        error = self.error_body(
            "server_error", 500, "server_error", "Stream failed.", {}
        )
        return _data(error)

    def error_body(
        self, fault: str, status: int, kind: str, message: str, args: dict[str, Any]
    ) -> Any:
        """{"error": {"message", "type", "param", "code"}}."""
        code = args.get("code", self._codes.get(fault))
        param = "messages" if code == "context_length_exceeded" else None
        return {
            "error": {"message": message, "type": kind, "param": param, "code": code}
        }

    def models(self, names: list[str]) -> dict[str, Any]:
        """{"object": "list", "data": [...]}."""
        data = [
            {
                "id": name,
                "object": "model",
                "created": 1_700_000_000,
                "owned_by": "fake",
            }
            for name in names
        ]
        return {"object": "list", "data": data}

    def response_headers(self) -> dict[str, str]:
        """A request id and rate-limit headers, like the real service."""
        return {
            "x-request-id": new_id("req_"),
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
        }


def _envelope(ask: Ask, kind: str) -> dict[str, Any]:
    return {
        "id": new_id("chatcmpl-"),
        "object": kind,
        "created": int(time.time()),
        "model": ask.model,
        "system_fingerprint": "fp_fake",
    }


def _usage(answer: Answer) -> dict[str, int]:
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
    }


def _data(event: Any) -> bytes:
    return f"data: {compact(event)}\n\n".encode()
