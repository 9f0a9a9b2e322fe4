"""Provider-independent request, response and provenance models.

Every protocol module translates a `ChatRequest` into its own wire format and
its answer back into a `ChatResponse`; nothing above the protocol layer ever
sees a vendor shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Attempt",
    "CallResult",
    "ChatRequest",
    "ChatResponse",
    "FinishReason",
    "Message",
    "Usage",
]

FinishReason = Literal["stop", "length", "content_filter", "other"]


class Message(BaseModel):
    """One turn of the conversation."""

    model_config = ConfigDict(frozen=True)

    role: Literal["user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    """What the caller wants from a model, in no provider's dialect."""

    model_config = ConfigDict(frozen=True)

    messages: list[Message] = Field(min_length=1)
    system: str | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    stop: list[str] = Field(default_factory=list)
    json_schema: dict[str, Any] | None = None
    """When set, the answer must be JSON that satisfies this schema."""
    schema_name: str = "answer"


class Usage(BaseModel):
    """Tokens counted by the provider (zero when it did not say)."""

    input_tokens: int = 0
    output_tokens: int = 0


class ChatResponse(BaseModel):
    """A complete answer, assembled from a stream or a whole body."""

    text: str
    data: Any = None
    """The parsed JSON answer when the request carried a schema."""
    finish_reason: FinishReason = "stop"
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    """The model id the provider reported (may differ from the requested one)."""
    latency_ms: float = 0.0
    ttft_ms: float | None = None

    @property
    def truncated(self) -> bool:
        """True when the output-token limit cut the answer."""
        return self.finish_reason == "length"


class Attempt(BaseModel):
    """One try at one provider, as reported in every result's provenance."""

    provider: str
    model: str
    outcome: str
    """"ok", "hedge_cancelled", "repaired", or an error class such as "timeout"."""
    status: int | None = None
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None


class CallResult(BaseModel):
    """The answer a routed call produced, with its full provenance."""

    response: ChatResponse
    value: Any = None
    """What the caller's validator returned (the parsed, checked answer)."""
    provider: str
    model: str
    attempts: list[Attempt]
