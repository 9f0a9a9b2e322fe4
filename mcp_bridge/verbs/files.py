"""Read the local text files a caller attaches to a tool call.

Every refusal is an `InputError` that names the path, the reason and the
limit, so that an agent can fix its call without guessing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from mcp_bridge.config import LimitSettings
from mcp_bridge.errors import InputError

__all__ = ["AttachedFile", "read_files", "render_files"]


@dataclass(frozen=True)
class AttachedFile:
    """One file's path (as given, expanded) and its text."""

    path: str
    text: str


async def read_files(paths: Sequence[str], limits: LimitSettings) -> list[AttachedFile]:
    """Read each path as UTF-8 text, enforcing the per-file and total limits."""
    attached: list[AttachedFile] = []
    total = 0
    for path in _unique_paths(paths):
        _check_root(path, limits.file_roots)
        data = await _read_one(path, limits.max_file_bytes)
        total += len(data)
        if total > limits.max_files_bytes:
            raise InputError(
                f"files: together the files are over the limit of "
                f"{limits.max_files_bytes:,} bytes (limits.max_files_bytes) at {path}; "
                "attach fewer or smaller files"
            )
        attached.append(AttachedFile(path=path, text=_decode(path, data)))
    return attached


def _check_root(path: str, roots: list[str] | None) -> None:
    """Refuse a path outside `roots` (symbolic links resolved); None allows all."""
    if roots is None:
        return
    if not roots:
        raise InputError(
            "files: this server reads no local files (the HTTP service reads "
            "none unless [limits] file_roots lists directories); put the text "
            "in the prompt, context or subject instead"
        )
    real = os.path.realpath(path)
    for root in roots:
        base = os.path.realpath(os.path.expanduser(root))
        if os.path.commonpath([real, base]) == base:
            return
    raise InputError(
        f"files: {path} is outside the directories this server may read "
        f"(limits.file_roots: {', '.join(roots)})"
    )


def _unique_paths(paths: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(os.path.expanduser(p) for p in paths))


def render_files(files: Sequence[AttachedFile]) -> str:
    """Render attached files as delimited blocks for a prompt."""
    blocks = [f'<file path="{f.path}">\n{f.text}\n</file>' for f in files]
    return "\n\n".join(blocks)


async def _read_one(path: str, max_bytes: int) -> bytes:
    if not path.strip():
        raise InputError("files: an entry is empty; give a path to a text file")
    target = anyio.Path(path)
    try:
        info = await target.stat()
    except FileNotFoundError as exc:
        raise InputError(
            f"files: {path} does not exist; give the path of an existing text file"
        ) from exc
    except OSError as exc:
        raise InputError(f"files: cannot read {path} ({exc.strerror})") from exc
    _check_kind_and_size(path, info.st_mode, info.st_size, max_bytes)
    try:
        return await target.read_bytes()
    except OSError as exc:
        raise InputError(f"files: cannot read {path} ({exc.strerror})") from exc


def _check_kind_and_size(path: str, mode: int, size: int, max_bytes: int) -> None:
    if stat.S_ISDIR(mode):
        raise InputError(
            f"files: {path} is a directory; list the text files inside it one by one"
        )
    if not stat.S_ISREG(mode):
        raise InputError(f"files: {path} is not a regular file; attach text files")
    if size > max_bytes:
        raise InputError(
            f"files: {path} is {size:,} bytes, over the limit of {max_bytes:,} bytes "
            "per file (limits.max_file_bytes); attach a smaller excerpt"
        )


def _decode(path: str, data: bytes) -> str:
    # NUL bytes mean a binary file even when the bytes happen to decode.
    if b"\x00" in data:
        raise InputError(
            f"files: {path} looks binary (it contains NUL bytes); attach text files"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"files: {path} is not UTF-8 text (byte {exc.start} cannot be decoded); "
            "attach text files"
        ) from exc
