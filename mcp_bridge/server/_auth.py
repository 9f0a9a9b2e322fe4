"""Bearer-token authentication for the HTTP service, and the rule on binding.

Tokens come from `[http] tokens` and from the comma-separated environment
variable named by `[http] token_env` (MULTIBRIDGE_TOKENS by default). They are
compared in constant time against every configured token, so the response
time tells nothing about how much of a guess was right.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Mapping

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_bridge.config import HttpSettings
from mcp_bridge.errors import ConfigError, register_secret

__all__ = [
    "CLIENT_KEY",
    "BearerAuth",
    "check_bind",
    "is_loopback",
    "resolve_tokens",
]

logger = logging.getLogger(__name__)

CLIENT_KEY = "multibridge.client"
"""Scope key naming the authenticated client ("token-N"), for rate limiting."""

_REALM = 'Bearer realm="multibridge"'


def resolve_tokens(
    settings: HttpSettings, env: Mapping[str, str] = os.environ
) -> list[str]:
    """Every accepted token: the configured ones, then the environment's."""
    tokens = [t.get_secret_value() for t in settings.tokens]
    if settings.token_env:
        raw = env.get(settings.token_env, "")
        tokens += [t.strip() for t in raw.split(",")]
    tokens = [t for t in dict.fromkeys(tokens) if t]
    for token in tokens:
        register_secret(token)
    return tokens


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tokens: list[str]) -> None:
    """Refuse to listen beyond this machine without authentication."""
    if is_loopback(host) or tokens:
        return
    raise ConfigError(
        f"refusing to serve HTTP on {host}, which other machines can reach, "
        "without authentication: set MULTIBRIDGE_TOKENS or [http] tokens in "
        "multibridge.toml, or bind 127.0.0.1"
    )


class BearerAuth:
    """ASGI middleware: requests to `paths` need one of `tokens`."""

    def __init__(self, app: ASGIApp, tokens: list[str], paths: set[str]) -> None:
        self.app = app
        self._tokens = [t.encode() for t in tokens]
        self._paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self._paths:
            await self.app(scope, receive, send)
            return
        given = _bearer(scope)
        if given is None:
            await _refuse(scope, receive, send, "a bearer token is required", _REALM)
            return
        index = self._match(given)
        if index is None:
            logger.info("refused a request with an unknown bearer token")
            challenge = f'{_REALM}, error="invalid_token"'
            await _refuse(
                scope, receive, send, "the bearer token is not valid", challenge
            )
            return
        scope[CLIENT_KEY] = f"token-{index}"
        await self.app(scope, receive, send)

    def _match(self, given: bytes) -> int | None:
        # No early exit: every token is compared, whether or not one matched.
        found: int | None = None
        for index, token in enumerate(self._tokens):
            if hmac.compare_digest(given, token) and found is None:
                found = index
        return found


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            if scheme.lower() == b"bearer" and credentials.strip():
                return bytes(credentials.strip())
            return None
    return None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, message: str, challenge: str
) -> None:
    fix = "send 'Authorization: Bearer <token>' with a token from "
    fix += "MULTIBRIDGE_TOKENS or [http] tokens"
    refusal = JSONResponse(
        {"error": "unauthorized", "message": f"{message}: {fix}"},
        status_code=401,
        headers={"www-authenticate": challenge},
    )
    await refusal(scope, receive, send)
