"""Conversation turns reshaped for APIs that insist on alternating roles."""

from __future__ import annotations

from collections.abc import Sequence

from mcp_bridge.canonical import Message

__all__ = ["alternating"]

# Anthropic rejects a conversation that opens with the assistant; a neutral
# user turn in front keeps the caller's assistant text intact.
_OPENING = "Continue."


def alternating(
    messages: Sequence[Message], *, user_first: bool = False
) -> list[tuple[str, str]]:
    """(role, text) pairs with consecutive same-role turns joined by a blank line."""
    turns: list[tuple[str, str]] = []
    for message in messages:
        if turns and turns[-1][0] == message.role:
            turns[-1] = (message.role, f"{turns[-1][1]}\n\n{message.content}")
        else:
            turns.append((message.role, message.content))
    if user_first and turns and turns[0][0] != "user":
        turns.insert(0, ("user", _OPENING))
    return turns
