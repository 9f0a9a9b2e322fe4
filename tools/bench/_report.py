"""Sections of results, the printed table, the JSON document and the Markdown."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Section", "Target", "render_markdown", "render_text"]


@dataclass
class Target:
    """One goal from the issues, with the measured value and the verdict."""

    name: str
    measured: str
    limit: str
    passed: bool


@dataclass
class Section:
    """The result of one benchmark: rows of metrics, targets, and how it was run."""

    key: str
    title: str
    method: str
    settings: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes null)."""
        cleaned: dict[str, Any] = _clean(asdict(self))
        return cleaned


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _grid(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    columns = _columns(rows)
    return columns, [[_cell(row.get(c)) for c in columns] for row in rows]


def _text_table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _md_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _target_rows(targets: list[Target]) -> tuple[list[str], list[list[str]]]:
    header = ["target", "measured", "limit", "result"]
    body = [
        [t.name, t.measured, t.limit, "PASS" if t.passed else "FAIL"] for t in targets
    ]
    return header, body


def render_text(sections: list[Section]) -> str:
    """The table printed at the end of a run."""
    parts: list[str] = []
    for section in sections:
        parts.append(f"== {section.title} ({section.seconds:.0f} s)")
        if section.rows:
            parts.append(_text_table(*_grid(section.rows)))
        if section.targets:
            parts.append("")
            parts.append(_text_table(*_target_rows(section.targets)))
        parts.extend(f"note: {n}" for n in section.notes)
        parts.append("")
    return "\n".join(parts)


def render_markdown(
    sections: list[Section], machine: dict[str, Any], command: str, seconds: float
) -> str:
    """docs/benchmarks.md: the machine, then each section's method and tables."""
    out = [
        "# Benchmarks",
        "",
        "Written by `python -m tools.bench` from its own output; do not edit by",
        "hand. Rerun the command to refresh it.",
        "",
        f"Command: `{command}` (total run time {seconds:.0f} s).",
        "",
        "Profile the hot path with `python -m tools.bench.profile` (pyinstrument,",
        "in-memory `complete` calls) or attach py-spy to a loaded server",
        "(`py-spy record -p PID -d 8 -f raw -o spy.txt`); import time with",
        "`python -X importtime -m mcp_bridge --version` and",
        "`python -X importtime -m mcp_bridge --config FILE serve < /dev/null`.",
        "",
        "## Machine",
        "",
        _md_table(["", ""], [[k, _cell(v)] for k, v in machine.items()]),
        "",
    ]
    targets = [t for s in sections for t in s.targets]
    if targets:
        out += ["## Targets", "", _md_table(*_target_rows(targets)), ""]
    for section in sections:
        out += [f"## {section.title}", "", section.method, ""]
        if section.settings:
            pairs = ", ".join(f"{k} = {_cell(v)}" for k, v in section.settings.items())
            out += [f"Settings: {pairs}.", ""]
        if section.rows:
            out += [_md_table(*_grid(section.rows)), ""]
        out += [f"- {n}" for n in section.notes]
        out += [f"\nRun time: {section.seconds:.0f} s.", ""]
    return "\n".join(out).rstrip() + "\n"
