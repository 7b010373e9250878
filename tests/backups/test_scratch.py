"""Two backups in the same second keep both archives; what a run leaves while it works is
gone when it ends, however it ends, and what a killed run left is swept a day later."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from lms_core.backups import create as creating
from lms_core.backups import scratch
from lms_core.backups.manifest import read_manifest
from lms_core.backups.retention import backups_in
from lms_core.formats.atomic import AtomicFile
from tests.backups.conftest import Site


def test_a_name_is_reserved_once(tmp_path: Path) -> None:
    base = "lms-backup-20261207T031500Z-sqlite"
    first, mark = scratch.reserve(tmp_path, base)
    second, _ = scratch.reserve(tmp_path, base)
    assert (first.name, second.name) == (f"{base}.tar", f"{base}-1.tar")
    assert mark.exists() and backups_in(tmp_path) == []  # a reservation is not an archive
    mark.unlink()
    first.write_bytes(b"an archive")
    assert scratch.reserve(tmp_path, base)[0].name == f"{base}-2.tar"


def test_two_backups_at_once_write_two_archives(site: Site) -> None:
    made: list[Path] = []
    failed: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            made.append(creating.create_backup(site.settings, out_dir=site.backups).path)
        except BaseException as exc:  # pragma: no cover - shown by the assert
            failed.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    assert len(set(made)) == 2 and sorted(made) == sorted(b.path for b in backups_in(site.backups))
    for archive in made:
        assert read_manifest(archive)["tables"]["enrollments"]["rows"] == 60
    assert sorted(os.listdir(site.backups)) == sorted(p.name for p in made)  # nothing else


def test_a_failing_archive_file_leaves_no_scratch_folder(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError("no room for the archive")

    monkeypatch.setattr(AtomicFile, "__init__", refuse)
    with pytest.raises(PermissionError):
        creating.create_backup(site.settings, out_dir=site.backups)
    assert os.listdir(site.backups) == []


def test_what_a_killed_run_left_is_swept_a_day_later(site: Site) -> None:
    folder = site.backups
    folder.mkdir(parents=True)
    old_scratch = folder / ".backup-k1ll3d"
    old_scratch.mkdir()
    (old_scratch / "database.sqlite3").write_bytes(b"a whole copy" * 1000)
    old_tmp = folder / ".lms-backup-20261201T023000Z-sqlite.tar.ab12cd34.tmp"
    old_mark = folder / ".lms-backup-20261201T023000Z-sqlite.tar.reserved"
    fresh = folder / ".lms-backup-20261207T023000Z-sqlite.tar.99887766.tmp"  # a run now
    other = folder / ".backup-notes.txt"  # not a folder: a file of someone else's
    for path in (old_tmp, old_mark, fresh):
        path.write_bytes(b"x")
    other.write_text("kept")
    day_ago = time.time() - scratch.STALE_AFTER - 60
    for path in (old_scratch, old_tmp, old_mark, other):
        os.utime(path, (day_ago, day_ago))
    made = creating.create_backup(site.settings, out_dir=folder)
    assert sorted(os.listdir(folder)) == sorted([made.path.name, fresh.name, other.name])
