"""Atomic writes: the target is whole or untouched, and no temporary file is left either way."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lms_core.formats.atomic import (
    AtomicFile,
    atomic_binary,
    atomic_text,
    fsync_folder,
    write_bytes,
)


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_text_replaces_the_target_when_the_block_completes(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n", encoding="utf-8")
    with atomic_text(target) as stream:
        stream.write("name\r\nJosé\r\n")
        assert target.read_text(encoding="utf-8") == "old\n"  # not yet
    assert target.read_bytes() == "name\r\nJosé\r\n".encode()  # newline="": no translation
    assert _leftovers(tmp_path) == []


def test_text_takes_an_encoding(tmp_path: Path) -> None:
    target = tmp_path / "bom.csv"
    with atomic_text(target, encoding="utf-8-sig") as stream:
        stream.write("a")
    assert target.read_bytes() == b"\xef\xbb\xbfa"


def test_binary_creates_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.bin"
    with atomic_binary(target) as stream:
        stream.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert _leftovers(target.parent) == []


@pytest.mark.parametrize("opener", [atomic_text, atomic_binary])
def test_a_writer_that_raises_leaves_the_target_untouched_and_no_temporary_file(
    tmp_path: Path, opener
) -> None:
    target = tmp_path / "out"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), opener(target) as stream:
        stream.write("new" if opener is atomic_text else b"new")
        raise RuntimeError("disk full half-way")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_an_interrupted_writer_leaves_no_file_at_all(tmp_path: Path) -> None:
    target = tmp_path / "new.csv"
    with pytest.raises(KeyboardInterrupt), atomic_text(target) as stream:
        stream.write("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_write_bytes(tmp_path: Path) -> None:
    target = tmp_path / "x.pdf"
    write_bytes(target, b"%PDF")
    write_bytes(target, b"%PDF-2", sync_folder=False)
    fsync_folder(tmp_path)
    assert target.read_bytes() == b"%PDF-2"
    assert _leftovers(tmp_path) == []


def test_atomic_file_commits_later_or_discards(tmp_path: Path) -> None:
    kept = AtomicFile(tmp_path / "kept.csv", "w")
    dropped = AtomicFile(tmp_path / "dropped.csv", "w")
    kept.stream.write("a")
    dropped.stream.write("b")
    assert sorted(p.name.split(".")[1] for p in _leftovers(tmp_path)) == ["dropped", "kept"]
    kept.commit()
    dropped.discard()
    kept.commit()  # a second call does nothing
    dropped.discard()
    assert (tmp_path / "kept.csv").read_text() == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.csv"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_private_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    with atomic_text(tmp_path / "links.csv", private=True) as stream:
        stream.write("secret")
    with atomic_text(tmp_path / "export.csv") as stream:
        stream.write("public")
    assert stat.S_IMODE((tmp_path / "links.csv").stat().st_mode) == 0o600
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "export.csv").stat().st_mode) == 0o666 & ~umask


def test_only_whole_file_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        AtomicFile(tmp_path / "x", "a")
    assert list(tmp_path.iterdir()) == []
