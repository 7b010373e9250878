"""A report schedule's run: the report written to the slot's file, and mailed if asked.

The report is the one ``lmsctl reports`` writes (the same services and writers), as at the
slot: the period ends at the slot (excluded), so at-risk and active learners count back from
it, and a retry of the slot's job writes the same figures for the same rows; ``days`` keeps
only the days before it. It runs as the system (an administrator's rights), as every
scheduled export does: a schedule is added by an administrator.

The mail goes to every active administrator, one outbox row each, keyed
``report:<schedule>:<slot>:<user id>``: the slot's job run again (a retry, a second worker)
queues nothing more, so each administrator gets one mail per slot. It is queued in the
transaction that records the run, so a run recorded always has its mails; the file is read
when the mail is sent (``mail_outbox.attachment_path``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.models import Role, User
from lms_core.models.schedules import ExportSchedule
from lms_core.reports.base import Period, Report
from lms_core.settings import Settings

#: The mail's template (lms_core/mail/templates/scheduled_report.*).
TEMPLATE = "scheduled_report"


def period_of(args: dict[str, Any], at: datetime) -> Period:
    """Everything before the slot, or its last ``days`` days."""
    until = at.astimezone(UTC).replace(microsecond=0)
    days = args.get("days")
    since = until - timedelta(days=int(days)) if days else None
    return Period.of(since, until)


def build_report(session: Session, schedule: ExportSchedule, at: datetime) -> Report:
    """The schedule's report as at ``at`` (see the module docstring)."""
    args = dict(schedule.args)
    actor = Actor.system(f"report-schedule:{schedule.name}")
    period = period_of(args, at)
    kind = str(args["report"])
    if kind == "system":
        from lms_core.reports.system import system_report

        return system_report(session, actor=actor, period=period)
    if kind == "course":
        from lms_core.reports.course import course_report

        return course_report(session, actor=actor, slug=str(args["course"]), period=period)
    if kind == "instructor":
        from lms_core.reports.instructor import instructor_report

        return instructor_report(session, actor=actor, email=str(args["user"]), period=period)
    from lms_core.reports.student import student_report

    return student_report(session, actor=actor, email=str(args["user"]), period=period)


def subject_of(args: dict[str, Any]) -> str:
    """``course intro-python``, ``system``: what the mail's subject line names."""
    kind = str(args.get("report"))
    subject = args.get("course") or args.get("user")
    return f"{kind} {subject}" if subject else kind


def mail_key(name: str, at: datetime, user_id: int) -> str:
    return f"report:{name}:{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}:{user_id}"


def active_admins() -> Select[User]:
    """Who a report's mail goes to: every active, not deleted administrator, by id."""
    return (
        select(User)
        .where(
            User.role == Role.admin.value,
            User.is_active.is_(True),
            User.deleted_at.is_(None),
        )
        .order_by(User.id)
    )


def mail_report(
    session: Session,
    settings: Settings,
    *,
    name: str,
    args: dict[str, Any],
    path: Path,
    at: datetime,
    rows: int,
) -> list[int]:
    """Queue the file's mail to every active administrator (flush only); the outbox ids."""
    from lms_core.mail.outbox import queue_mail

    ids: list[int] = []
    for admin in session.scalars(active_admins()):
        mail = queue_mail(
            session,
            template=TEMPLATE,
            to=admin.email,
            context={
                "full_name": admin.full_name,
                "schedule": name,
                "report": subject_of(args),
                "file_name": path.name,
                "rows": rows,
                "slot": f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
            },
            key=mail_key(name, at, admin.id),
            base_url=settings.public_base_url,
            attachment=str(path),
        )
        ids.append(mail.id)
    return ids
