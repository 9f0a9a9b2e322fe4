"""The HTTP exchange every adapter shares: send, read under deadlines, map failures.

A protocol module subclasses `HTTPAdapter` and supplies only translation: the
wire request, a stream parser, a whole-body parser and its error mapping.
Everything about time lives here:

- connect: httpx2's connect timeout;
- first token: from sending the request until the parser sees the model
  produce something (keep-alive comments and empty role chunks do not count);
- stall: after that, no bytes for `stall_s`;
- total: the caller's cancel scope above us, never caught here.

Without streaming (`stream = false`) a provider sends nothing until the whole
answer is ready, so the first-token limit bounds the whole generation.
"""

from __future__ import annotations

import functools
import json
import logging
import ssl
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2

from mcp_bridge import __version__
from mcp_bridge.canonical import ChatRequest, ChatResponse, FinishReason, Usage
from mcp_bridge.config import ProviderConfig
from mcp_bridge.errors import (
    ConnectionFailed,
    InvalidResponse,
    ProviderError,
    ProviderTimeout,
)
from mcp_bridge.protocols._base import AttemptTimeouts, ChunkCallback, ProtocolAdapter
from mcp_bridge.protocols._errors import Caller, classify, error_facts
from mcp_bridge.protocols._pool import proxy_variables, send_streamed
from mcp_bridge.protocols._sse import SSEDecoder, SSEEvent
from mcp_bridge.protocols._structured import load_json, validate
from mcp_bridge.protocols.schema import drop_optional_nulls, unwrap

__all__ = ["Answer", "HTTPAdapter", "Structured", "StreamParser", "WireRequest"]

logger = logging.getLogger(__name__)

_ERROR_BODY_LIMIT = 64_000
_CLOSE_GRACE_S = 1.0
_DRAIN_S = 0.05
_DRAIN_BYTES = 64 * 1024
_STALL_SLACK_S = 0.25
USER_AGENT = f"multibridge-mcp/{__version__}"


@dataclass
class Answer:
    """What a provider said, before timing and schema checks are added."""

    text: str = ""
    finish_reason: FinishReason = "stop"
    usage: Usage = field(default_factory=Usage)
    model: str = ""


@dataclass(frozen=True)
class Structured:
    """How a schema was requested: the caller's schema and whether it was wrapped."""

    schema: dict[str, Any]
    wrapped: bool = False
    nullable_optionals: bool = False
    """Strict mode made optional properties nullable; drop their nulls."""


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One HTTP request in a provider's dialect."""

    url: str
    body: dict[str, Any]
    headers: dict[str, str]
    stream: bool
    structured: Structured | None = None


class StreamParser:
    """Collects one protocol's stream events into an `Answer`.

    Subclasses set `complete` when the provider signalled completion, `ended`
    when no further event can matter, and `active` once the model produced
    anything (text, reasoning or tool arguments).
    """

    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        self.parts: list[str] = []
        self.chars = 0
        self.active = False
        self.complete = False
        self.ended = False
        self.answer = Answer()

    @abstractmethod
    def feed(self, event: SSEEvent) -> None:
        """Take one event; raise a `ProviderError` for an error or refusal."""

    def add_text(self, text: str) -> None:
        """Append answer text."""
        if text:
            self.parts.append(text)
            self.chars += len(text)
            self.active = True

    def json_of(self, event: SSEEvent) -> Any:
        """The event's data as JSON, or `InvalidResponse` for a malformed chunk."""
        try:
            return json.loads(event.data)
        except json.JSONDecodeError as exc:
            raise self.caller.error(
                InvalidResponse,
                f"malformed stream chunk ({exc.msg}): {event.data[:200]}",
            ) from exc

    def result(self) -> Answer:
        """The whole answer, or `InvalidResponse` when completion never came."""
        if not self.complete:
            raise self.caller.error(
                InvalidResponse,
                f"the stream ended without its completion signal after "
                f"{self.chars} characters; the answer is incomplete",
            )
        self.answer.text = "".join(self.parts)
        return self.answer


