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
        text = self._pending + self._text.decode(chunk)
        events: list[SSEEvent] = []
        if "\r" in text:
            self._pending = text
            self._drain(events, final=False)
            return events
        # The common case, LF only: one split instead of a search per line.
        *lines, self._pending = text.split("\n")
        for line in lines:
            self._line(line, events)
        return events

    def close(self) -> list[SSEEvent]:
        """Flush the end of the stream, dispatching an unterminated last event."""
        self._pending += self._text.decode(b"", final=True)
        events: list[SSEEvent] = []
        self._drain(events, final=True)
        if self._pending:
            self._line(self._pending, events)
            self._pending = ""
        self._line("", events)
        return events

    def _drain(self, events: list[SSEEvent], *, final: bool) -> None:
        while (cut := _line_end(self._pending, final=final)) is not None:
            end, width = cut
            line, self._pending = self._pending[:end], self._pending[end + width :]
            self._line(line, events)

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            if self._data or self._event:
                events.append(SSEEvent(self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
            return
        if line[0] == ":":
            return
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value


def _line_end(text: str, *, final: bool) -> tuple[int, int] | None:
    """Where the first line of `text` ends and how wide its terminator is."""
    lf, cr = text.find("\n"), text.find("\r")
    if cr == -1 or (lf != -1 and lf < cr):
        return None if lf == -1 else (lf, 1)
    if cr + 1 < len(text):
        return cr, 2 if text[cr + 1] == "\n" else 1
    # A lone CR at the end may be the first half of a CRLF still in flight.
    return (cr, 1) if final else None
