"""Reports: a learner's, an instructor's, a course's and the site's figures (docs/reports.md).

Each answer is the very document ``lmsctl reports ... --format json`` prints, written by the
same writer (:func:`lms_core.reports.output.write_report`) from the same services, so the two
front doors cannot disagree. CSV and XLSX files are the CLI's (``-o FILE``) and the report
schedules' (``lmsctl schedules add --report``): every answer is checked against the JSON
model the OpenAPI document gives (:func:`_answer`), which a file is not.
The services apply the role rules (instructors: their own courses and their own report;
learners: their own student report; the system report: administrators), the token's
``reports:read`` scope narrows them. Unlike the CLI's operator, an API caller may be anyone
with an account: for all but administrators a learner, course or instructor they may not see
is the same 404 as an unknown one (as ``/attempts/{id}`` and certificate PDFs are), so the
API does not tell which e-mails or course slugs (unpublished ones too) exist. A report is read in the request's session and never
written: the request's unit of work is rolled back at its end.

The body is built whole before it is sent, and checked against ``ReportDocument``. A
report the API serves is a dashboard's (a course's item
analysis, a site's weekly series); a million-row export is the CLI's or a schedule's job.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from flask import Response
from pydantic import BaseModel, ConfigDict, Field

from admin_ui.api.blueprint import api
from admin_ui.api.caller import caller
from admin_ui.api.endpoint import Answer, endpoint
from lms_core.actor import Actor
from lms_core.reports.base import Period, Report

EMAIL = "<string(maxlength=320):email>"
SLUG = "<string(maxlength=200):slug>"
#: Text lengths of the query (a date or ISO time, a section's name).
WHEN_CHARS = 40


class ReportQuery(BaseModel):
    """The CLI's ``--since``, ``--until``, ``--section`` and ``--format``."""

    model_config = ConfigDict(extra="forbid")
    #: From this date or time on (``2026-01-31`` or ``2026-01-31T08:00``; UTC without offset).
    since: str | None = Field(None, max_length=WHEN_CHARS)
    #: Before this date or time (excluded); also the day at-risk and active learners count
    #: back from (default: now).
    until: str | None = Field(None, max_length=WHEN_CHARS)
    #: Only these sections (repeat the parameter for several).
    section: list[str] | None = Field(None, max_length=20)


class CourseReportQuery(ReportQuery):
    #: At risk: no activity for this many days (the CLI's ``--inactive-days``).
    inactive_days: int = Field(14, ge=1, le=3650)


class ReportDocument(BaseModel):
    """``lmsctl reports ... --format json``: each section a list of row objects keyed by its
    columns (docs/reports.md names every section and column)."""

    model_config = ConfigDict(extra="forbid")
    report: str
    subject: str
    since: str | None
    until: str | None
    sections: dict[str, list[dict[str, Any]]]


Build = Callable[[Period], Report]


def _unseen_as_unknown(actor: Actor, build: Build, *, field: str, value: str, what: str) -> Build:
    """For a caller other than an administrator, one 404 for "no such user or course" and
    "not yours to see": the services' two refusals (404 and 403) would tell a learner probing
    names which ones exist. An administrator sees every report, so its 404 says what is
    missing. The service's wording is dropped on purpose: it names the rule, hence the case."""
    from lms_core.errors import NotFound, PermissionDenied

    if actor.is_admin:
        return build

    def concealed(period: Period) -> Report:
        try:
            return build(period)
        except (NotFound, PermissionDenied):
            raise NotFound(f"no {what} you may see", field=field, value=value) from None

    return concealed


def _answer(query: ReportQuery, build: Build) -> Answer:
    """Parse the period, build the report as the caller, write it as the CLI's JSON."""
    from admin_ui.db import request_session
    from lms_core.reports.base import parse_when
    from lms_core.reports.output import write_report

    period = Period.of(parse_when(query.since, "since"), parse_when(query.until, "until"))
    report = build(period)
    if query.section:
        report = report.only(query.section)
    text = io.StringIO()
    write_report(request_session(), report, "json", text)
    body = text.getvalue()
    # The writer's document, checked against the model the OpenAPI document describes (a
    # mismatch is a bug: a 500), and sent as the writer wrote it, byte for byte the CLI's.
    ReportDocument.model_validate_json(body)
    return Response(body, mimetype="application/json")


@api.get(f"/reports/student/{EMAIL}")
@endpoint(scope="reports:read", tag="reports", ok=ReportDocument, query=ReportQuery, snapshot=True)
def student_report(email: str, query: ReportQuery) -> Answer:
    """A learner's figures (lmsctl reports student): courses, quizzes, assignments."""
    from admin_ui.db import request_session
    from lms_core.reports.student import student_report as build

    actor = caller().actor
    return _answer(
        query,
        _unseen_as_unknown(
            actor,
            lambda p: build(request_session(), actor=actor, email=email, period=p),
            field="email",
            value=email,
            what=f"learner {email} whose figures",
        ),
    )


@api.get(f"/reports/instructor/{EMAIL}")
@endpoint(scope="reports:read", tag="reports", ok=ReportDocument, query=ReportQuery, snapshot=True)
def instructor_report(email: str, query: ReportQuery) -> Answer:
    """An instructor's courses (lmsctl reports instructor); instructors: their own only."""
    from admin_ui.db import request_session
    from lms_core.reports.instructor import instructor_report as build

    actor = caller().actor
    return _answer(
        query,
        _unseen_as_unknown(
            actor,
            lambda p: build(request_session(), actor=actor, email=email, period=p),
            field="email",
            value=email,
            what=f"instructor {email} whose figures",
        ),
    )


@api.get(f"/reports/course/{SLUG}")
@endpoint(
    scope="reports:read", tag="reports", ok=ReportDocument, query=CourseReportQuery, snapshot=True
)
def course_report(slug: str, query: CourseReportQuery) -> Answer:
    """A course's figures (lmsctl reports course); instructors: the courses they teach."""
    from admin_ui.db import request_session
    from lms_core.reports.course import course_report as build

    actor = caller().actor
    return _answer(
        query,
        _unseen_as_unknown(
            actor,
            lambda p: build(
                request_session(),
                actor=actor,
                slug=slug,
                period=p,
                inactive_days=query.inactive_days,
            ),
            field="course_slug",
            value=slug,
            what=f"course {slug} whose report",
        ),
    )


@api.get("/reports/system")
@endpoint(scope="reports:read", tag="reports", ok=ReportDocument, query=ReportQuery, snapshot=True)
def system_report(query: ReportQuery) -> Answer:
    """The site's figures (lmsctl reports system); administrators only."""
    from admin_ui.db import request_session
    from lms_core.reports.system import system_report as build

    actor = caller().actor
    return _answer(query, lambda p: build(request_session(), actor=actor, period=p))
