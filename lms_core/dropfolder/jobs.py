"""Job kinds of the drop folder: ``dropfolder.scan`` (every minute) and ``dropfolder.import``.

The scan only looks and queues; each complete file is imported by its own job, keyed by the
checksum of its bytes, so one slow or failing file holds no other back and the same bytes
are imported once (lms_core.dropfolder.scan, lms_core.dropfolder.importer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lms_core.dropfolder.importer import import_dropped
from lms_core.dropfolder.scan import IMPORT_KIND, scan
from lms_core.jobs.registry import JobContext, handler


@handler("dropfolder.scan", max_attempts=1, lease_seconds=120)
def scan_folder(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Queue an import per complete new file of ``LMS_IMPORT_DROP_DIR`` (off when unset)."""
    folder = ctx.settings.import_drop_dir
    if folder is None:
        return {"enabled": False}
    report = scan(
        ctx.session_factory, Path(folder), stable_seconds=ctx.settings.import_drop_stable_seconds
    )
    return {"enabled": True, **report.as_dict()}


# The lease covers the slowest import we expect (a large OneRoster bundle); a shorter one
# would let a second worker start the same file while the first still imports it (the
# import lock would then make the second wait, not import twice).
@handler(IMPORT_KIND, max_attempts=5, lease_seconds=3600)
def import_file(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Import one dropped file once, then move it to ``processed/`` or ``failed/``."""
    folder = ctx.settings.import_drop_dir
    if folder is None:
        raise RuntimeError("LMS_IMPORT_DROP_DIR is not set: cannot import a dropped file")
    return import_dropped(ctx.session_factory, ctx.settings, Path(folder), args)
