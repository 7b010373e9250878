"""A course's certificate folder, and the clean-up of PDFs that no certificate names.

A run killed before its batch committed leaves PDFs (and temporary files) that no row names;
the next issue run on the course removes them (:func:`remove_orphans`), carefully: deleting
a file wrongly loses a certificate, keeping one wrongly only costs disk.
"""

from __future__ import annotations

import re
import stat
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.certificates.numbers import LEGACY_CHECK_SYMBOLS, PREFIX, SYMBOLS
from lms_core.files_identity import claim_files_dir
from lms_core.formats.atomic import TMP_SUFFIX
from lms_core.models import Certificate, Enrollment
from lms_core.settings import Settings


def certificates_dir(settings: Settings, course_id: int) -> Path:
    return settings.files_dir / "certificates" / str(course_id)


#: Files younger than this are never removed as orphans (see :func:`remove_orphans`).
ORPHAN_GRACE_SECONDS = 600.0
#: What a run writes into a course's folder: ``<number>.pdf`` (current or legacy check
#: symbol) and the temporary files of :mod:`lms_core.formats.atomic` for them. Nothing else
#: there is ours to delete.
_NUMBER = (
    f"{PREFIX}-[{re.escape(SYMBOLS)}]{{4}}-[{re.escape(SYMBOLS)}]{{4}}"
    f"-[{re.escape(LEGACY_CHECK_SYMBOLS)}]"
)
_OURS = re.compile(rf"{_NUMBER}\.pdf|\.{_NUMBER}\.pdf\.[0-9a-f]+{re.escape(TMP_SUFFIX)}")


def is_ours(name: str) -> bool:
    """Whether ``name`` is a certificate PDF, or one being written, by its name alone."""
    return _OURS.fullmatch(name) is not None


def remove_orphans(
    session: Session, settings: Settings, course_id: int, *, grace: float = ORPHAN_GRACE_SECONDS
) -> int:
    """Delete PDFs (and temporary files) of this course that no certificate row names.

    Only for a caller holding the course's ``certificates-<course id>`` lock: within one
    database every writer of this folder (issue, reissue, renumber, demo seed) holds it until
    its rows commit, so a PDF no row names is a leftover of a run that died. Two more guards,
    because a file deleted wrongly is a certificate lost, while one kept wrongly costs only
    disk: the folder must be this database's (:func:`claim_files_dir`: another database's
    stamp is refused), and only files that are ours by name (``<number>.pdf`` and their
    temporary files) and older than ``grace`` seconds are removed. A writer outside the lock
    (a process of an older version, a database that wrote before the folder was stamped)
    commits within seconds of writing its PDF; a dead run's leftovers are removed by the
    first run after the grace period.
    """
    claim_files_dir(session, settings)
    folder = certificates_dir(settings, course_id)
    if not folder.is_dir():
        return 0
    known = set(
        session.scalars(
            select(Certificate.pdf_path)
            .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
            .where(Enrollment.course_id == course_id)
        )
    )
    cutoff = time.time() - grace
    removed = 0
    for path in folder.iterdir():
        if not is_ours(path.name) or str(path.relative_to(settings.files_dir)) in known:
            continue
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
