"""Turning whatever a provider said "no" with into one `ProviderError`.

Every protocol module funnels HTTP statuses, error bodies (documented or not)
and in-stream error events through `classify`. Bodies are read for three
things: the vendor's error type/code/status words, its human message, and any
hint of when to retry. Shapes accepted, whichever protocol is being spoken:

    {"error": {"message", "type", "code", "status", "details"}}   OpenAI, Gemini
    {"type": "error", "error": {"type", "message"}}               Anthropic
    [{"error": {...}}]                                            Gemini (streams)
    {"error": "text"}, {"message": ...}, {"detail": ...}          llama.cpp, FastAPI
    plain text or HTML                                            proxies, crashes
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp_bridge.errors import (
    AuthFailed,
    BadRequest,
    ContentFiltered,
    ContextTooLong,
    InvalidResponse,
    ModelNotFound,
    Overloaded,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    ServerError,
    redact,
)

__all__ = [
    "ErrorFacts",
    "Caller",
    "classify",
    "error_facts",
    "parse_duration",
    "retry_after",
]

_EXCERPT_CHARS = 300

# Vendor error words that imply an HTTP status, for errors that arrive inside
# a 200 stream or with a status that says less than the body does.
_IMPLIED_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "invalid_argument": 400,
    "failed_precondition": 400,
    "authentication_error": 401,
    "unauthenticated": 401,
    "invalid_api_key": 401,
    "permission_error": 403,
    "permission_denied": 403,
    "not_found_error": 404,
    "not_found": 404,
    "model_not_found": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "resource_exhausted": 429,
    "api_error": 500,
    "server_error": 500,
    "internal": 500,
    "internal_error": 500,
    "unavailable": 503,
    "deadline_exceeded": 504,
    "overloaded_error": 529,
}

_QUOTA = re.compile(
    r"insufficient_quota|credit balance|insufficient (?:credits|balance|funds)"
    r"|billing_hard_limit|payment required",
    re.IGNORECASE,
)
_CONTEXT = re.compile(
    r"context_length_exceeded|prompt is too long|maximum context length"
    r"|input token count.{0,80}exceeds|context (?:length|window)"
    r"|too many (?:input )?tokens|reduce the length of the messages"
    r"|exceeds? the available context size|exceed_context_size",
    re.IGNORECASE,
)
_FILTER = re.compile(
    r"content_policy|content management policy|content_filter|safety system"
    r"|flagged|moderation|prohibited_content|blocked due to safety",
    re.IGNORECASE,
)
_AUTH = re.compile(r"api key not valid|api_key_invalid|invalid api key", re.IGNORECASE)
_MODEL = re.compile(
    r"model_not_found|model .{0,80}(?:does not exist|not found|is not supported)"
    r"|no such model|unknown model",
    re.IGNORECASE,
)
_RETRY_HINT = re.compile(
    r"(?:retry|try again)(?: after| in)?\s+"
    r"((?:\d+(?:\.\d+)?\s*(?:ms|h|m|s|seconds?|secs?)\s*)+)",
    re.IGNORECASE,
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|h|m(?!s)|s(?:ec(?:ond)?s?)?)")
_UNIT_SECONDS = {"ms": 0.001, "h": 3600.0, "m": 60.0}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who was being called, so every error names the provider and model."""

    provider: str
    model: str
    secret: str | None = None
    key_env: str | None = None

    def error(
        self,
        cls: type[ProviderError],
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> ProviderError:
        """Build `cls` for this provider with the key removed from `message`."""
        text = redact(message, [self.secret] if self.secret else [])
        return cls(
            text,
            provider=self.provider,
            model=self.model,
            status=status,
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class ErrorFacts:
    """What an error body says, reduced to words, a message and a retry hint."""

    words: frozenset[str] = frozenset()
    message: str = ""
    retry_delay: float | None = None
    implied_status: int | None = None


def error_facts(body: str | Mapping[str, Any] | list[Any]) -> ErrorFacts:
    """Read an error body of any known (or unknown) shape."""
    parsed: Any = body
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            return _text_facts(body)
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    if not isinstance(parsed, Mapping):
        return _text_facts(body if isinstance(body, str) else json.dumps(body))
    return _mapping_facts(parsed, body if isinstance(body, str) else "")


def _text_facts(text: str) -> ErrorFacts:
    flat = re.sub(r"<[^>]+>", " ", text)
    flat = " ".join(flat.split())
    return ErrorFacts(message=flat)


def _mapping_facts(body: Mapping[str, Any], raw: str) -> ErrorFacts:
    inner: Any = body.get("error", body)
    if isinstance(inner, str):
        inner = {"message": inner}
    if not isinstance(inner, Mapping):
        inner = {}
    words = {
        str(inner[key]).lower()
        for key in ("type", "code", "status", "reason")
        if isinstance(inner.get(key), str)
    }
    details = inner.get("details")
    details = details if isinstance(details, list) else []
    words |= _detail_words(details)
    message = _message_of(inner) or _message_of(body) or raw
    code = inner.get("code")
    implied = code if isinstance(code, int) and 100 <= code < 600 else None
    implied = implied or next(
        (_IMPLIED_STATUS[w] for w in sorted(words) if w in _IMPLIED_STATUS), None
    )
    return ErrorFacts(
        words=frozenset(words),
        message=" ".join(message.split()),
        retry_delay=_retry_info(details),
        implied_status=implied,
    )


def _message_of(obj: Mapping[str, Any]) -> str:
    for key in ("message", "detail", "error_message", "msg"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list | dict) and value:
            # FastAPI validation errors: a list of {"loc", "msg", "type"}.
            return json.dumps(value)[:_EXCERPT_CHARS]
    return ""


def _detail_words(details: list[Any]) -> set[str]:
    return {
        str(item["reason"]).lower()
        for item in details
        if isinstance(item, Mapping) and isinstance(item.get("reason"), str)
    }


def _retry_info(details: list[Any]) -> float | None:
    """Gemini's google.rpc.RetryInfo detail: {"retryDelay": "7s"}."""
    for item in details:
        if isinstance(item, Mapping) and isinstance(item.get("retryDelay"), str):
            return parse_duration(item["retryDelay"])
    return None


def parse_duration(text: str) -> float | None:
    """Seconds in "7s", "2.5 seconds", "120ms", "1m30s" or "1h"; None if none."""
    parts = _DURATION_PART.findall(text)
    if not parts:
        return None
    total = 0.0
    for number, unit in parts:
        total += float(number) * _UNIT_SECONDS.get(unit.lower(), 1.0)
    return total


def retry_after(
    headers: Mapping[str, str], facts: ErrorFacts, now: float | None = None
) -> float | None:
    """Seconds to wait, from retry-after-ms, Retry-After or a hint in the body."""
    lowered = {key.lower(): value for key, value in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    if "retry-after" in lowered:
        seconds = _retry_after_header(lowered["retry-after"], now)
        if seconds is not None:
            return seconds
    if facts.retry_delay is not None:
        return facts.retry_delay
    match = _RETRY_HINT.search(facts.message)
    return parse_duration(match.group(1)) if match else None


def _retry_after_header(value: str, now: float | None) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def classify(
    caller: Caller,
    status: int | None,
    facts: ErrorFacts,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """Map one failure (HTTP status plus what the body said) to the error tree."""
    effective = status if status is not None and status >= 400 else None
    effective = effective or facts.implied_status
    cls = _error_class(effective, facts)
    excerpt = facts.message[:_EXCERPT_CHARS] or "(empty body)"
    delay = retry_after(headers or {}, facts) if cls is RateLimited else None
    hint = _hint(cls, caller)
    message = f"{excerpt} ({hint})" if hint else excerpt
    return caller.error(cls, message, status=effective, retry_after=delay)


def _error_class(status: int | None, facts: ErrorFacts) -> type[ProviderError]:
    text = " ".join([*sorted(facts.words), facts.message])
    if status == 402 or _QUOTA.search(text):
        return QuotaExhausted
    if status is None:
        return InvalidResponse
    if status == 429:
        return RateLimited
    if status == 529 or "overloaded_error" in facts.words:
        return Overloaded
    if status >= 500:
        return Overloaded if "overload" in text.lower() else ServerError
    if status < 400:
        return InvalidResponse
    return _client_error_class(status, facts, text)


def _client_error_class(
    status: int, facts: ErrorFacts, text: str
) -> type[ProviderError]:
    if _CONTEXT.search(text) or status == 413:
        return ContextTooLong
    if _FILTER.search(text):
        return ContentFiltered
    if status in (401, 403) or _AUTH.search(text):
        return AuthFailed
    if status == 404 or _MODEL.search(text):
        return ModelNotFound
    return BadRequest


_HINTS: dict[type[ProviderError], str] = {
    QuotaExhausted: "add credit or raise the quota at the provider",
    ModelNotFound: "check the provider's `model` in the configuration",
    ContextTooLong: "shorten the prompt or pick a provider with a larger window",
    RateLimited: "slow down or wait for the provider's limit to reset",
}


def _hint(cls: type[ProviderError], caller: Caller) -> str:
    """What the user can do about `cls`, naming the setting to change."""
    if cls is AuthFailed:
        where = caller.key_env or "the provider's api_key"
        return f"check {where} for provider {caller.provider}"
    return _HINTS.get(cls, "")
