"""Export schedules: a named export (gradebook, enrollments, users, courses) or report
(system, course, instructor, student; optionally mailed to the administrators) written to a
folder on a cron schedule, keeping the newest ``keep`` files.

The ``exports.dispatch`` periodic job queues one ``exports.scheduled`` job per due slot
(key ``export:<name>:<slot minute>``), so each slot is exported once however many workers
look; the row keeps what the last run did, for ``lmsctl schedules list`` (docs/export.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.models.base import Base, utcnow
from lms_core.models.users import _in


class ExportKind(StrEnum):
    gradebook = "gradebook"
    enrollments = "enrollments"
    users = "users"
    courses = "courses"
    #: A report of lms_core.reports; ``args`` names which (``report``, ``course``/``user``).
    report = "report"


class ExportSchedule(Base):
    __tablename__ = "export_schedules"
    __table_args__ = (
        CheckConstraint(_in("export_kind", ExportKind), name="export_kind_valid"),
        CheckConstraint("keep >= 1", name="keep_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Names the schedule and its files (``<name>-<UTC timestamp>.<ext>``): letters, digits,
    #: ``-`` and ``_``, so it is safe in a file name and a job key.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: Five cron fields, UTC (minute hour day-of-month month day-of-week).
    cron: Mapped[str] = mapped_column(String(200))
    export_kind: Mapped[str] = mapped_column(String(20))
    #: The export's options: ``format`` (csv, xlsx; json for the gradebook and reports),
    #: ``course`` (slug); a report's ``report`` (system, course, instructor, student), ``user``
    #: (the instructor's or learner's e-mail), ``days`` (only the days before the slot) and
    #: ``mail`` (mail the file to the administrators).
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Absolute path of the folder the files go to; it must exist when the export runs.
    folder: Mapped[str] = mapped_column(Text)
    #: How many of this schedule's files to keep (the newest, by the timestamp in the name).
    keep: Mapped[int] = mapped_column(default=7)
    enabled: Mapped[bool] = mapped_column(default=True)
    last_run_at: Mapped[datetime | None]
    last_file: Mapped[str | None] = mapped_column(Text)
    #: The last run's error, cleared by the next success.
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Who added it (``cli:<os user>`` or an administrator's e-mail).
    created_by: Mapped[str] = mapped_column(String(320))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