class _Clock:
    """The first-token deadline, then the stall limit, for one attempt."""

    __slots__ = ("first_token_at", "slack", "started", "timeouts", "ttft")

    def __init__(self, timeouts: AttemptTimeouts) -> None:
        self.timeouts = timeouts
        self.started = anyio.current_time()
        self.first_token_at = self.started + timeouts.first_token_s
        self.ttft: float | None = None
        # Moving a deadline re-arms a timer; with this slack a stream re-arms
        # it a few times a second instead of once per chunk, and the stall
        # still never fires early (at most `slack` late).
        self.slack = min(timeouts.stall_s / 20, _STALL_SLACK_S)

    def mark_active(self, now: float) -> None:
        if self.ttft is None:
            self.ttft = now - self.started

    def deadline(self, current: float, now: float) -> float:
        """The deadline for the next read, given the one now set (`current`)."""
        if self.ttft is None:
            return self.first_token_at
        due = now + self.timeouts.stall_s
        return current if current >= due else due + self.slack

    def timeout_message(self) -> str:
        if self.ttft is None:
            return (
                f"no first token within {self.timeouts.first_token_s:g} s "
                "(raise timeouts.first_token_s or the provider's "
                "first_token_timeout_s)"
            )
        return (
            f"the stream stalled: no data for {self.timeouts.stall_s:g} s "
            "(raise timeouts.stall_s or the provider's stall_timeout_s)"
        )


