"""The /_control/ HTTP API: faults, scripted replies, the request log, reset.

POST   /_control/faults    {"model", "fault", "count"?, "args"?}
GET    /_control/faults
DELETE /_control/faults[?model=M]
POST   /_control/replies   {"model", "text"} or {"model", "json"}
DELETE /_control/replies[?model=M]
GET    /_control/requests[?model=M]
DELETE /_control/requests
POST   /_control/latency   {"ms"}
GET    /_control/stats     in-flight and total request counts
POST   /_control/reset
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from tools.fake_provider._answers import Reply
from tools.fake_provider._http import HttpConnection, HttpRequest
from tools.fake_provider._state import FakeState
from tools.fake_provider._wire import compact

__all__ = ["ControlApi", "reply_from"]


def reply_from(value: Any) -> Reply:
    """A scripted reply: strings are sent as they are, anything else as JSON."""
    if isinstance(value, str):
        return Reply(value)
    return Reply(json.dumps(value), is_json=True)


class ControlApi:
    """Lets a test or a benchmark in another process script the fake."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def handle(self, request: HttpRequest, conn: HttpConnection) -> None:
        """Answer one control request with JSON."""
        try:
            status, body = self._dispatch(request)
        except (ValueError, KeyError, TypeError) as exc:
            status, body = 400, {"error": str(exc)}
        data = compact(body).encode()
        await conn.send_whole(status, {"content-type": "application/json"}, data)

    def _dispatch(self, request: HttpRequest) -> tuple[int, Any]:
        name = request.path.removeprefix("/_control/").strip("/")
        model = request.query.get("model")
        payload = json.loads(request.body) if request.body else {}
        route = (request.method, name)
        if route == ("POST", "faults"):
            self.state.set_fault(
                str(payload["model"]),
                str(payload["fault"]),
                payload.get("count"),
                payload.get("args") or {},
            )
        elif route == ("GET", "faults"):
            rules = {m: asdict(r) for m, r in self.state.faults().items()}
            return 200, {"faults": rules}
        elif route == ("DELETE", "faults"):
            self.state.clear_faults(model)
        elif route == ("POST", "replies"):
            value = payload["json"] if "json" in payload else payload["text"]
            self.state.queue_reply(str(payload["model"]), reply_from(value))
        elif route == ("DELETE", "replies"):
            self.state.clear_replies(model)
        elif route == ("GET", "requests"):
            entries = [r.to_json() for r in self.state.requests(model)]
            return 200, {"requests": entries}
        elif route == ("DELETE", "requests"):
            self.state.clear_requests()
        elif route == ("POST", "latency"):
            self.state.latency_ms = float(payload["ms"])
        elif route == ("GET", "stats"):
            stats = {"in_flight": self.state.in_flight, "total": self._total()}
            return 200, stats
        elif route == ("POST", "reset"):
            self.state.reset()
        else:
            return 404, {"error": f"no control route {request.method} {name}"}
        return 200, {"ok": True}

    def _total(self) -> int:
        return len(self.state.requests())
