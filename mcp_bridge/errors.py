"""Every way a provider call can fail, as one exception tree.

    BridgeError
    ├── ConfigError                  the configuration cannot be used
    ├── InputError                   a tool argument is wrong (names the field)
    ├── ProviderError                one attempt at one provider failed
    │   ├── RateLimited              429; carries retry_after
    │   ├── Overloaded               529, 503 "overloaded"
    │   ├── ServerError              other 5xx
    │   ├── ProviderTimeout          connect, first token, stall or total
    │   ├── ConnectionFailed         refused, reset, DNS
    │   ├── AuthFailed               401, 403
    │   ├── QuotaExhausted           402, insufficient_quota, credit balance
    │   ├── ModelNotFound            404, unknown model
    │   ├── ContextTooLong           the prompt does not fit the window
    │   ├── ContentFiltered          the provider refused on policy grounds
    │   ├── BadRequest               other 4xx
    │   └── InvalidResponse          unparseable body, cut stream, schema violation
    └── AllAttemptsFailed            no candidate produced an answer in time

Protocol modules raise only ProviderError subclasses; each protocol maps
transport and vendor errors to them in exactly one place. Every message passes
through `redact` so that API keys never leave the process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

__all__ = [
    "AllAttemptsFailed",
    "AuthFailed",
    "BadRequest",
    "BridgeError",
    "ConfigError",
    "ConnectionFailed",
    "ContentFiltered",
    "ContextTooLong",
    "InputError",
    "InvalidResponse",
    "ModelNotFound",
    "Overloaded",
    "ProviderError",
    "ProviderTimeout",
    "QuotaExhausted",
    "RateLimited",
    "ServerError",
    "redact",
    "register_secret",
]

_SECRETS: set[str] = set()
# Shapes of common API keys, masked even when the key was never registered.
_KEY_PATTERN = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9_\-]{16,}|AIza[0-9A-Za-z_\-]{20,}"
    r"|gsk_[A-Za-z0-9]{16,}|xai-[A-Za-z0-9]{16,}|Bearer\s+[A-Za-z0-9._\-]{8,})"
)


def register_secret(secret: str | None) -> None:
    """Remember a secret so that `redact` removes it from any text."""
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Return `text` with every known secret and key-shaped token masked."""
    for secret in sorted({*_SECRETS, *extra}, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return _KEY_PATTERN.sub("***", text)


class BridgeError(Exception):
    """Base of every error MultiBridge raises on purpose."""


class ConfigError(BridgeError):
    """The configuration cannot be used; the message says where and how to fix it."""


class InputError(BridgeError):
    """A tool argument is wrong; the message names the field."""


class ProviderError(BridgeError):
    """One attempt at one provider failed.

    `kind` is the error class used by the resilience engine, in results and in
    metrics; it never changes for a given subclass.
    """

    kind: ClassVar[str] = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = redact(message)
        self.provider = provider
        self.model = model
        self.status = status
        self.retry_after = retry_after
        super().__init__(self.message)

    def __str__(self) -> str:
        where = self.provider or "provider"
        if self.model:
            where += f" ({self.model})"
        status = f" HTTP {self.status}" if self.status is not None else ""
        return f"{where}: {self.kind}{status}: {self.message}"


class RateLimited(ProviderError):
    kind = "rate_limited"


class Overloaded(ProviderError):
    kind = "overloaded"


class ServerError(ProviderError):
    kind = "server_error"


class ProviderTimeout(ProviderError):
    kind = "timeout"


class ConnectionFailed(ProviderError):
    kind = "connection"


class AuthFailed(ProviderError):
    kind = "auth"


class QuotaExhausted(ProviderError):
    kind = "quota_exhausted"


class ModelNotFound(ProviderError):
    kind = "model_not_found"


class ContextTooLong(ProviderError):
    kind = "context_too_long"


class ContentFiltered(ProviderError):
    kind = "content_filtered"


class BadRequest(ProviderError):
    kind = "bad_request"


class InvalidResponse(ProviderError):
    kind = "invalid_response"

    answer: str | None = None
    """The model's complete but unacceptable answer (bad JSON, schema violation).

    Set only when the exchange itself succeeded, so the router can feed the
    answer back for one repair attempt; None for broken streams and bodies.
    """


class AllAttemptsFailed(BridgeError):
    """No candidate produced an answer; `attempts` records what each one did."""

    def __init__(
        self, message: str, attempts: list[object], *, timed_out: bool = False
    ) -> None:
        self.attempts = attempts
        self.timed_out = timed_out
        """True when the call's deadline ran out (rather than the candidates)."""
        super().__init__(redact(message))
