"""Google Gemini generateContent and streamGenerateContent.

Request: POST {base_url}/models/{model}:streamGenerateContent?alt=sse (or
:generateContent) with `x-goog-api-key`, `systemInstruction`, `contents`
with roles user/model, and a `generationConfig`. Structured output is
`responseMimeType: application/json` with a `responseSchema` rewritten into
Gemini's OpenAPI subset. Every stream event is a whole
GenerateContentResponse; a candidate with a `finishReason` completes it.
"""

from __future__ import annotations

import logging
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
from mcp_bridge.protocols.schema import UnsupportedSchema, for_gemini

__all__ = ["GeminiAdapter"]

logger = logging.getLogger(__name__)

_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY"}
)
_FINISH: dict[str, FinishReason] = {"STOP": "stop", "MAX_TOKENS": "length"}


class GeminiAdapter(HTTPAdapter):
    """Speaks the Gemini API (generativelanguage.googleapis.com/v1beta)."""

    def auth_headers(self) -> dict[str, str]:
        """`x-goog-api-key`, never the `key` query parameter (URLs get logged)."""
        key = self.provider.secret()
        return {"x-goog-api-key": key} if key else {}

    def probe_url(self) -> str:
        """GET {base_url}/models."""
        return f"{self.base_url()}/models"

    def wire_request(self, request: ChatRequest) -> WireRequest:
        """The generateContent body for `request`."""
        config: dict[str, Any] = {
            "maxOutputTokens": request.max_tokens or self.provider.max_output_tokens
        }
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.stop:
            config["stopSequences"] = list(request.stop)
        system, structured = self._structured(request, config)
        body: dict[str, Any] = {
            "contents": [
                {
                    "role": "model" if role == "assistant" else "user",
                    "parts": [{"text": text}],
                }
                for role, text in alternating(request.messages)
            ],
            "generationConfig": config,
        }
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        return WireRequest(
            url=self._url(),
            body=body,
            headers=self.headers(stream=self.provider.stream),
            stream=self.provider.stream,
            structured=structured,
        )

    def _url(self) -> str:
        model = self.provider.model.removeprefix("models/")
        if self.provider.stream:
            return f"{self.base_url()}/models/{model}:streamGenerateContent?alt=sse"
        return f"{self.base_url()}/models/{model}:generateContent"

    def _structured(
        self, request: ChatRequest, config: dict[str, Any]
    ) -> tuple[str | None, Structured | None]:
        """System text, and JSON settings added to `config`, for a schema request."""
        schema = request.json_schema
        if schema is None:
            return request.system, None
        config["responseMimeType"] = "application/json"
        if self.provider.structured_output == "prompt":
            return with_schema_instruction(request.system, schema), Structured(schema)
        try:
            response_schema, wrapped = for_gemini(schema)
        except UnsupportedSchema as exc:
            logger.debug("schema not expressible for Gemini (%s); asking in words", exc)
            return with_schema_instruction(request.system, schema), Structured(schema)
        config["responseSchema"] = response_schema
        return request.system, Structured(schema, wrapped=wrapped)

    def stream_parser(self, caller: Caller) -> StreamParser:
        """A parser for a stream of GenerateContentResponse events."""
        return _ResponseParser(caller, self)

    def parse_body(self, body: Any, caller: Caller) -> Answer:
        """The answer in a whole GenerateContentResponse."""
        parser = _ResponseParser(caller, self)
        parser.take(body)
        return parser.result()


class _ResponseParser(StreamParser):
    """Assembles GenerateContentResponse objects, streamed or whole."""

    def __init__(self, caller: Caller, adapter: GeminiAdapter) -> None:
        super().__init__(caller)
        self.adapter = adapter

    def feed(self, event: SSEEvent) -> None:
        """Take one event."""
        self.take(self.json_of(event))

    def take(self, payload: Any) -> None:
        """Take one GenerateContentResponse."""
        if isinstance(payload, list) and len(payload) == 1:
            payload = payload[0]
        if not isinstance(payload, dict):
            raise self.caller.error(InvalidResponse, "a response is not an object")
        if "error" in payload:
            raise self.adapter.map_error(self.caller, None, payload, {})
        _check_blocked(payload.get("promptFeedback"), self.caller)
        self.answer.model = str(payload.get("modelVersion") or self.answer.model)
        if isinstance(payload.get("usageMetadata"), dict):
            self.answer.usage = _usage(payload["usageMetadata"])
        candidates = payload.get("candidates") or []
        if not isinstance(candidates, list):
            raise self.caller.error(InvalidResponse, "candidates is not a list")
        if candidates and isinstance(candidates[0], dict):
            self._candidate(candidates[0])

    def _candidate(self, candidate: dict[str, Any]) -> None:
        parts = (candidate.get("content") or {}).get("parts") or []
        for part in parts:
            if not isinstance(part, dict):
                continue
            if part.get("thought"):
                self.active = True
            elif isinstance(part.get("text"), str):
                self.add_text(part["text"])
        reason = candidate.get("finishReason")
        if reason and reason != "FINISH_REASON_UNSPECIFIED":
            self._finished(str(reason))

    def _finished(self, reason: str) -> None:
        if reason in _FILTERED:
            raise self.caller.error(
                ContentFiltered, f"Gemini stopped the answer (finishReason {reason})"
            )
        self.answer.finish_reason = _FINISH.get(reason, "other")
        self.complete = self.active = True


def _check_blocked(feedback: object, caller: Caller) -> None:
    if isinstance(feedback, dict) and feedback.get("blockReason"):
        raise caller.error(
            ContentFiltered,
            f"Gemini blocked the prompt (blockReason {feedback['blockReason']})",
        )


def _usage(meta: Mapping[str, Any]) -> Usage:
    # Thinking tokens are billed as output, so they count as output here.
    output = int(meta.get("candidatesTokenCount") or 0)
    output += int(meta.get("thoughtsTokenCount") or 0)
    return Usage(
        input_tokens=int(meta.get("promptTokenCount") or 0), output_tokens=output
    )
