"""Attached files: text comes through, everything else is a clear InputError."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_bridge.config import LimitSettings
from mcp_bridge.errors import InputError
from mcp_bridge.verbs.files import read_files, render_files

LIMITS = LimitSettings(max_file_bytes=100, max_files_bytes=150)


async def test_text_files_are_read_and_rendered_with_their_paths(
    tmp_path: Path,
) -> None:
    first = tmp_path / "a.py"
    first.write_text("print('hi')\n")
    files = await read_files([str(first), str(first)], LIMITS)
    assert [f.text for f in files] == ["print('hi')\n"]
    assert f'<file path="{first}">' in render_files(files)


async def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(InputError, match=f"files: {missing} does not exist"):
        await read_files([str(missing)], LIMITS)


async def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        await read_files([str(tmp_path)], LIMITS)


async def test_a_file_with_nul_bytes_is_binary(tmp_path: Path) -> None:
    blob = tmp_path / "x.bin"
    blob.write_bytes(b"ab\x00cd")
    with pytest.raises(InputError, match="looks binary"):
        await read_files([str(blob)], LIMITS)


async def test_undecodable_bytes_are_refused(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9")
    with pytest.raises(InputError, match="not UTF-8 text"):
        await read_files([str(latin)], LIMITS)


async def test_an_oversized_file_names_the_size_and_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("x" * 101)
    with pytest.raises(InputError, match=r"101 bytes, over the limit of 100 bytes"):
        await read_files([str(big)], LIMITS)


async def test_the_total_limit_covers_all_files_together(tmp_path: Path) -> None:
    paths = []
    for name in ("a", "b"):
        (tmp_path / name).write_text("y" * 80)
        paths.append(str(tmp_path / name))
    with pytest.raises(InputError, match="max_files_bytes"):
        await read_files(paths, LIMITS)


async def test_an_unreadable_file_says_why() -> None:
    # /proc/self/mem is a regular file that refuses reads at offset 0, even
    # for root, which chmod-based tests cannot show when run as root.
    with pytest.raises(InputError, match=r"cannot read .*/proc/self/mem"):
        await read_files(["/proc/self/mem"], LIMITS)


async def test_file_roots_admit_paths_inside_them_only(tmp_path: Path) -> None:
    inside = tmp_path / "project"
    inside.mkdir()
    (inside / "a.txt").write_text("ok")
    (tmp_path / "secret.txt").write_text("s")
    limits = LimitSettings(file_roots=[str(inside)])

    attached = await read_files([str(inside / "a.txt")], limits)
    assert [f.text for f in attached] == ["ok"]
    with pytest.raises(InputError, match="outside the directories"):
        await read_files([str(tmp_path / "secret.txt")], limits)


async def test_a_symbolic_link_cannot_lead_out_of_the_file_roots(
    tmp_path: Path,
) -> None:
    inside = tmp_path / "project"
    inside.mkdir()
    (tmp_path / "secret.txt").write_text("s")
    (inside / "link.txt").symlink_to(tmp_path / "secret.txt")
    limits = LimitSettings(file_roots=[str(inside)])

    with pytest.raises(InputError, match="outside the directories"):
        await read_files([str(inside / "link.txt")], limits)


async def test_empty_file_roots_refuse_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("ok")
    with pytest.raises(InputError, match="reads no local files"):
        await read_files([str(tmp_path / "a.txt")], LimitSettings(file_roots=[]))
