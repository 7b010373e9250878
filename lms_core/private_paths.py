"""Folders and files readable by their owner only: the SQLite database and the files folder.

Password hashes, personal data and learners' uploads are not for the other accounts of the
machine, whatever the umask says: what we create is 0700 (folders) or 0600 (files). Folders
that exist already keep their mode (an operator chose it); certificate PDFs and exports are
not written through here and follow the umask.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private_dirs(path: Path) -> list[Path]:
    """``mkdir -p`` with every folder it makes 0700; the folders made, shallowest first."""
    missing = [p for p in [path, *path.parents] if not p.exists()]
    made: list[Path] = []
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # made meanwhile by another process: theirs, not ours
        os.chmod(folder, PRIVATE_DIR)  # the umask may have taken bits away; never adds any
        made.append(folder)
    return made


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty and 0600 if nothing is there (a link is not followed); whether
    it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return True


def others_can_read(path: Path) -> bool:
    """Whether the group or other accounts may read ``path`` (by its mode bits)."""
    return bool(os.stat(path).st_mode & (stat.S_IRGRP | stat.S_IROTH))


#: The back office's staging folder for uploaded import files and their plans, under the
#: files folder (a dot name: never a blob folder). Transient (a day at most) and left out of
#: backups: its plans are of the database as it was, not part of it.
WEB_IMPORTS_FOLDER = ".web-imports"
