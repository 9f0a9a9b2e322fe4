"""OpenAI Chat Completions, as served by OpenAI and most compatible servers.

Request: POST {base_url}/chat/completions with a Bearer key (none for local
servers), the system text as the first message, `max_tokens` (or
`max_completion_tokens`, which OpenAI's reasoning models require), and
`stream_options.include_usage` so usage arrives in a last chunk whose
`choices` is empty. A stream is complete once a choice carried a
`finish_reason`; `[DONE]` after that is welcome but optional (vLLM and
others never send it).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx2

from mcp_bridge.canonical import ChatRequest, ChatResponse, FinishReason, Usage
from mcp_bridge.config import ProviderConfig
from mcp_bridge.errors import BadRequest, ContentFiltered, InvalidResponse
from mcp_bridge.protocols._base import AttemptTimeouts, ChunkCallback
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
from mcp_bridge.protocols.schema import for_openai, inline_refs, needs_wrapping, wrap

__all__ = ["OpenAIAdapter"]

logger = logging.getLogger(__name__)

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "model_length": "length",
}


class OpenAIAdapter(HTTPAdapter):
    """Speaks Chat Completions."""

    def __init__(self, provider: ProviderConfig, client: httpx2.AsyncClient) -> None:
        super().__init__(provider, client)
        self.stream_usage = provider.stream_usage
        self.stream_structured = provider.stream_structured

    async def send(
        self,
        request: ChatRequest,
        timeouts: AttemptTimeouts,
        on_chunk: ChunkCallback | None = None,
    ) -> ChatResponse:
        """Send once; resend once to a server that refused an optional feature.

        Strict servers answer 400 or 422 to `stream_options` (Mistral, some
        vLLM deployments) or to `response_format` in a stream (Groq); the
        adapter stops asking for what was refused, for the rest of the process.
        """
        try:
            return await super().send(request, timeouts, on_chunk)
        except BadRequest as exc:
            if not self._give_up_refused_feature(request, exc.message):
                raise
            return await super().send(request, timeouts, on_chunk)

    def _give_up_refused_feature(self, request: ChatRequest, message: str) -> bool:
        """Turn off the feature `message` refuses; False when it names none."""
        if self.stream_usage and "stream_options" in message:
            self.stream_usage, setting = False, "stream_usage"
        elif (
            self.stream_structured
            and self.provider.stream
            and request.json_schema is not None
            and "response_format" in message
            and "stream" in message
        ):
            self.stream_structured, setting = False, "stream_structured"
        else:
            return False
        logger.warning(
            "%s refused a request feature (%s); sending without it from now on "
            "(set %s = false for this provider in multibridge.toml)",
            self.provider.name,
            message[:120],
            setting,
        )
        return True

    def auth_headers(self) -> dict[str, str]:
        """A Bearer key, or nothing for servers that take none (Ollama)."""
        key = self.provider.secret()
        return {"authorization": f"Bearer {key}"} if key else {}

    def probe_url(self) -> str:
        """GET {base_url}/models."""
        return f"{self.base_url()}/models"

    def wire_request(self, request: ChatRequest) -> WireRequest:
        """The Chat Completions body for `request`."""
        system, response_format, structured = self._structured(request)
        body: dict[str, Any] = {
            "model": self.provider.model,
            "messages": _messages(request, system),
            self.provider.max_tokens_field: (
                request.max_tokens or self.provider.max_output_tokens
            ),
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop"] = list(request.stop)
        if response_format is not None:
            body["response_format"] = response_format
        stream = self.provider.stream and (
            self.stream_structured or response_format is None
        )
        if stream:
            body["stream"] = True
            if self.stream_usage:
                body["stream_options"] = {"include_usage": True}
        return WireRequest(
            url=f"{self.base_url()}/chat/completions",
            body=body,
            headers=self.headers(stream=stream),
            stream=stream,
            structured=structured,
        )

    def _structured(
        self, request: ChatRequest
    ) -> tuple[str | None, dict[str, Any] | None, Structured | None]:
        """System text, response_format and the schema plan for `request`."""
        schema = request.json_schema
        if schema is None:
            return request.system, None, None
        mode = self.provider.structured_output
        if mode == "json_schema":
            wire = for_openai(schema, strict=self.provider.strict_schema)
            spec = {"name": request.schema_name, "schema": wire.schema}
            response_format = {
                "type": "json_schema",
                "json_schema": {**spec, "strict": wire.strict},
            }
            structured = Structured(
                schema, wrapped=wire.wrapped, nullable_optionals=wire.strict
            )
            return request.system, response_format, structured
        if mode == "json_object":
            # JSON mode only produces objects, so other top levels are wrapped.
            flat = inline_refs(schema)
            wrapped = needs_wrapping(flat)
            shown = wrap(flat) if wrapped else schema
            system = with_schema_instruction(request.system, shown)
            return system, {"type": "json_object"}, Structured(schema, wrapped)
        system = with_schema_instruction(request.system, schema)
        return system, None, Structured(schema)

    def stream_parser(self, caller: Caller) -> StreamParser:
        """A parser for chat.completion.chunk events."""
        return _ChunkParser(caller, self)

    def parse_body(self, body: Any, caller: Caller) -> Answer:
        """The answer in a whole chat.completion body."""
        if isinstance(body, dict) and "error" in body:
            raise self.map_error(caller, None, body, {})
        choice = _first_choice(body, caller)
        message = choice.get("message")
        if not isinstance(message, dict):
            raise caller.error(InvalidResponse, "the choice has no message object")
        _check_refusal(message.get("refusal"), caller)
        content = message.get("content")
        return Answer(
            text=content if isinstance(content, str) else "",
            finish_reason=_finish(choice.get("finish_reason") or "stop", caller),
            usage=_usage(body.get("usage")),
            model=str(body.get("model") or ""),
        )


class _ChunkParser(StreamParser):
    """Assembles chat.completion.chunk events."""

    def __init__(self, caller: Caller, adapter: OpenAIAdapter) -> None:
        super().__init__(caller)
        self.adapter = adapter
        self.refusal: list[str] = []

    def feed(self, event: SSEEvent) -> None:
        """Take one `data:` line's chunk."""
        if event.data.strip() == "[DONE]":
            self.ended = True
            return
        chunk = self.json_of(event)
        if not isinstance(chunk, dict):
            raise self.caller.error(InvalidResponse, "a stream chunk is not an object")
        if "error" in chunk or event.event == "error":
            raise self.adapter.map_error(self.caller, None, chunk, {})
        self.answer.model = str(chunk.get("model") or self.answer.model)
        if isinstance(chunk.get("usage"), dict):
            self.answer.usage = _usage(chunk["usage"])
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise self.caller.error(InvalidResponse, "a stream chunk has no choices")
        for choice in choices:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._choice(choice)

    def _choice(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise self.caller.error(InvalidResponse, "a stream delta is not an object")
        content = delta.get("content")
        self.add_text(content if isinstance(content, str) else "")
        if delta.get("reasoning_content") or delta.get("reasoning"):
            self.active = True
        if isinstance(delta.get("refusal"), str):
            self.refusal.append(delta["refusal"])
        reason = choice.get("finish_reason")
        if reason:
            self._finished(str(reason))

    def _finished(self, reason: str) -> None:
        _check_refusal("".join(self.refusal) or None, self.caller)
        if reason == "error":
            raise self.caller.error(
                InvalidResponse,
                "the provider ended the stream with finish_reason error",
            )
        self.answer.finish_reason = _finish(reason, self.caller)
        self.complete = True
        self.active = True


def _messages(request: ChatRequest, system: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": m.role, "content": m.content} for m in request.messages]
    return messages


def _first_choice(body: Any, caller: Caller) -> dict[str, Any]:
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices:
        raise caller.error(InvalidResponse, "the response has no choices")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise caller.error(InvalidResponse, "the first choice is not an object")
    return choice


def _finish(reason: str, caller: Caller) -> FinishReason:
    if reason == "content_filter":
        raise caller.error(
            ContentFiltered, "the provider's content filter stopped the answer"
        )
    return _FINISH.get(reason, "other")


def _check_refusal(refusal: object, caller: Caller) -> None:
    if isinstance(refusal, str) and refusal:
        raise caller.error(ContentFiltered, f"the model refused: {refusal[:200]}")


def _usage(raw: object) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    return Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
    )