class HTTPAdapter(ProtocolAdapter):
    """A `ProtocolAdapter` over HTTP; subclasses only translate."""

    @abstractmethod
    def wire_request(self, request: ChatRequest) -> WireRequest:
        """The provider's request for `request`."""

    @abstractmethod
    def stream_parser(self, caller: Caller) -> StreamParser:
        """A fresh parser for one streamed answer."""

    @abstractmethod
    def parse_body(self, body: Any, caller: Caller) -> Answer:
        """The answer in a whole (non-streamed) JSON body."""

    def map_error(
        self,
        caller: Caller,
        status: int | None,
        body: str | Mapping[str, Any] | list[Any],
        headers: Mapping[str, str],
    ) -> ProviderError:
        """The `ProviderError` for a failed status or an in-stream error.

        `error_facts` reads every vendor's error shape (and stranger ones such
        as FastAPI's {"detail": ...} or plain text), so one mapping serves all.
        """
        return classify(caller, status, error_facts(body), headers)

    @abstractmethod
    def probe_url(self) -> str:
        """A cheap authenticated GET (the models list)."""

    @abstractmethod
    def auth_headers(self) -> dict[str, str]:
        """Headers that carry the key (none when there is no key)."""

    def base_url(self) -> str:
        """The configured base URL without a trailing slash."""
        return self.provider.base_url.rstrip("/")

    def headers(self, *, stream: bool = False) -> dict[str, str]:
        """Every header for a request: defaults, key, then the provider's own."""
        accept = "text/event-stream" if stream else "application/json"
        return {
            "content-type": "application/json",
            "accept": accept,
            "user-agent": USER_AGENT,
            **self.auth_headers(),
            **self.provider.headers,
        }

    def caller(self) -> Caller:
        """Attribution for every error raised during this attempt."""
        return Caller(
            provider=self.provider.name,
            model=self.provider.model,
            secret=self.provider.secret(),
            key_env=self.provider.api_key_env,
        )

    async def send(
        self,
        request: ChatRequest,
        timeouts: AttemptTimeouts,
        on_chunk: ChunkCallback | None = None,
    ) -> ChatResponse:
        """Send one request and return the whole, validated answer."""
        caller = self.caller()
        started = time.monotonic()
        try:
            response = await self._attempt(request, timeouts, on_chunk, caller)
        except ProviderError as exc:
            logger.info(
                "provider=%s model=%s outcome=%s status=%s latency_ms=%.0f",
                caller.provider,
                caller.model,
                exc.kind,
                exc.status,
                (time.monotonic() - started) * 1000,
            )
            raise
        logger.info(
            "provider=%s model=%s outcome=ok latency_ms=%.0f in=%d out=%d",
            caller.provider,
            caller.model,
            response.latency_ms,
            response.usage.input_tokens,
            response.usage.output_tokens,
        )
        return response

    async def _attempt(
        self,
        request: ChatRequest,
        timeouts: AttemptTimeouts,
        on_chunk: ChunkCallback | None,
        caller: Caller,
    ) -> ChatResponse:
        try:
            wire = self.wire_request(request)
            clock = _Clock(_with_overrides(timeouts, self.provider))
            answer = await self._exchange(wire, clock, on_chunk, caller)
            return self._finish(answer, wire.structured, clock, caller)
        except ProviderError:
            raise
        except httpx2.HTTPError as exc:
            raise _transport_error(exc, caller, timeouts) from exc
        except Exception as exc:
            # The contract is that nothing but ProviderError leaves an adapter.
            logger.debug("unexpected failure in %s", caller.provider, exc_info=True)
            raise caller.error(
                InvalidResponse, f"unexpected {type(exc).__name__}: {exc}"
            ) from exc

    async def _exchange(
        self,
        wire: WireRequest,
        clock: _Clock,
        on_chunk: ChunkCallback | None,
        caller: Caller,
    ) -> Answer:
        http_request = self.client.build_request(
            "POST",
            _parsed_url(wire.url),
            json=wire.body,
            headers=wire.headers,
            timeout=_http_timeout(clock.timeouts.connect_s),
        )
        response = await self._open(http_request, clock, caller)
        try:
            return await self._read(response, wire, clock, on_chunk, caller)
        finally:
            await _close(response)

    async def _open(
        self, http_request: httpx2.Request, clock: _Clock, caller: Caller
    ) -> httpx2.Response:
        with anyio.CancelScope(deadline=clock.deadline(0.0, anyio.current_time())):
            return await send_streamed(self.client, http_request)
        raise caller.error(ProviderTimeout, clock.timeout_message())

    async def _read(
        self,
        response: httpx2.Response,
        wire: WireRequest,
        clock: _Clock,
        on_chunk: ChunkCallback | None,
        caller: Caller,
    ) -> Answer:
        chunks = _body(response)
        if response.status_code >= 300:
            body = await _read_all(chunks, clock, caller, limit=_ERROR_BODY_LIMIT)
            text = body.decode("utf-8", errors="replace")
            raise self.map_error(caller, response.status_code, text, response.headers)
        if wire.stream and not _is_json(response):
            parser = self.stream_parser(caller)
            return await _read_stream(chunks, parser, clock, on_chunk)
        body = await _read_all(chunks, clock, caller)
        answer = self.parse_body(_json_body(body, caller), caller)
        if on_chunk is not None and answer.text:
            report = on_chunk(len(answer.text))
            if report is not None:
                await report
        return answer

    def _finish(
        self,
        answer: Answer,
        structured: Structured | None,
        clock: _Clock,
        caller: Caller,
    ) -> ChatResponse:
        data = None
        text = answer.text
        if structured is not None:
            data = _structured_value(answer, structured, caller)
            if structured.wrapped:
                text = json.dumps(data, ensure_ascii=False)
        elapsed = anyio.current_time() - clock.started
        return ChatResponse(
            text=text,
            data=data,
            finish_reason=answer.finish_reason,
            usage=answer.usage,
            model=answer.model or self.provider.model,
            latency_ms=elapsed * 1000,
            ttft_ms=None if clock.ttft is None else clock.ttft * 1000,
        )

    async def probe(self, timeout_s: float) -> None:
        """Check reachability and credentials with a GET of the models list."""
        caller = self.caller()
        try:
            with anyio.fail_after(timeout_s):
                response = await self.client.get(
                    self.probe_url(),
                    headers=self.headers(),
                    timeout=_http_timeout(timeout_s),
                )
        except TimeoutError as exc:
            message = f"the models list did not answer within {timeout_s:g} s"
            raise caller.error(ProviderTimeout, message) from exc
        except httpx2.HTTPError as exc:
            timeouts = AttemptTimeouts(timeout_s, timeout_s, timeout_s)
            raise _transport_error(exc, caller, timeouts) from exc
        if response.status_code >= 300:
            body = response.text[:_ERROR_BODY_LIMIT]
            raise self.map_error(caller, response.status_code, body, response.headers)


