"""The `complete` verb: one routed completion, optionally as validated JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mcp_bridge.canonical import Attempt, ChatRequest, ChatResponse, Message, Usage
from mcp_bridge.errors import InputError, InvalidResponse
from mcp_bridge.verbs import prompts
from mcp_bridge.verbs._args import check_providers, check_timeout
from mcp_bridge.verbs._json import check_schema
from mcp_bridge.verbs._router import ProgressFn, RouterLike, Validator
from mcp_bridge.verbs.files import read_files, render_files

__all__ = ["CompleteArgs", "CompleteResult", "run_complete"]


class CompleteArgs(BaseModel):
    """The `complete` tool's arguments."""

    prompt: str | None = None
    messages: list[Message] | None = None
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    json_schema: dict[str, Any] | None = None
    files: list[str] = Field(default_factory=list)
    providers: list[str] | None = None
    timeout_s: float | None = None


class CompleteResult(BaseModel):
    """A completion with the provider that produced it and every attempt."""

    text: str
    data: Any = None
    """The validated JSON answer when `json_schema` was given."""
    provider: str
    model: str
    attempts: list[Attempt]
    usage: Usage
    latency_ms: float
    truncated: bool = False
    """True when the answer was cut, by the output-token limit or the result limit."""
    note: str | None = None


async def run_complete(
    router: RouterLike, args: CompleteArgs, *, progress: ProgressFn | None = None
) -> CompleteResult:
    """Check the arguments, route the request and describe the answer."""
    _check(args)
    files_block = render_files(await read_files(args.files, router.config.limits))
    request = ChatRequest(
        messages=_messages(args, files_block),
        system=args.system or None,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        json_schema=args.json_schema,
    )
    result = await router.call(
        request,
        providers=check_providers(args.providers),
        timeout_s=args.timeout_s,
        validate=_validator(args.json_schema),
        progress=progress,
    )
    response = result.response
    return CompleteResult(
        text=response.text,
        data=result.value if args.json_schema is not None else None,
        provider=result.provider,
        model=result.model,
        attempts=result.attempts,
        usage=response.usage,
        latency_ms=round(response.latency_ms, 1),
        truncated=response.truncated,
        note=_length_note(response),
    )


def _check(args: CompleteArgs) -> None:
    if (args.prompt is None) == (args.messages is None):
        raise InputError(
            "give either prompt (one user message) or messages (a conversation), "
            "not both and not neither"
        )
    if args.prompt is not None and not args.prompt.strip():
        raise InputError("prompt is empty; give the text to send to the model")
    if args.messages is not None:
        _check_messages(args.messages)
    if args.max_tokens is not None and args.max_tokens <= 0:
        raise InputError(f"max_tokens must be positive (got {args.max_tokens})")
    if args.temperature is not None and not 0 <= args.temperature <= 2:
        raise InputError(
            f"temperature must be between 0 and 2 (got {args.temperature})"
        )
    if args.json_schema is not None:
        check_schema(args.json_schema)
    check_timeout(args.timeout_s)


def _check_messages(messages: list[Message]) -> None:
    if not messages:
        raise InputError("messages is empty; give at least one user message")
    if messages[-1].role != "user":
        raise InputError(
            "messages must end with a user message (the turn the model answers)"
        )


def _messages(args: CompleteArgs, files_block: str) -> list[Message]:
    if args.prompt is not None:
        return [Message(role="user", content=prompts.attach(args.prompt, files_block))]
    messages = list(args.messages or [])
    last = messages[-1]
    messages[-1] = Message(
        role="user", content=prompts.attach(last.content, files_block)
    )
    return messages


def _validator(schema: dict[str, Any] | None) -> Validator | None:
    # With a schema, the protocol layer has already checked the answer against
    # it (the caller's original schema) and the router returns response.data.
    return _non_empty if schema is None else None


def _non_empty(response: ChatResponse) -> str:
    if not response.text.strip() and response.finish_reason == "stop":
        raise InvalidResponse("the answer is empty; answer the request")
    return response.text


def _length_note(response: ChatResponse) -> str | None:
    if not response.truncated:
        return None
    return (
        "the provider stopped at the output-token limit; raise max_tokens "
        "for a longer answer"
    )
