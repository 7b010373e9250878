"""Export schedules: add, list, remove (services: flush only, audited), and which slots are due.

A schedule names an export (the gradebook of a course, enrollments, users, courses) or a
report (the system's, a course's, an instructor's, a learner's: :mod:`lms_core.reports`,
maybe mailed to the administrators), a cron expression (UTC), a folder and how many files
to keep. The ``exports.dispatch`` periodic job
(``jobs/schedule.py``, every minute) asks :func:`due_slots` which schedules have a slot due
and queues one ``exports.scheduled`` job per slot, keyed ``export:<name>:<slot minute>``:
however many workers (or crons) look, each slot is exported once (``lms_core.exports.jobs``).

The cron dialect is the one of the periodic jobs' table (:mod:`lms_core.jobs.cron`, plain
Python: ``lms_core`` never imports Huey or ``jobs``), so that a schedule and a periodic job
never disagree on what ``*/15`` or a day of the week means.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.errors import Conflict, NotFound, ValidationError
from lms_core.jobs.cron import CronError
from lms_core.jobs.cron import latest_slot as cron_latest_slot
from lms_core.jobs.cron import parse as parse_cron
from lms_core.models import utcnow
from lms_core.models.schedules import ExportKind, ExportSchedule
from lms_core.permissions import require_admin

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: How far back a missed slot is still exported (as the periodic jobs' catch-up).
CATCH_UP = timedelta(days=8)
#: The formats each export writes to a file.
FORMATS: dict[str, tuple[str, ...]] = {
    ExportKind.gradebook: ("csv", "xlsx", "json"),
    ExportKind.enrollments: ("csv", "xlsx"),
    ExportKind.users: ("csv", "xlsx"),
    ExportKind.courses: ("csv", "xlsx"),
    ExportKind.report: ("csv", "xlsx", "json"),
}
#: The reports a schedule may run, and what names each one's subject.
REPORTS: dict[str, str | None] = {
    "system": None,
    "course": "course",
    "instructor": "user",
    "student": "user",
}
#: The longest window a report schedule may look back (``days``): ten years.
MAX_DAYS = 3650
MAX_KEEP = 10_000
#: What the audit log keeps of a schedule added or removed.
AUDITED = ("name", "cron", "export_kind", "args", "folder", "keep", "enabled")
ROW_FIELDS = (
    "name",
    "cron",
    "export",
    "args",
    "folder",
    "keep",
    "enabled",
    "last_run_at",
    "last_file",
    "last_error",
    "created_by",
    "created_at",
)


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_RE.fullmatch(name):
        raise ValidationError(
            "must be 1 to 64 letters, digits, '-' or '_', starting with a letter or digit "
            "(it names the schedule's files)",
            field="name",
            value=name,
        )
    return name


def check_cron(cron: str) -> str:
    """Five valid fields, in one spacing; the error names the field that is not."""
    try:
        return parse_cron(cron).text
    except CronError as exc:
        raise ValidationError(str(exc), field="cron", value=cron) from None


def check_folder(folder: Path | str) -> Path:
    """An existing folder this process can write in, as an absolute path (a worker runs in
    another folder than the shell that added the schedule)."""
    path = Path(folder).expanduser()
    try:
        path = path.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise ValidationError(
            f"folder {folder} does not exist: create it first", field="to", value=str(folder)
        ) from None
    except OSError as exc:
        raise ValidationError(
            f"folder {folder}: {exc.strerror or exc}", field="to", value=str(folder)
        ) from None
    if not path.is_dir():
        raise ValidationError(f"{folder} is not a folder", field="to", value=str(folder))
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValidationError(
            f"folder {folder} is not writable by this user", field="to", value=str(folder)
        )
    return path


def _check_report_args(
    session: Session, report: ReportSpec, course: str | None, user: str | None
) -> dict[str, Any]:
    """A report schedule's ``args`` past the format: which report, its subject (checked to
    exist now, so a typo is refused when added rather than at 2 a.m.), its window, the mail."""
    from lms_core.accounts.users import get_user

    if report.kind not in REPORTS:
        raise ValidationError(
            f"must be one of {', '.join(REPORTS)}", field="report", value=report.kind
        )
    needs = REPORTS[report.kind]
    given = {"course": course, "user": user}
    for name, value in given.items():
        if value and name != needs:
            wanted = f"its {needs}" if needs else "no subject"
            raise ValidationError(
                f"a {report.kind} report takes {wanted}: leave the {name} out",
                field=name,
                value=value,
            )
    args: dict[str, Any] = {"report": report.kind, "mail": report.mail}
    if needs == "course":
        if not course:
            raise ValidationError("a course report needs the course (its slug)", field="course")
        args["course"] = get_course(session, course).slug  # NotFound names the slug
    elif needs == "user":
        if not user:
            raise ValidationError(
                f"a {report.kind} report needs the {report.kind}'s e-mail", field="user"
            )
        args["user"] = get_user(session, user).email  # NotFound names the e-mail
    if report.days is not None:
        if not 1 <= report.days <= MAX_DAYS:
            raise ValidationError(f"must be 1 to {MAX_DAYS}", field="days", value=report.days)
        args["days"] = report.days
    return args


@dataclass(frozen=True)
class ReportSpec:
    """What a report schedule runs: ``kind`` (system, course, instructor, student), the
    ``days`` before each slot it covers (None: everything before the slot), and whether its
    file is mailed to the administrators."""

    kind: str
    days: int | None = None
    mail: bool = False


def _check_args(
    session: Session,
    kind: str,
    fmt: str,
    course: str | None,
    report: ReportSpec | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    if kind == ExportKind.report or report is not None:
        if kind != ExportKind.report or report is None:
            raise ValidationError(
                "a report schedule names its report, and its export kind is report",
                field="report",
                value=report.kind if report else None,
            )
        if fmt not in FORMATS[kind]:
            raise ValidationError(
                f"a report is written as {', '.join(FORMATS[kind])}", field="format", value=fmt
            )
        return {"format": fmt, **_check_report_args(session, report, course, user)}
    if user:
        raise ValidationError(
            f"a {kind} export names no user: leave it out", field="user", value=user
        )
    if fmt not in FORMATS[kind]:
        raise ValidationError(
            f"a {kind} export is written as {', '.join(FORMATS[kind])}", field="format", value=fmt
        )
    if kind == ExportKind.gradebook and not course:
        raise ValidationError("a gradebook export needs the course (its slug)", field="course")
    if kind == ExportKind.users and course:
        raise ValidationError(
            "a users export has no course: leave the course out", field="course", value=course
        )
    args: dict[str, Any] = {"format": fmt}
    if course:
        get_course(session, course)  # NotFound names the slug
        args["course"] = course
    return args


def add_schedule(
    session: Session,
    *,
    actor: Actor,
    name: str,
    cron: str,
    export: str,
    folder: Path | str,
    keep: int = 7,
    fmt: str = "csv",
    course: str | None = None,
    report: ReportSpec | None = None,
    user: str | None = None,
) -> ExportSchedule:
    """Add a schedule after checking everything a run needs (flushed, audited). A report
    schedule is ``export="report"`` with ``report`` and its subject (``course`` or ``user``).
    """
    require_admin(actor, "add export schedules")
    name = check_name(name)
    cron = check_cron(cron)
    if export not in ExportKind.__members__:
        raise ValidationError(
            f"must be one of {', '.join(ExportKind.__members__)}", field="export", value=export
        )
    if not 1 <= keep <= MAX_KEEP:
        raise ValidationError(f"must be 1 to {MAX_KEEP}", field="keep", value=keep)
    args = _check_args(session, export, fmt, course, report, user)
    path = check_folder(folder)
    if session.scalars(select(ExportSchedule.id).where(ExportSchedule.name == name)).first():
        raise Conflict(f"a schedule named {name} exists already", field="name", value=name)
    schedule = ExportSchedule(
        name=name,
        cron=cron,
        export_kind=export,
        args=args,
        folder=str(path),
        keep=keep,
        enabled=True,
        created_by=actor.label,
        created_by_id=actor.user_id,
        created_at=utcnow(),
    )
    session.add(schedule)
    session.flush()
    audit.record(
        session, actor, "export_schedule.add", schedule, after=audit.snapshot(schedule, AUDITED)
    )
    return schedule


def schedule_row(schedule: ExportSchedule) -> dict[str, Any]:
    """A schedule as ``schedules list`` prints it."""
    row = {f: getattr(schedule, f) for f in ROW_FIELDS if f != "export"}
    row["export"] = schedule.export_kind
    return {f: row[f] for f in ROW_FIELDS}


def schedules_query(session: Session, *, actor: Actor) -> Select[Any]:
    require_admin(actor, "list export schedules")
    return select(ExportSchedule).order_by(ExportSchedule.name)


def get_schedule(session: Session, *, actor: Actor, name: str) -> ExportSchedule:
    require_admin(actor, "see export schedules")
    found = session.scalars(select(ExportSchedule).where(ExportSchedule.name == name)).first()
    if found is None:
        raise NotFound(f"no export schedule named {name}", field="name", value=name)
    return found


def remove_schedule(session: Session, *, actor: Actor, name: str) -> dict[str, Any]:
    """Delete the schedule (its files stay); the row it had."""
    schedule = get_schedule(session, actor=actor, name=name)
    row = schedule_row(schedule)
    before = audit.snapshot(schedule, AUDITED)
    audit.record(session, actor, "export_schedule.remove", schedule, before=before)
    session.delete(schedule)
    session.flush()
    return row


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def due_slots(
    session: Session, now: datetime | None = None
) -> list[tuple[ExportSchedule, datetime]]:
    """Each enabled schedule with its latest slot at or before ``now``, if that slot is not
    earlier than the minute the schedule was added (a new nightly schedule waits for its
    first night). Slots already queued are the caller's to skip (by key).

    The search goes back no further than the schedule's creation (and 8 days), a few steps
    per schedule (:meth:`lms_core.jobs.cron.Cron.previous`), so the dispatcher's write
    transaction stays short."""
    moment = now or utcnow()
    found: list[tuple[ExportSchedule, datetime]] = []
    stmt = select(ExportSchedule).where(ExportSchedule.enabled.is_(True))
    for schedule in session.scalars(stmt.order_by(ExportSchedule.name)):
        created = _minute(schedule.created_at)
        try:
            slot = cron_latest_slot(
                schedule.cron, moment, since=max(created, _minute(moment) - CATCH_UP)
            )
        except CronError:  # checked when added; a row edited by hand is skipped, not fatal
            continue
        if slot is not None and slot >= created:
            found.append((schedule, slot))
    return found


def slot_key(name: str, slot: datetime) -> str:
    """The ledger key of a slot's export job: one job, one file, per schedule and minute."""
    return f"export:{name}:{slot:%Y-%m-%dT%H:%M}"
