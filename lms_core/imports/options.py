"""What the caller asks of one import: its mode, limits, and where to write the side files.

A module of its own so the stages (which build per-option pipelines) and the run (which takes
the options from the front doors) both read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class ImportOptions:
    mode: str = "upsert"
    #: Sync: refuse to remove more records than this (default: 10% of those in scope).
    max_removals: int | None = None
    #: Sync: remove above ``max_removals`` anyway.
    force: bool = False
    #: Read the file even when the last run of its kind applied these very bytes.
    recheck: bool = False
    dry_run: bool = False
    encoding: str | None = None
    sheet: str | None = None
    #: Courses: the lessons file (default: the ``lessons`` sheet of an XLSX courses file).
    lessons: Path | None = None
    #: Seconds to wait for another import's lock.
    wait: float = 0
    plan_out: Path | None = None
    errors_out: Path | None = None
    invites_out: Path | None = None
