"""What ``backup create`` leaves in the backup folder while it runs: the archive's name,
reserved, and the scratch copy of the database.

Why: the name (``lms-backup-<UTC second>-<kind>.tar``) was chosen before the snapshot and
taken by a rename at the end, so two backups started in the same second both took the free
name and the second replaced the first. Now a run reserves its name by creating
``.<name>.reserved`` exclusively (``O_EXCL``: one of two runs gets it, the other takes the
next suffix) and deletes it once the archive is in place. A run killed outright (``kill
-9``, a power cut) cannot clean up: its scratch folder holds a whole copy of the database,
so the next run deletes what such runs left, once a day old (no backup runs that long).
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path

from lms_core.formats.atomic import TMP_SUFFIX

#: The prefix of a run's scratch folder (in the backup folder: the copy is renamed nowhere,
#: but the same file system keeps the space accounted where the archive goes).
SCRATCH_PREFIX = ".backup-"
#: The suffix of a name's reservation, ``.lms-backup-…tar.reserved`` (hidden, not an archive).
RESERVED_SUFFIX = ".reserved"
#: Scratch older than this (seconds since last changed) was left by a run that died.
STALE_AFTER = 24 * 3600


def reserve(folder: Path, base: str) -> tuple[Path, Path]:
    """The first of ``base.tar``, ``base-1.tar``, ... neither reserved nor existing, and its
    reservation (created here: the caller deletes it when done)."""
    n = 0
    while True:
        path = folder / (f"{base}.tar" if n == 0 else f"{base}-{n}.tar")
        n += 1
        mark = folder / f".{path.name}{RESERVED_SUFFIX}"
        try:
            os.close(os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue  # another run is writing this name
        if os.path.lexists(path):
            mark.unlink(missing_ok=True)
            continue
        return path, mark


def _ours(name: str) -> bool:
    """A scratch folder, a half-written archive or a reservation of ``backup create``."""
    if name.startswith(SCRATCH_PREFIX):
        return True
    return name.startswith(".lms-backup-") and name.endswith((TMP_SUFFIX, RESERVED_SUFFIX))


def sweep(folder: Path, *, now: float | None = None) -> list[Path]:
    """Delete what runs that died left in ``folder`` (see the module): scratch folders,
    half-written archives and reservations not changed for :data:`STALE_AFTER`; what was
    deleted. Links are left alone, and a file that cannot be deleted is skipped."""
    limit = (time.time() if now is None else now) - STALE_AFTER
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not _ours(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if info.st_mtime > limit:
                continue
            if stat.S_ISDIR(info.st_mode) and entry.name.startswith(SCRATCH_PREFIX):
                shutil.rmtree(entry.path)
            elif stat.S_ISREG(info.st_mode) and not entry.name.startswith(SCRATCH_PREFIX):
                os.unlink(entry.path)
            else:
                continue
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed
