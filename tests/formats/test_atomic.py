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


# --- what a rename would otherwise replace, and what errors name ------------------------------


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_symbolic_link_is_followed_and_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real.name)
    with atomic_text(link) as stream:
        stream.write("new")
    assert link.is_symlink() and os.readlink(link) == "real.csv"
    assert real.read_text() == "new"
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_link_to_nothing_creates_the_file_it_names(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    link = tmp_path / "latest.csv"
    link.symlink_to(tmp_path / "out" / "2026.csv")
    write_bytes(link, b"rows")
    assert link.is_symlink() and (tmp_path / "out" / "2026.csv").read_bytes() == b"rows"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.parametrize("opener", [atomic_text, atomic_binary])
def test_a_special_file_is_refused_not_replaced(tmp_path: Path, opener) -> None:
    """``-o /dev/stdout`` (as root: the device link itself) or a pipe is never renamed over."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    link = tmp_path / "stdout"
    link.symlink_to(fifo)
    for target in (fifo, link):
        refused = pytest.raises(OSError, match="Refusing to replace a device, pipe or socket")
        with refused as err, opener(target):
            pass
        assert err.value.filename == str(target)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and link.is_symlink()
    assert _leftovers(tmp_path) == []


def test_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(IsADirectoryError) as err:
        write_bytes(tmp_path / "out.csv", b"x")
    assert err.value.filename == str(tmp_path / "out.csv")
    assert list((tmp_path / "out.csv").iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o600])
def test_a_replaced_file_keeps_its_permissions(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "shared.csv"
    target.write_text("old")
    target.chmod(mode)
    with atomic_text(target) as stream:
        stream.write("new")
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert target.read_text() == "new"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_private_file_is_private_even_when_it_replaces_a_shared_one(tmp_path: Path) -> None:
    target = tmp_path / "links.csv"
    target.write_text("old")
    target.chmod(0o644)
    with atomic_text(target, private=True) as stream:
        stream.write("secret")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_folder_that_is_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "report.csv").write_text("x")
    target = tmp_path / "report.csv" / "sub" / "out.csv"
    with pytest.raises(NotADirectoryError, match=r"report\.csv is a file, not a folder") as err:
        write_bytes(target, b"x")
    assert err.value.filename == str(target)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="Linux /proc")
def test_a_folder_without_room_for_files_names_the_target() -> None:
    """``export users -o /proc/x.csv``: the folder exists but takes no new file (a folder made
    unwritable with chmod would not do: CI runs as root, which writes anywhere)."""
    with pytest.raises(FileNotFoundError) as err:
        write_bytes(Path("/proc/lms-export.csv"), b"x")
    assert err.value.filename == "/proc/lms-export.csv"
    assert "No such file or directory" in str(err.value) and ".tmp" not in str(err.value)
