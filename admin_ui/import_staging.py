"""Where the import page keeps an upload and its plan between "show the plan" and "apply it".

Each upload gets a folder of its own, named by a random id, in a private (0700) folder under
the files folder; its files are 0600. The id is remembered in the user's signed Flask session
and the client only ever names an id, never a path: an id the session does not hold, or that
is not of our shape, is "not found". Folders older than :data:`MAX_AGE` are removed when a new
upload is staged (an abandoned plan is not kept for ever: it may name personal data).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import session as flask_session
from werkzeug.utils import secure_filename

from lms_core.errors import ValidationError
from lms_core.imports.staged import ERRORS_NAME as ERRORS_NAME
from lms_core.imports.staged import StageFiles
from lms_core.private_paths import PRIVATE_FILE, WEB_IMPORTS_FOLDER, make_private_dirs
from lms_core.settings import Settings

#: The staging folder's name under ``settings.files_dir`` (dot: not a blob folder).
FOLDER = WEB_IMPORTS_FOLDER
#: The Flask session's list of this user's staged ids (newest last).
SESSION_KEY = "lms_import_stages"
#: How many staged uploads a session keeps reachable (older ones are forgotten).
KEEP = 5
#: Staged folders older than this are removed (seconds).
MAX_AGE = 24 * 3600
_ID = re.compile(r"\A[0-9a-f]{32}\Z")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Upload:
    """A file saved into a stage: where, how many bytes, how many line ends (a CSV's rows,
    near enough: the header and quoted line breaks count too)."""

    path: Path
    size: int
    lines: int
    #: A zip (XLSX, OneRoster): its line ends count nothing.
    zipped: bool = False

    @property
    def rows(self) -> int:
        """Data rows, near enough (a text file's lines but its header); 0 for a zip."""
        return 0 if self.zipped else max(self.lines - 1, 0)


@dataclass(frozen=True)
class Stage(StageFiles):
    """One staged upload: its folder, the files written there, and how the upload got in."""

    def save_upload(
        self, stream: IO[bytes], filename: str, limit_mb: int, *, part: str = "main"
    ) -> Upload:
        """Copy an uploaded file into the stage under a safe name; refused above ``limit_mb``.

        Each ``part`` (the main file, a courses import's lessons file) has a folder of its own,
        so two uploads of the same name never collide.
        """
        folder = self.inputs / part
        make_private_dirs(folder)
        name = secure_filename(filename or "") or "upload"
        target = folder / name
        limit = limit_mb * 1024 * 1024
        written = lines = 0
        head = b""
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as out:
            while block := stream.read(_CHUNK):
                written += len(block)
                if written > limit:
                    break
                lines += block.count(b"\n")
                head = head or block[:4]
                out.write(block)
        if written > limit:
            target.unlink(missing_ok=True)
            raise ValidationError(f"is larger than {limit_mb} MB", field="file", value=name)
        return Upload(target, written, lines, zipped=head.startswith(b"PK\x03\x04"))


def root(settings: Settings) -> Path:
    return settings.files_dir / FOLDER


def _known() -> list[str]:
    ids = flask_session.get(SESSION_KEY, [])
    return [i for i in ids if isinstance(i, str) and _ID.match(i)] if isinstance(ids, list) else []


def new_stage(settings: Settings) -> Stage:
    """A new, empty stage, remembered in the user's session; old stages swept first."""
    sweep(settings)
    stage_id = secrets.token_hex(16)
    folder = root(settings) / stage_id
    make_private_dirs(folder)
    flask_session[SESSION_KEY] = [*_known(), stage_id][-KEEP:]
    return Stage(stage_id, folder)


def find_stage(settings: Settings, stage_id: str) -> Stage | None:
    """The stage ``stage_id`` if this session made it and it is still there; else None."""
    if not _ID.match(stage_id or "") or stage_id not in _known():
        return None
    folder = root(settings) / stage_id
    return Stage(stage_id, folder) if folder.is_dir() else None


def sweep(settings: Settings, *, max_age: float = MAX_AGE) -> int:
    """Remove staged folders older than ``max_age`` seconds; how many were removed."""
    base = root(settings)
    if not base.is_dir():
        return 0
    cutoff = time.time() - max_age
    removed = 0
    for folder in base.iterdir():
        ours = _ID.match(folder.name) and folder.is_dir() and not folder.is_symlink()
        if ours and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
