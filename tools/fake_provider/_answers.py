"""What a request asks for and what the fake answers, independent of wire format."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tools.fake_provider._schema import sample_for_schema

__all__ = [
    "Answer",
    "Ask",
    "ErrorReply",
    "Reply",
    "StreamParts",
    "build_answer",
    "count_tokens",
    "all_text",
    "default_text",
    "last_user_text",
    "text_of",
]

_PIECE = re.compile(r"\s*\S+")
_SCHEMA_KEYS = {"type", "properties", "$schema", "$ref", "anyOf", "oneOf", "enum"}


@dataclass
class Ask:
    """The parts of a request that shape the answer."""

    protocol: str
    model: str
    stream: bool = False
    prompt: str = ""
    input_tokens: int = 1
    max_tokens: int | None = None
    json_mode: bool = False
    schema: Any = None
    tool_name: str | None = None
    include_usage: bool = False
    context: str = ""
    """Every instruction and message text, searched for a schema in the prompt."""


@dataclass
class Reply:
    """A scripted reply queued for one model; JSON replies are sent serialised."""

    text: str
    is_json: bool = False


@dataclass
class Answer:
    """The answer text, cut into stream pieces, and how it finished."""

    text: str
    pieces: list[str]
    finish: str = "stop"
    input_tokens: int = 1
    tool_name: str | None = None

    @property
    def output_tokens(self) -> int:
        """One piece is one token: deterministic and enough for usage checks."""
        return len(self.pieces)


@dataclass
class StreamParts:
    """A stream as framed events: opening, content, closing and end marker."""

    head: list[bytes] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    tail: list[bytes] = field(default_factory=list)
    done: list[bytes] = field(default_factory=list)

    def complete(self) -> list[bytes]:
        """Every event of a well-formed stream, in order."""
        return self.head + self.body + self.tail + self.done


@dataclass
class ErrorReply:
    """An error response: status, extra headers and the body bytes."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def default_text(prompt: str) -> str:
    """The deterministic echo-like answer to a prompt."""
    return f"fake answer to: {prompt[:40]}"


def count_tokens(value: Any) -> int:
    """A stable token estimate: about four characters per token, at least one."""
    return max(1, len(json.dumps(value, ensure_ascii=False)) // 4)


def build_answer(
    ask: Ask,
    reply: Reply | None,
    *,
    invalid_json: str | None = None,
    finish: str | None = None,
) -> Answer:
    """Answer `ask` with the scripted reply, a schema sample or the echo text."""
    text = reply.text if reply is not None else _generated_text(ask)
    if invalid_json is not None:
        text = _break_json(text, ask.schema, invalid_json)
    if finish == "content_filter":
        return Answer("", [], "content_filter", ask.input_tokens, ask.tool_name)
    pieces = _PIECE.findall(text) or ([text] if text else [])
    if finish == "length":
        return _truncated(ask, pieces[: max(1, len(pieces) // 2)])
    if ask.max_tokens is not None and len(pieces) > ask.max_tokens:
        return _truncated(ask, pieces[: max(ask.max_tokens, 0)])
    # "none" leaves out the finish reason, as a server that lost its ending would.
    ending = "none" if finish == "none" else "stop"
    return Answer(text, pieces, ending, ask.input_tokens, ask.tool_name)


def _truncated(ask: Ask, pieces: list[str]) -> Answer:
    return Answer("".join(pieces), pieces, "length", ask.input_tokens, ask.tool_name)


def _generated_text(ask: Ask) -> str:
    # Like a real model, follow a schema given in the prompt when no API option did.
    schema = ask.schema if ask.schema is not None else schema_in_prompt(ask.context)
    if schema is not None:
        return json.dumps(sample_for_schema(schema))
    if ask.json_mode:
        return json.dumps({"answer": default_text(ask.prompt)})
    return default_text(ask.prompt)


def schema_in_prompt(text: str) -> Any:
    """The first JSON Schema object written into a prompt that mentions JSON."""
    if "JSON" not in text:
        return None
    decoder = json.JSONDecoder()
    start = text.find("{")
    for _ in range(64):
        if start < 0:
            return None
        try:
            value, _end = decoder.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, dict) and _SCHEMA_KEYS & set(value):
            return value
        start = text.find("{", start + 1)
    return None


def _break_json(text: str, schema: Any, kind: str) -> str:
    """Make the answer unusable: a syntax error, or valid JSON that fails the schema."""
    if kind != "schema":
        return text.rstrip()[:-1] if len(text.strip()) > 1 else "{"
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if not isinstance(value, dict):
        return json.dumps({"unexpected": value})
    required = [k for k in (schema or {}).get("required") or [] if k in value]
    if required:
        del value[required[0]]
    elif value:
        # No required member to drop: give the first one the wrong type.
        value[next(iter(value))] = {"unexpected": "type"}
    else:
        return json.dumps([value])
    return json.dumps(value)


def all_text(*parts: Any) -> str:
    """Join the text of system prompts and messages of any vendor's shape."""
    texts: list[str] = []
    for part in parts:
        items = part if isinstance(part, list) else [part]
        for item in items:
            if isinstance(item, dict):
                item = item.get("content", item.get("parts", item.get("text")))
            texts.append(text_of(item))
    return "\n".join(t for t in texts if t)


def last_user_text(messages: Any, user_role: str) -> str:
    """The text of the last message from the user, in any vendor's shape."""
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == user_role:
            return text_of(message.get("content", message.get("parts")))
    return ""


def text_of(content: Any) -> str:
    """Text of a string, or of a list of parts / blocks that carry `text`."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(str(t) for t in texts)
    return ""
