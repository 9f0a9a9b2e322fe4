"""The contract of one vendor's wire format inside the fake, and shared helpers."""

from __future__ import annotations

import json
import random
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from tools.fake_provider._answers import Answer, Ask, ErrorReply, StreamParts
from tools.fake_provider._http import HttpRequest

__all__ = ["ErrorSpec", "Wire", "compact", "new_id", "retry_headers"]

ErrorSpec = tuple[int, str, str]
"""(HTTP status, vendor error type, message template with {model} and {tokens})."""


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
"""Built once: `json.dumps` with options builds an encoder per call, and a
streamed answer encodes a dozen events."""


def compact(value: Any) -> str:
    """JSON without spaces, as OpenAI and Anthropic put it on the wire."""
    return _COMPACT.encode(value)


def new_id(prefix: str) -> str:
    """A fresh vendor-looking identifier (random, not secret: no system call)."""
    return f"{prefix}{random.getrandbits(96):024x}"


def retry_headers(args: dict[str, Any]) -> dict[str, str]:
    """Retry-After (seconds) and retry-after-ms headers from fault arguments."""
    headers: dict[str, str] = {}
    if args.get("retry_after") is not None:
        headers["retry-after"] = str(args["retry_after"])
    if args.get("retry_after_ms") is not None:
        headers["retry-after-ms"] = str(args["retry_after_ms"])
    return headers


class Wire(ABC):
    """Parses one vendor's requests and writes its bodies, streams and errors."""

    name: ClassVar[str]
    errors: ClassVar[dict[str, ErrorSpec]]

    @abstractmethod
    def parse(self, request: HttpRequest, body: Any) -> Ask:
        """Read model, prompt, limits and the structured-output request."""

    @abstractmethod
    def whole(self, ask: Ask, answer: Answer) -> dict[str, Any]:
        """The non-streamed response body."""

    @abstractmethod
    def stream(self, ask: Ask, answer: Answer) -> StreamParts:
        """The streamed response, framed as server-sent events."""

    @abstractmethod
    def malformed_event(self) -> bytes:
        """One event whose data is not valid JSON."""

    @abstractmethod
    def error_event(self, ask: Ask) -> bytes:
        """An error reported inside a stream that had started well."""

    @abstractmethod
    def error_body(
        self, fault: str, status: int, kind: str, message: str, args: dict[str, Any]
    ) -> Any:
        """The vendor's error body for one error kind."""

    @abstractmethod
    def models(self, names: list[str]) -> dict[str, Any]:
        """The models-list body."""

    def response_headers(self) -> dict[str, str]:
        """Headers a vendor adds to every answer (request ids and the like)."""
        return {}

    def error(self, fault: str, ask: Ask, args: dict[str, Any]) -> ErrorReply:
        """The error response a fault stands for, in this vendor's shape."""
        spec = self.errors[fault]
        status = int(args.get("status", spec[0]))
        template = spec[2].format(model=ask.model, tokens=ask.input_tokens + 200_000)
        message = str(args.get("message", template))
        body = self.error_body(fault, status, spec[1], message, args)
        headers = {**self.response_headers(), **self.extra_error_headers(fault, args)}
        return ErrorReply(status, compact(body).encode(), headers)

    def extra_error_headers(self, fault: str, args: dict[str, Any]) -> dict[str, str]:
        """Retry headers on rate limits, by default."""
        return retry_headers(args) if fault == "rate_limit" else {}
