"""``/admin/reports/``: the course, student and site reports as pages with charts, and as
CSV/XLSX downloads written by the CLI's writer (:mod:`lms_core.reports.output`).

Rights are the services' own (:mod:`lms_core.reports`): an instructor opens the reports of
the courses they teach and gets 403 on another's; learners are refused every page here by the
view's role rule. ``?since=`` and ``?until=`` narrow the period as ``--since/--until`` do; a
date that cannot be read is shown on the form (400), never a server error.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from typing import Any

from flask import Response, abort, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_ui.auth import current_actor
from admin_ui.db import request_session
from admin_ui.exports import XLSX_TYPE
from admin_ui.views import STAFF, SecureBaseView
from lms_core import scopes
from lms_core.actor import Actor
from lms_core.errors import NotFound, PermissionDenied, ValidationError
from lms_core.models import Course
from lms_core.reports.base import Period, Report

FORMATS = ("csv", "xlsx")
Build = Callable[[Session, Actor, Period], Report]


def _refusing(call: Callable[[], Any], *, by_email: bool = False) -> Any:
    """Run a report service; its refusals become 403 and 404 (never a traceback).

    A report named by a person's email (``by_email``) answers a viewer other than an
    administrator 404 whether the person exists outside their scope or not at all: a 403
    would tell an instructor which addresses have accounts on the site.
    """
    try:
        return call()
    except PermissionDenied:
        abort(404 if by_email and not current_actor().is_admin else 403)
    except NotFound:
        abort(404)


def _url(endpoint: str, **values: str) -> str:
    """``url_for`` with query values (its stubs type ``**values`` as its keyword flags)."""
    return url_for(endpoint, **values)  # type: ignore[arg-type]


def period_args() -> dict[str, str]:
    """The period's query parameters, to carry into the download links."""
    return {k: request.args[k] for k in ("since", "until") if request.args.get(k)}


def download(build: Build, name: str, fmt: str, *, by_email: bool = False) -> Response:
    """The report as ``name.csv`` or ``name.xlsx``: the CLI's writer (formula-safe cells),
    CSV with a BOM as ``lmsctl reports -o FILE.csv`` writes it."""
    from admin_ui.report_figures import period_from
    from lms_core.reports.output import write_report

    if fmt not in FORMATS:
        abort(404)
    period, errors = period_from(request.args)
    if errors:
        return Response(errors[0]["message"], status=400, mimetype="text/plain")
    session, actor = request_session(), current_actor()
    report = _refusing(lambda: build(session, actor, period), by_email=by_email)
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115  # closed on close
    if fmt == "csv":
        text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
        write_report(session, report, "csv", text)
        text.flush()
        text.detach()
    else:
        write_report(session, report, "xlsx", spool)
    spool.seek(0)
    mimetype = "text/csv" if fmt == "csv" else XLSX_TYPE
    response = Response(spool, mimetype=mimetype, direct_passthrough=True)
    response.call_on_close(spool.close)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


class ReportsView(SecureBaseView):
    """Reports: the courses the viewer may report on, each course's report page, downloads."""

    allowed_roles = STAFF

    @expose("/")  # type: ignore[untyped-decorator]  # flask-admin is untyped
    def index(self) -> ResponseReturnValue:
        """The courses in the viewer's scope, each a link to its report (one query)."""
        actor = current_actor()
        stmt = select(Course.slug, Course.title, Course.is_published).order_by(Course.slug)
        clause = scopes.courses(actor)
        if clause is not None:
            stmt = stmt.where(clause)
        courses = request_session().execute(stmt).all()
        page: str = self.render("admin/reports/index.html", courses=courses, actor=actor)
        return page

    @expose("/course/<slug>/")  # type: ignore[untyped-decorator]
    def course(self, slug: str) -> ResponseReturnValue:
        """A course's report: summary, charts and tables of every section."""
        from admin_ui.report_figures import course_figures, period_from

        period, errors = period_from(request.args)
        session, actor = request_session(), current_actor()
        figures = _refusing(lambda: course_figures(session, actor, slug, period))
        page: str = self.render(
            "admin/reports/course.html",
            slug=slug,
            title=session.scalar(select(Course.title).where(Course.slug == slug)),
            figures=figures,
            errors=errors,
            period=period_args(),
            downloads={f: _url(".course_file", slug=slug, fmt=f, **period_args()) for f in FORMATS},
        )
        return (page, 400) if errors else page

    @expose("/course/<slug>.<fmt>")  # type: ignore[untyped-decorator]
    def course_file(self, slug: str, fmt: str) -> ResponseReturnValue:
        from lms_core.reports.course import course_report

        return download(
            lambda s, a, p: course_report(s, actor=a, slug=slug, period=p), f"course-{slug}", fmt
        )

    @expose("/system.<fmt>")  # type: ignore[untyped-decorator]
    def system_file(self, fmt: str) -> ResponseReturnValue:
        from lms_core.reports.system import system_report

        return download(lambda s, a, p: system_report(s, actor=a, period=p), "system", fmt)

    @expose("/instructor.<fmt>")  # type: ignore[untyped-decorator]
    def instructor_file(self, fmt: str) -> ResponseReturnValue:
        from lms_core.reports.instructor import instructor_report

        actor = current_actor()
        email = (request.args.get("email") or "").strip()
        if not email and actor.is_admin:  # their own report would be an empty file
            return Response(
                "email: give the instructor whose report to download "
                "(/admin/reports/instructor.csv?email=...)",
                status=400,
                mimetype="text/plain",
            )
        return download(
            lambda s, a, p: instructor_report(s, actor=a, email=email or a.label, period=p),
            "instructor",
            fmt,
            by_email=True,
        )

    @expose("/student/")  # type: ignore[untyped-decorator]
    def student(self) -> ResponseReturnValue:
        """A learner's report (an instructor sees only their courses' enrollments)."""
        from admin_ui.report_figures import period_from, student_tables

        email = (request.args.get("email") or "").strip()
        period, errors = period_from(request.args)
        tables: dict[str, Any] = {}
        if email and not errors:
            session, actor = request_session(), current_actor()
            try:
                tables = _refusing(
                    lambda: student_tables(session, actor, email, period), by_email=True
                )
            except ValidationError as error:
                errors = [{"field": "email", "value": email, "message": str(error)}]
        args = {**period_args(), "email": email}
        page: str = self.render(
            "admin/reports/student.html",
            email=email,
            tables=tables,
            errors=errors,
            period=period_args(),
            downloads={f: _url(".student_file", fmt=f, **args) for f in FORMATS},
        )
        return (page, 400) if errors else page

    @expose("/student.<fmt>")  # type: ignore[untyped-decorator]
    def student_file(self, fmt: str) -> ResponseReturnValue:
        from lms_core.reports.student import student_report

        email = request.args.get("email", "")
        return download(
            lambda s, a, p: student_report(s, actor=a, email=email, period=p),
            "student",
            fmt,
            by_email=True,
        )


def views() -> list[BaseView]:
    return [ReportsView(name="Reports", endpoint="reports")]
