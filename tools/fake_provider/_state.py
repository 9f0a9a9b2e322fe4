"""The fake's mutable state: fault rules, scripted replies and the request log.

The server runs in its own thread (or process) while tests read and change this
state from theirs, so every access holds one lock.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any

from tools.fake_provider._answers import Reply

__all__ = [
    "FAULTS",
    "FakeState",
    "FaultRule",
    "RecordedRequest",
    "parse_model_fault",
]

FAULTS: dict[str, str] = {
    "ok": "no fault (overrides a wildcard rule for one model)",
    "rate_limit": "429; args retry_after (s), retry_after_ms; gemini: header=True",
    "server_error": "500",
    "server_error_once": "500 on the first request, then answers",
    "unavailable": "503",
    "overloaded": "503 with the vendor's overloaded body",
    "overloaded_529": "529 overloaded_error",
    "auth": "401 (gemini: 400 API_KEY_INVALID)",
    "forbidden": "403",
    "quota": "insufficient quota / credit balance; arg status=402 for a 402",
    "model_not_found": "404",
    "context_length": "400 context length exceeded",
    "bad_request": "400",
    "plain_error": "text/plain body; arg status (500)",
    "detail_error": 'FastAPI-style {"detail": ...}; arg status (500)',
    "foreign_error": "another vendor's error shape; arg fault (rate_limit)",
    "reset": "TCP reset before any response",
    "no_response": "accept and never answer until the client leaves",
    "slow_first_token": "headers, then wait; arg delay_ms (1000)",
    "latency": "wait before answering; args ms, chunk_ms (gap between events)",
    "stream_cut": "close mid-body without a terminal event; arg chunks (2)",
    "stream_stall": "send some events then nothing; arg chunks (2)",
    "malformed_chunk": "an event with invalid JSON; arg chunks (1) before it",
    "missing_terminal": "clean end without finish_reason / message_stop",
    "stream_error": "an error event mid-stream; arg chunks (1) before it",
    "empty_stream": "200 with no events (empty body when not streamed)",
    "content_filter": "a refusal answer; arg mode='error' for a 400 instead",
    "length": "answer cut at half with the output-limit finish reason",
    "invalid_json": "unusable structured answer; arg kind 'syntax' | 'schema'",
    "flap": "down/up alternating; args every (1), down (unavailable), start",
}
_ALIASES = {"server_error_once": ("server_error", 1)}


@dataclass
class RecordedRequest:
    """One request the fake received, as the client sent it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    protocol: str | None = None
    model: str | None = None
    fault: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the control API."""
        return asdict(self)


@dataclass
class FaultRule:
    """A fault set at run time for one model (or '*'), for `remaining` requests."""

    fault: str
    args: dict[str, Any] = field(default_factory=dict)
    remaining: int | None = None
    calls: int = 0


def parse_model_fault(model: str) -> tuple[str, dict[str, Any]] | None:
    """Read `fault:NAME[,key=value...]` from a model name like 'gpt+fault:stall'."""
    at = model.find("fault:")
    if at < 0 or (at > 0 and model[at - 1] != "+"):
        return None
    name, *pairs = model[at + len("fault:") :].split(",")
    args = {k: _scalar(v) for k, _, v in (p.partition("=") for p in pairs) if k}
    if name in _ALIASES:
        name, times = _ALIASES[name]
        args.setdefault("times", times)
    return name, args


class FakeState:
    """Everything tests script or inspect, behind one lock."""

    def __init__(self, latency_ms: float = 0.0, models: list[str] | None = None):
        self._cond = threading.Condition()
        self.latency_ms = latency_ms
        self.models = list(models or ["fake-ok"])
        self._rules: dict[str, FaultRule] = {}
        self._replies: dict[str, deque[Reply]] = {}
        self._log: list[RecordedRequest] = []
        self._seen: Counter[str] = Counter()
        self.in_flight = 0

    def set_fault(
        self,
        model: str,
        fault: str,
        count: int | None = None,
        args: dict[str, Any] | None = None,
    ) -> None:
        """Inject `fault` for `model` ('*' = all), for `count` requests or for good."""
        check_fault(fault)
        if fault in _ALIASES:
            fault, times = _ALIASES[fault]
            count = times if count is None else count
        with self._cond:
            self._rules[model] = FaultRule(fault, dict(args or {}), count)

    def clear_faults(self, model: str | None = None) -> None:
        """Remove the rule for `model`, or every rule."""
        with self._cond:
            if model is None:
                self._rules.clear()
            else:
                self._rules.pop(model, None)

    def faults(self) -> dict[str, FaultRule]:
        """A copy of the active rules by model."""
        with self._cond:
            return {m: FaultRule(**asdict(r)) for m, r in self._rules.items()}

    def choose_fault(self, model: str | None) -> tuple[str, dict[str, Any]] | None:
        """The fault for this request (consuming counts), or None to answer."""
        with self._cond:
            rule = self._rules.get(model or "*") or self._rules.get("*")
            if rule is not None:
                return self._from_rule(model or "*", rule)
            if model is None:
                return None
            index = self._seen[model]
            self._seen[model] += 1
        named = parse_model_fault(model)
        if named is None:
            return None
        fault, args = named
        if "times" in args and index >= int(args["times"]):
            return None
        return _resolve(fault, args, index)

    def _from_rule(
        self, key: str, rule: FaultRule
    ) -> tuple[str, dict[str, Any]] | None:
        index = rule.calls
        rule.calls += 1
        if rule.remaining is not None:
            rule.remaining -= 1
            if rule.remaining <= 0:
                self._rules = {k: r for k, r in self._rules.items() if r is not rule}
        return _resolve(rule.fault, rule.args, index)

    def queue_reply(self, model: str, reply: Reply) -> None:
        """Queue a scripted reply for `model` ('*' for any model)."""
        with self._cond:
            self._replies.setdefault(model, deque()).append(reply)

    def take_reply(self, model: str) -> Reply | None:
        """Pop the next scripted reply for `model`, else for '*'."""
        with self._cond:
            for key in (model, "*"):
                queue = self._replies.get(key)
                if queue:
                    return queue.popleft()
        return None

    def clear_replies(self, model: str | None = None) -> None:
        """Drop queued replies for `model`, or all of them."""
        with self._cond:
            if model is None:
                self._replies.clear()
            else:
                self._replies.pop(model, None)

    def record(self, entry: RecordedRequest) -> None:
        """Append to the request log and wake anyone waiting on it."""
        with self._cond:
            self._log.append(entry)
            self._cond.notify_all()

    def requests(self, model: str | None = None) -> list[RecordedRequest]:
        """A copy of the log, optionally only one model's requests."""
        with self._cond:
            return [r for r in self._log if model is None or r.model == model]

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._cond:
            self._log.clear()

    def wait_for_requests(self, count: int, timeout: float) -> bool:
        """Block until the log holds `count` requests; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._log) >= count, timeout)

    def enter(self) -> None:
        """Count a request in flight."""
        with self._cond:
            self.in_flight += 1

    def leave(self) -> None:
        """Count a request done."""
        with self._cond:
            self.in_flight -= 1

    def reset(self) -> None:
        """Forget rules, replies, the log and per-model counters."""
        with self._cond:
            self._rules.clear()
            self._replies.clear()
            self._log.clear()
            self._seen.clear()


def check_fault(fault: str) -> None:
    """Raise ValueError naming the known faults when `fault` is not one."""
    if fault not in FAULTS:
        known = ", ".join(sorted(FAULTS))
        raise ValueError(f"unknown fault {fault!r}; use one of: {known}")


def _resolve(
    fault: str, args: dict[str, Any], index: int
) -> tuple[str, dict[str, Any]] | None:
    """Turn 'ok' into no fault and a flap into its current phase."""
    if fault == "ok":
        return None
    if fault != "flap":
        return fault, args
    every = max(1, int(args.get("every", 1)))
    down_first = args.get("start", "down") == "down"
    if ((index // every) % 2 == 0) != down_first:
        return None
    rest = {k: v for k, v in args.items() if k not in ("every", "start", "down")}
    return str(args.get("down", "unavailable")), rest


def _scalar(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)
