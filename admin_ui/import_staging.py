"""Where the import page keeps an upload and its plan between "show the plan" and "apply it".

Each upload gets a folder of its own, named by a random id, in a private (0700) folder under
the files folder; its files are 0600. The id is remembered in the user's signed Flask session
and the client only ever names an id, never a path: an id the session does not hold, or that
is not of our shape, is "not found". Folders older than :data:`MAX_AGE` are removed when a new
upload is staged (an abandoned plan is not kept for ever: it may name personal data).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask import session as flask_session
from werkzeug.utils import secure_filename

from lms_core.errors import ValidationError
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
#: The errors files an import writes: ``errors.csv``, then ``errors.<table>.csv`` for each
#: further table (a courses file's lessons, OneRoster's tables). Only these names are served.
ERRORS_NAME = re.compile(r"\Aerrors(\.[a-z_]+)?\.csv\Z")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Stage:
    """One staged upload: its folder and the files the import page writes there."""

    id: str
    folder: Path

    @property
    def inputs(self) -> Path:
        return self.folder / "input"

    @property
    def plan(self) -> Path:
        return self.folder / "plan.json"

    @property
    def errors(self) -> Path:
        return self.folder / "errors.csv"

    def errors_files(self) -> list[str]:
        """The names of the stage's errors files, ``errors.csv`` first (the main table)."""
        if not self.folder.is_dir():
            return []
        found = [p.name for p in self.folder.iterdir() if self.errors_file(p.name) is not None]
        return sorted(found, key=lambda name: (name != self.errors.name, name))

    def errors_file(self, name: str) -> Path | None:
        """The errors file ``name`` of the stage, or None: any other name (a path, the plan, a
        link) is never served."""
        if not ERRORS_NAME.match(name):
            return None
        path = self.folder / name
        return path if path.is_file() and not path.is_symlink() else None

    @property
    def report(self) -> Path:
        return self.folder / "report.json"

    @property
    def applied(self) -> Path:
        return self.folder / "applied.json"

    def read(self, path: Path) -> dict[str, Any] | None:
        """A JSON file of the stage, or None when it is not there."""
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return data

    def write(self, path: Path, data: dict[str, Any]) -> None:
        """A JSON file of the stage, 0600, replaced whole (never half-written)."""
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, default=str, ensure_ascii=False)
        os.replace(tmp, path)

    def save_upload(
        self, stream: IO[bytes], filename: str, limit_mb: int, *, part: str = "main"
    ) -> Path:
        """Copy an uploaded file into the stage under a safe name; refused above ``limit_mb``.

        Each ``part`` (the main file, a courses import's lessons file) has a folder of its own,
        so two uploads of the same name never collide.
        """
        folder = self.inputs / part
        make_private_dirs(folder)
        name = secure_filename(filename or "") or "upload"
        target = folder / name
        limit = limit_mb * 1024 * 1024
        written = 0
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as out:
            while block := stream.read(_CHUNK):
                written += len(block)
                if written > limit:
                    break
                out.write(block)
        if written > limit:
            target.unlink(missing_ok=True)
            raise ValidationError(f"is larger than {limit_mb} MB", field="file", value=name)
        return target

    def discard_inputs(self) -> None:
        """Remove the uploaded files once planned: applying reads the plan only, and an upload
        may hold passwords (its errors file leaves them out)."""
        shutil.rmtree(self.inputs, ignore_errors=True)


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
