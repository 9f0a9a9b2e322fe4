"""Every way a provider says no, mapped to one error class per failure."""

from __future__ import annotations

import ssl
from typing import Any

import httpx2
import pytest

from mcp_bridge.errors import (
    AuthFailed,
    BadRequest,
    ConnectionFailed,
    ContentFiltered,
    ContextTooLong,
    InvalidResponse,
    ModelNotFound,
    Overloaded,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from mcp_bridge.protocols._errors import error_facts, parse_duration, retry_after
from tests.protocols.fakes import (
    KEYS,
    TIMEOUTS,
    Upstream,
    ask,
    clear_proxy_variables,
    json_upstream,
    provider,
)


def openai_error(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def gemini_error(code: int, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


OPENAI_CASES = [
    (
        401,
        openai_error(
            "Incorrect API key provided: sk-abc***.",
            "invalid_request_error",
            "invalid_api_key",
        ),
        AuthFailed,
    ),
    (
        429,
        openai_error(
            "Rate limit reached for gpt-4o. Please try again in 20s.",
            "requests",
            "rate_limit_exceeded",
        ),
        RateLimited,
    ),
    (
        429,
        openai_error(
            "You exceeded your current quota, "
            "please check your plan and billing details.",
            "insufficient_quota",
            "insufficient_quota",
        ),
        QuotaExhausted,
    ),
    (
        400,
        openai_error(
            "This model's maximum context length is 128000 tokens. "
            "However, your messages resulted in 130000 tokens.",
            "invalid_request_error",
            "context_length_exceeded",
        ),
        ContextTooLong,
    ),
    (
        404,
        openai_error(
            "The model `gpt-9` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        ),
        ModelNotFound,
    ),
    (
        400,
        openai_error(
            "Your request was rejected as a result of our safety system.",
            "invalid_request_error",
            "content_policy_violation",
        ),
        ContentFiltered,
    ),
    (
        400,
        openai_error("Invalid value for 'temperature'.", "invalid_request_error"),
        BadRequest,
    ),
    (
        500,
        openai_error(
            "The server had an error while processing your request.", "server_error"
        ),
        ServerError,
    ),
    (
        503,
        openai_error(
            "The engine is currently overloaded, please try again later.",
            "server_error",
        ),
        Overloaded,
    ),
    (
        402,
        {
            "error": {
                "message": "Insufficient credits. Add more using https://openrouter.ai/credits",
                "code": 402,
            }
        },
        QuotaExhausted,
    ),
    (
        402,
        {"error": {"message": "Insufficient Balance", "type": "unknown_error"}},
        QuotaExhausted,
    ),
    (
        422,
        {
            "detail": [
                {
                    "loc": ["body", "messages"],
                    "msg": "field required",
                    "type": "missing",
                }
            ]
        },
        BadRequest,
    ),
    (404, {"detail": "Not Found"}, ModelNotFound),
    (500, "Internal Server Error", ServerError),
    (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", ServerError),
    (
        400,
        {
            "error": {
                "code": 400,
                "message": "the request exceeds the available context size, "
                "try increasing it",
                "type": "exceed_context_size_error",
            }
        },
        ContextTooLong,
    ),
    (
        404,
        {"error": 'model "llama9" not found, try pulling it first'},
        ModelNotFound,
    ),
    (
        400,
        {
            "error": {
                "message": "Please reduce the length of the messages.",
                "code": 400,
            }
        },
        ContextTooLong,
    ),
]

ANTHROPIC_CASES = [
    (
        400,
        anthropic_error("invalid_request_error", "max_tokens: Field required"),
        BadRequest,
    ),
    (401, anthropic_error("authentication_error", "invalid x-api-key"), AuthFailed),
    (
        403,
        anthropic_error(
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        AuthFailed,
    ),
    (404, anthropic_error("not_found_error", "model: claude-9"), ModelNotFound),
    (
        413,
        anthropic_error(
            "request_too_large", "Request exceeds the maximum allowed number of bytes."
        ),
        ContextTooLong,
    ),
    (
        429,
        anthropic_error(
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
        ),
        RateLimited,
    ),
    (
        500,
        anthropic_error(
            "api_error",
            "An unexpected error has occurred internal to Anthropic's systems.",
        ),
        ServerError,
    ),
    (529, anthropic_error("overloaded_error", "Overloaded"), Overloaded),
    (
        400,
        anthropic_error(
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
        ),
        ContextTooLong,
    ),
    (
        400,
        anthropic_error(
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API.",
        ),
        QuotaExhausted,
    ),
    (429, openai_error("Rate limit exceeded", "rate_limit_error"), RateLimited),
]

GEMINI_CASES = [
    (
        400,
        gemini_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                }
            ],
        ),
        AuthFailed,
    ),
    (
        400,
        gemini_error(
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum "
            "number of tokens allowed (1048576).",
        ),
        ContextTooLong,
    ),
    (
        400,
        gemini_error(
            400,
            "FAILED_PRECONDITION",
            "User location is not supported for the API use.",
        ),
        BadRequest,
    ),
    (
        403,
        gemini_error(
            403, "PERMISSION_DENIED", "You do not have permission to access the model."
        ),
        AuthFailed,
    ),
    (
        404,
        gemini_error(
            404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta."
        ),
        ModelNotFound,
    ),
    (
        429,
        gemini_error(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, "
            "please check your plan and billing details.",
        ),
        RateLimited,
    ),
    (
        500,
        gemini_error(500, "INTERNAL", "An internal error has occurred."),
        ServerError,
    ),
    (
        503,
        gemini_error(
            503, "UNAVAILABLE", "The model is overloaded. Please try again later."
        ),
        Overloaded,
    ),
    (504, gemini_error(504, "DEADLINE_EXCEEDED", "Deadline exceeded"), ServerError),
    (
        400,
        [gemini_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")],
        BadRequest,
    ),
]


def _cases(protocol: str, cases: list[tuple[int, Any, type]]) -> list[Any]:
    return [
        pytest.param(protocol, *case, id=f"{protocol}-{i}-{case[2].__name__}")
        for i, case in enumerate(cases)
    ]


@pytest.mark.parametrize(
    ("protocol", "status", "body", "expected"),
    _cases("openai", OPENAI_CASES)
    + _cases("anthropic", ANTHROPIC_CASES)
    + _cases("gemini", GEMINI_CASES),
)
async def test_error_bodies_map_to_their_class(
    protocol: str, status: int, body: Any, expected: type[ProviderError]
) -> None:
    upstream = json_upstream(status, body)

    with pytest.raises(ProviderError) as caught:
        await upstream.adapter(provider(protocol)).send(ask(), TIMEOUTS)
    error = caught.value
    assert type(error) is expected
    assert (error.provider, error.model, error.status) == (
        f"{protocol}-fake",
        provider(protocol).model,
        status,
    )
    assert error.message


async def test_error_messages_quote_the_provider_but_never_the_key() -> None:
    key = KEYS["openai"]
    body = openai_error(f"Incorrect API key provided: {key}.", "invalid_request_error")
    upstream = json_upstream(401, body)

    with pytest.raises(AuthFailed) as caught:
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)
    text = str(caught.value)
    assert key not in text
    assert "Incorrect API key provided" in text
    assert "OPENAI_API_KEY" in text


async def test_a_custom_key_without_a_known_shape_is_still_removed() -> None:
    key = "local-secret-42"
    upstream = json_upstream(403, {"detail": f"token {key} is not allowed"})
    config = provider("openai", api_key=key)

    with pytest.raises(AuthFailed) as caught:
        await upstream.adapter(config).send(ask(), TIMEOUTS)
    assert key not in str(caught.value)


async def test_retry_after_seconds_header_is_parsed() -> None:
    upstream = json_upstream(
        429, openai_error("slow down", "requests"), **{"retry-after": "7"}
    )

    with pytest.raises(RateLimited) as caught:
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)
    assert caught.value.retry_after == 7.0


async def test_retry_after_ms_header_wins() -> None:
    headers = {"retry-after": "7", "retry-after-ms": "1500"}
    upstream = json_upstream(
        429, anthropic_error("rate_limit_error", "slow"), **headers
    )

    with pytest.raises(RateLimited) as caught:
        await upstream.adapter(provider("anthropic")).send(ask(), TIMEOUTS)
    assert caught.value.retry_after == 1.5


async def test_gemini_retry_info_gives_the_delay() -> None:
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
    ]
    body = gemini_error(429, "RESOURCE_EXHAUSTED", "quota exceeded", details=details)

    with pytest.raises(RateLimited) as caught:
        await json_upstream(429, body).adapter(provider("gemini")).send(ask(), TIMEOUTS)
    assert caught.value.retry_after == 7.0


async def test_a_rate_limit_without_any_hint_has_no_retry_after() -> None:
    upstream = json_upstream(429, "Too Many Requests")

    with pytest.raises(RateLimited) as caught:
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("headers", "message", "expected"),
    [
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}, "", 30.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:27:00 GMT"}, "", 0.0),
        ({}, "Please retry in 2.5s.", 2.5),
        ({}, "Rate limit reached. Please try again in 120ms.", 0.12),
        ({}, "Please try again in 6m0s.", 360.0),
        ({}, "Try again after 3 seconds", 3.0),
        ({"Retry-After": "soon"}, "", None),
    ],
)
def test_retry_after_sources(
    headers: dict[str, str], message: str, expected: float | None
) -> None:
    now = 1445412480.0  # 2015-10-21 07:28:00 UTC
    facts = error_facts({"error": {"message": message}})

    assert retry_after(headers, facts, now=now) == pytest.approx(expected)


