"""An incremental Server-Sent Events decoder that accepts any split of the bytes.

The adapters read raw chunks themselves (so that every wait for the next
chunk can carry its own deadline) and feed them here; an event is complete
at a blank line, whatever chunk boundaries the network produced.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEEvent"]


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: its name ("message" unless set) and its data."""

    event: str
    data: str


class SSEDecoder:
    """Turns a byte stream into `SSEEvent`s, one `feed` at a time."""

    def __init__(self) -> None:
        # Invalid UTF-8 becomes U+FFFD; the JSON parse after us reports it.
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode `chunk` and return the events it completed."""
        self._pending += self._text.decode(chunk)
        return self._drain(final=False)

    def close(self) -> list[SSEEvent]:
        """Flush the end of the stream, dispatching an unterminated last event."""
        self._pending += self._text.decode(b"", final=True)
        events = self._drain(final=True)
        if self._pending:
            events.extend(self._line(self._pending))
            self._pending = ""
        events.extend(self._line(""))
        return events

    def _drain(self, *, final: bool) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        while True:
            cut = _line_end(self._pending, final=final)
            if cut is None:
                return events
            end, width = cut
            line, self._pending = self._pending[:end], self._pending[end + width :]
            events.extend(self._line(line))

    def _line(self, line: str) -> list[SSEEvent]:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return []

    def _dispatch(self) -> list[SSEEvent]:
        if not self._data and not self._event:
            return []
        event = SSEEvent(self._event or "message", "\n".join(self._data))
        self._event, self._data = "", []
        return [event]


def _line_end(text: str, *, final: bool) -> tuple[int, int] | None:
    """Where the first line of `text` ends and how wide its terminator is."""
    lf, cr = text.find("\n"), text.find("\r")
    if cr == -1 or (lf != -1 and lf < cr):
        return None if lf == -1 else (lf, 1)
    if cr + 1 < len(text):
        return cr, 2 if text[cr + 1] == "\n" else 1
    # A lone CR at the end may be the first half of a CRLF still in flight.
    return (cr, 1) if final else None
