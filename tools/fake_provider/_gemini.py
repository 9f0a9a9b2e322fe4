"""Google Gemini generateContent / streamGenerateContent as the fake speaks it."""

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
from tools.fake_provider._wire import ErrorSpec, Wire, new_id, retry_headers

__all__ = ["GeminiWire", "gemini_model_and_method"]

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}
_PREFIX = "/v1beta/models/"
_SAFETY = [
    {
        "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
        "probability": "HIGH",
        "blocked": True,
    }
]


def gemini_model_and_method(path: str) -> tuple[str, str] | None:
    """Split /v1beta/models/{model}:{method}; model names may hold ':' and '+'."""
    if not path.startswith(_PREFIX) or ":" not in path:
        return None
    model, _, method = path[len(_PREFIX) :].rpartition(":")
    return model, method


class GeminiWire(Wire):
    """POST /v1beta/models/{model}:(stream)generateContent and GET /v1beta/models."""

    name = "gemini"
    errors: ClassVar[dict[str, ErrorSpec]] = {
        "rate_limit": (429, "RESOURCE_EXHAUSTED", "Resource exhausted; check quota."),
        "server_error": (500, "INTERNAL", "An internal error occurred; retry."),
        "unavailable": (503, "UNAVAILABLE", "The service is currently unavailable."),
        "overloaded": (
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        "overloaded_529": (529, "UNAVAILABLE", "The model is overloaded."),
        "auth": (
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        ),
        "forbidden": (403, "PERMISSION_DENIED", "Permission denied for {model}."),
        "quota": (
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota; check your plan and billing details.",
        ),
        "model_not_found": (
            404,
            "NOT_FOUND",
            "models/{model} is not found for API version v1beta, or is not "
            "supported for generateContent.",
        ),
        "context_length": (
            400,
            "INVALID_ARGUMENT",
            "The input token count ({tokens}) exceeds the maximum number of "
            "tokens allowed (1048576).",
        ),
        "bad_request": (400, "INVALID_ARGUMENT", "Invalid JSON payload received."),
        "content_filter_error": (
            400,
            "INVALID_ARGUMENT",
            "The request was blocked by safety settings.",
        ),
    }

    def parse(self, request: HttpRequest, body: Any) -> Ask:
        """Read contents and generationConfig (camelCase or snake_case keys)."""
        model, method = gemini_model_and_method(request.path) or ("", "")
        contents = body.get("contents") or []
        config = body.get("generationConfig") or body.get("generation_config") or {}
        schema = _pick(config, "responseJsonSchema", "responseSchema")
        mime = _pick(config, "responseMimeType")
        return Ask(
            protocol=self.name,
            model=model,
            stream=method == "streamGenerateContent",
            prompt=last_user_text(contents, "user"),
            input_tokens=count_tokens([body.get("systemInstruction"), contents]),
            max_tokens=_pick(config, "maxOutputTokens"),
            json_mode=mime == "application/json" or schema is not None,
            schema=schema,
            context=all_text(body.get("systemInstruction"), contents),
        )

    def whole(self, ask: Ask, answer: Answer) -> dict[str, Any]:
        """A GenerateContentResponse with one candidate."""
        candidate = _candidate(answer.text, answer.finish)
        return _response(ask, candidate, answer, True, new_id(""))

    def stream(self, ask: Ask, answer: Answer) -> StreamParts:
        """One GenerateContentResponse per piece; the last carries finishReason."""
        pieces = answer.pieces or [""]
        response_id = new_id("")
        body = [
            _data(_response(ask, _candidate(p, None), answer, False, response_id))
            for p in pieces[:-1]
        ]
        last = _candidate(pieces[-1], answer.finish)
        tail = [_data(_response(ask, last, answer, True, response_id))]
        return StreamParts(body=body, tail=tail)

    def malformed_event(self) -> bytes:
        """A chunk whose JSON stops half-way."""
        return b'data: {"candidates": [{"content": {"parts": [{"text": "oo\r\n\r\n'

    def error_event(self, ask: Ask) -> bytes:
        """An error object sent as a data line inside the stream."""
        return _data(self.error_body("server_error", 500, "INTERNAL", "Failed.", {}))

    def error_body(
        self, fault: str, status: int, kind: str, message: str, args: dict[str, Any]
    ) -> Any:
        """{"error": {"code", "message", "status", "details"}}."""
        error = {"code": status, "message": message, "status": kind}
        return {"error": {**error, "details": _details(fault, args)}}

    def extra_error_headers(self, fault: str, args: dict[str, Any]) -> dict[str, str]:
        """Google puts the delay in RetryInfo, not a header, unless `header` is set."""
        return retry_headers(args) if args.get("header") else {}

    def models(self, names: list[str]) -> dict[str, Any]:
        """{"models": [...]} with generation methods and token limits."""
        methods = ["generateContent", "countTokens", "streamGenerateContent"]
        models = [
            {
                "name": f"models/{name}",
                "version": "001",
                "displayName": name,
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 8192,
                "supportedGenerationMethods": methods,
            }
            for name in names
        ]
        return {"models": models}


def _pick(config: dict[str, Any], *names: str) -> Any:
    for name in names:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
        for key in (name, snake):
            if config.get(key) is not None:
                return config[key]
    return None


def _candidate(text: str, finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0}
    if finish == "content_filter":
        return {**candidate, "finishReason": "SAFETY", "safetyRatings": _SAFETY}
    candidate["content"] = {"parts": [{"text": text}], "role": "model"}
    if finish in _FINISH:
        candidate["finishReason"] = _FINISH[finish]
    return candidate


def _response(
    ask: Ask, candidate: dict[str, Any], answer: Answer, final: bool, rid: str
) -> dict[str, Any]:
    usage = {"promptTokenCount": answer.input_tokens}
    if final:
        usage["candidatesTokenCount"] = answer.output_tokens
        usage["totalTokenCount"] = answer.input_tokens + answer.output_tokens
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": ask.model,
        "responseId": rid,
    }


def _details(fault: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    google = "type.googleapis.com/google.rpc."
    details: list[dict[str, Any]] = []
    if fault in ("rate_limit", "quota"):
        violation = {"quotaMetric": "generativelanguage.googleapis.com/requests"}
        details.append({"@type": google + "QuotaFailure", "violations": [violation]})
    if fault == "rate_limit" and args.get("retry_after") is not None:
        delay = f"{args['retry_after']}s"
        details.append({"@type": google + "RetryInfo", "retryDelay": delay})
    if fault == "auth":
        info = {"reason": "API_KEY_INVALID", "domain": "googleapis.com"}
        details.append({"@type": google + "ErrorInfo", **info})
    return details


def _data(event: Any) -> bytes:
    # Google frames its server-sent events with CRLF line ends.
    return f"data: {json.dumps(event, ensure_ascii=False)}\r\n\r\n".encode()