def test_durations_in_every_common_spelling() -> None:
    assert [
        parse_duration(t) for t in ["7s", "0.5s", "1m30s", "2 seconds", "1h", "x"]
    ] == [
        7.0,
        0.5,
        90.0,
        2.0,
        3600.0,
        None,
    ]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx2.ConnectError("[Errno 111] Connection refused"), ConnectionFailed),
        (httpx2.ReadError("connection reset by peer"), ConnectionFailed),
        (httpx2.RemoteProtocolError("peer closed connection"), ConnectionFailed),
        (httpx2.ConnectTimeout("timed out"), ProviderTimeout),
        (httpx2.ReadTimeout("timed out"), ProviderTimeout),
    ],
)
async def test_transport_errors_map_to_connection_or_timeout(
    error: Exception, expected: type[ProviderError]
) -> None:
    upstream = Upstream(error=error)

    with pytest.raises(expected) as caught:
        await upstream.adapter(provider("anthropic")).send(ask(), TIMEOUTS)
    assert caught.value.provider == "anthropic-fake"


async def test_an_untrusted_certificate_names_ssl_cert_file_as_the_fix() -> None:
    cause = ssl.SSLCertVerificationError("[SSL: CERTIFICATE_VERIFY_FAILED] failed")
    error = httpx2.ConnectError(str(cause))
    error.__cause__ = cause
    upstream = Upstream(error=error)

    with pytest.raises(ConnectionFailed) as caught:
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)
    assert "TLS certificate at base_url is not trusted" in caught.value.message
    assert "SSL_CERT_FILE" in caught.value.message