def _with_overrides(
    timeouts: AttemptTimeouts, provider: ProviderConfig
) -> AttemptTimeouts:
    """The provider's own limits where it sets them (idempotent if applied twice)."""
    return AttemptTimeouts(
        connect_s=provider.connect_timeout_s or timeouts.connect_s,
        first_token_s=provider.first_token_timeout_s or timeouts.first_token_s,
        stall_s=provider.stall_timeout_s or timeouts.stall_s,
    )


@functools.lru_cache(maxsize=256)
def _http_timeout(connect_s: float) -> httpx2.Timeout:
    # Reads are bounded by our own first-token and stall deadlines instead.
    return httpx2.Timeout(None, connect=connect_s, pool=connect_s)


@functools.lru_cache(maxsize=256)
def _parsed_url(url: str) -> httpx2.URL:
    """A provider endpoint, parsed once: parsing cost more than building the
    rest of the request. A configuration names a handful of endpoints."""
    return httpx2.URL(url)


async def _close(response: httpx2.Response) -> None:
    # Closing must happen even while a cancellation unwinds us, but briefly.
    with anyio.CancelScope(shield=True) as scope:
        scope.deadline = anyio.current_time() + _CLOSE_GRACE_S
        await response.aclose()


def _body(response: httpx2.Response) -> AsyncIterator[bytes]:
    """The body's bytes, decoded only when compressed (a layer less per chunk)."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity") and not response.is_stream_consumed:
        return response.aiter_raw()
    return response.aiter_bytes()


def _is_json(response: httpx2.Response) -> bool:
    return "json" in response.headers.get("content-type", "").lower()


async def _next_chunk(chunks: AsyncIterator[bytes]) -> bytes | None:
    """The next chunk of the body, None at its end."""
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return None


async def _read_stream(
    chunks: AsyncIterator[bytes],
    parser: StreamParser,
    clock: _Clock,
    on_chunk: ChunkCallback | None,
) -> Answer:
    decoder = SSEDecoder()
    reported = 0
    trailing = 0
    # One scope for the whole stream; its deadline moves as data arrives (a
    # fresh scope per chunk costs more than the parsing it guards).
    with anyio.CancelScope() as limit:
        limit.deadline = clock.deadline(0.0, anyio.current_time())
        while (chunk := await _next_chunk(chunks)) is not None:
            if parser.ended:
                # Read the little that follows the last event (the chunked
                # terminator, usually buffered already): a response closed
                # before its end loses its connection, and reconnecting costs
                # milliseconds on the next call.
                trailing += len(chunk)
                if trailing > _DRAIN_BYTES:
                    break
                continue
            for event in decoder.feed(chunk):
                parser.feed(event)
                if parser.ended:
                    break
            now = anyio.current_time()
            if parser.active:
                clock.mark_active(now)
            if parser.ended:
                _move(limit, min(limit.deadline, now + _DRAIN_S))
            else:
                _move(limit, clock.deadline(limit.deadline, now))
            if on_chunk is not None and parser.chars > reported:
                reported = parser.chars
                report = on_chunk(reported)
                if report is not None:
                    await report
        else:
            for event in decoder.close():
                if not parser.ended:
                    parser.feed(event)
            if parser.active:
                clock.mark_active(anyio.current_time())
    if limit.cancelled_caught and not parser.ended and not parser.complete:
        raise parser.caller.error(ProviderTimeout, clock.timeout_message())
    # A complete answer whose trailing usage chunk was late still stands.
    return parser.result()


def _move(scope: anyio.CancelScope, deadline: float) -> None:
    # Setting a deadline re-arms the scope's timer even when it is unchanged.
    if deadline != scope.deadline:
        scope.deadline = deadline


async def _read_all(
    chunks: AsyncIterator[bytes],
    clock: _Clock,
    caller: Caller,
    limit: int | None = None,
) -> bytes:
    body = bytearray()
    with anyio.CancelScope() as scope:
        scope.deadline = clock.deadline(0.0, anyio.current_time())
        while limit is None or len(body) < limit:
            chunk = await _next_chunk(chunks)
            if chunk is None:
                break
            body += chunk
            now = anyio.current_time()
            clock.mark_active(now)
            _move(scope, clock.deadline(scope.deadline, now))
    if scope.cancelled_caught:
        raise caller.error(ProviderTimeout, clock.timeout_message())
    return bytes(body)


def _json_body(body: bytes, caller: Caller) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        excerpt = body[:200].decode("utf-8", errors="replace") or "(empty body)"
        raise caller.error(
            InvalidResponse, f"the response body is not JSON: {excerpt}", status=200
        ) from exc


def _structured_value(answer: Answer, structured: Structured, caller: Caller) -> Any:
    try:
        value = load_json(answer.text, caller)
    except InvalidResponse as exc:
        if answer.finish_reason == "length":
            raise caller.error(
                InvalidResponse,
                "the output-token limit cut the JSON answer short; raise max_tokens "
                "or the provider's max_output_tokens",
            ) from exc
        exc.answer = answer.text
        raise
    if structured.wrapped:
        value = unwrap(value)
    if structured.nullable_optionals:
        value = drop_optional_nulls(value, structured.schema)
    try:
        validate(value, structured.schema, caller)
    except InvalidResponse as exc:
        exc.answer = answer.text
        raise
    return value


def _transport_error(
    exc: httpx2.HTTPError, caller: Caller, timeouts: AttemptTimeouts
) -> ProviderError:
    """The one place transport failures become `ProviderError`s."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx2.ProxyError):
        return caller.error(
            ConnectionFailed,
            f"the proxy refused the request ({detail}); check "
            f"{_or(proxy_variables()) or 'the proxy variables'}, or list the "
            "provider's host in NO_PROXY",
        )
    check = _check_connection()
    if isinstance(exc, httpx2.ConnectTimeout | httpx2.PoolTimeout):
        return caller.error(
            ProviderTimeout,
            f"could not connect within {timeouts.connect_s:g} s ({detail}); "
            f"{check} or raise timeouts.connect_s",
        )
    if isinstance(exc, httpx2.TimeoutException):
        return caller.error(ProviderTimeout, f"HTTP timeout: {detail}")
    if isinstance(exc, httpx2.DecodingError):
        return caller.error(InvalidResponse, f"the body could not be decoded: {detail}")
    if isinstance(exc, httpx2.ConnectError) and _untrusted_certificate(exc):
        return caller.error(
            ConnectionFailed,
            f"the TLS certificate at base_url is not trusted ({detail}); for a "
            "private CA set SSL_CERT_FILE to a bundle holding it, else check base_url",
        )
    if isinstance(exc, httpx2.ConnectError):
        return caller.error(ConnectionFailed, f"could not connect: {detail}; {check}")
    return caller.error(ConnectionFailed, f"{type(exc).__name__}: {detail}")


def _check_connection() -> str:
    """What to check when a connection fails: base_url, and the proxy if one is set."""
    names = proxy_variables()
    if not names:
        return "check base_url"
    return f"check base_url and the proxy in {_or(names)} (NO_PROXY hosts skip it)"


def _or(names: list[str]) -> str:
    return " or ".join(names)


def _untrusted_certificate(exc: BaseException) -> bool:
    """Whether a certificate check, not the network, refused the connection."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