async def test_an_in_stream_openai_error_is_classified() -> None:
    from tests.protocols.fakes import sse

    error = {"error": {"message": "The server had an error", "type": "server_error"}}
    upstream = Upstream(body=sse(error))

    with pytest.raises(ServerError):
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)


async def test_probe_failures_are_classified_too() -> None:
    upstream = json_upstream(
        401, anthropic_error("authentication_error", "invalid x-api-key")
    )

    with pytest.raises(AuthFailed):
        await upstream.adapter(provider("anthropic")).probe(1.0)


async def test_an_unknown_error_shape_with_a_200_is_invalid_response() -> None:
    upstream = json_upstream(200, ["not", "a", "response"])

    with pytest.raises(InvalidResponse):
        await upstream.adapter(provider("openai", stream=False)).send(ask(), TIMEOUTS)


async def _connection_failure(
    monkeypatch: pytest.MonkeyPatch, error: Exception, **proxies: str
) -> str:
    """The message of the ConnectionFailed an OpenAI call raises for `error`,
    with exactly the proxy variables `proxies` set."""
    clear_proxy_variables(monkeypatch)
    for name, url in proxies.items():
        monkeypatch.setenv(name, url)
    upstream = Upstream(error=error)
    with pytest.raises(ConnectionFailed) as caught:
        await upstream.adapter(provider("openai")).send(ask(), TIMEOUTS)
    return caught.value.message


_REFUSED = "All connection attempts failed"


async def test_a_failed_connection_names_the_proxy_variable_but_not_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = await _connection_failure(
        monkeypatch,
        httpx2.ConnectError(_REFUSED),
        HTTPS_PROXY="http://me:hunter2@proxy.internal:3128",
    )
    assert "check base_url and the proxy in HTTPS_PROXY" in message
    assert "hunter2" not in message
    assert "proxy.internal" not in message


async def test_without_a_proxy_a_failed_connection_points_at_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = await _connection_failure(monkeypatch, httpx2.ConnectError(_REFUSED))
    assert message.endswith("check base_url")


async def test_a_proxy_refusal_says_so_and_names_no_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = await _connection_failure(
        monkeypatch,
        httpx2.ProxyError("407 Proxy Authentication Required"),
        HTTP_PROXY="http://proxy.internal:3128",
    )
    assert "the proxy refused the request" in message
    assert "HTTP_PROXY" in message
    assert "NO_PROXY" in message
