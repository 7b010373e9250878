"""Back-office enrollments: the list (by course and status), drop, and "enroll into a course".

Staff see the enrollments of the courses they may manage (``lms_core.scopes.enrollments``).
Dropping and enrolling call ``lms_core.catalog.enrollments`` for each selected row in one
unit of work: the service decides (an instructor enrolls only into their own courses).
The enroll page is the follow-up of the users list's "Enroll into a course" action.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_wtf import FlaskForm
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from wtforms import SelectField  # type: ignore[import-untyped]
from wtforms.validators import InputRequired  # type: ignore[import-untyped]

from admin_ui.db import request_session, run_service
from admin_ui.modelviews.base import STAFF, StaffModelView
from admin_ui.modelviews.labels import human_labels
from admin_ui.modelviews.selection import (
    act_on_each,
    names,
    plural,
    row_ids,
    time_formatters,
)
from lms_core import scopes
from lms_core.actor import Actor
from lms_core.models import Course, Enrollment, EnrollmentStatus, User

_STATUSES = [(s.value, s.value) for s in EnrollmentStatus]


class CourseSlugFilter(FilterEqual):  # type: ignore[misc]  # flask-admin is untyped
    """Enrollments of the course with this slug: ``course_id = (the slug's id)``, no join.

    An equality (slugs are unique), not ``IN``: the (course, enrolled_at) index then gives
    the page in order; with ``IN`` SQLite sorted all of a course's enrollments per page. The
    filter is declared on ``Enrollment.course_id`` so that Flask-Admin joins no courses.
    """

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        course_id = select(Course.id).where(Course.slug == value.strip()).scalar_subquery()
        return query.filter(Enrollment.course_id == course_id)


class EnrollForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships partial types
    #: The courses offered are the actor's; any other slug is for the service to refuse.
    course = SelectField("Course", validators=[InputRequired()], validate_choice=False)


class EnrollmentView(StaffModelView):
    """Enrollments in the courses the actor manages."""

    allowed_roles = STAFF
    list_columns_only = True  # the formatters read listed columns only
    column_list = (
        "student.email",
        "course.slug",
        "status",
        "progress_percentage",
        "enrolled_at",
        "completed_at",
    )
    column_details_list = (
        "student.email",
        "student.full_name",
        "course.slug",
        "course.title",
        "status",
        "progress_percentage",
        "enrolled_at",
        "completed_at",
        "dropped_at",
        "rating",
        "review",
    )
    export_columns = (
        "student.email",
        "course.slug",
        "status",
        "progress_percentage",
        "enrolled_at",
        "completed_at",
        "dropped_at",
    )
    column_labels = {
        **human_labels(column_list, column_details_list),
        "student.email": "Learner",
        "student.full_name": "Name",
        "course.slug": "Course",
        "course.title": "Course title",
        "progress_percentage": "Progress %",
    }
    column_sortable_list = (
        "student.email",
        "course.slug",
        "status",
        "progress_percentage",
        "enrolled_at",
        "completed_at",
    )
    # Newest first; the id decides between enrollments of the same instant (an import's rows
    # share its transaction's timestamp), so a page's rows are the same on every request.
    column_default_sort = [("enrolled_at", True), ("id", True)]
    column_searchable_list = ("student.email",)
    column_filters = (
        CourseSlugFilter(Enrollment.course_id, "Course (slug)"),
        FilterEqual(Enrollment.status, "Status", options=_STATUSES),
    )
    column_formatters = time_formatters("enrolled_at", "completed_at", "dropped_at")

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.enrollments(actor)

    def is_action_allowed(self, name: str) -> bool:
        return name != "delete"

    @action("drop", "Drop", "Drop the selected enrollments?")  # type: ignore[untyped-decorator]
    def action_drop(self, ids: Any) -> None:
        from lms_core.catalog.enrollments import drop

        pk = Enrollment.id
        rows = list(self.get_query().filter(pk.in_(row_ids(ids))).order_by(pk))
        act_on_each(
            rows,
            lambda s, a, e: drop(s, actor=a, email=e.student.email, course_slug=e.course.slug),
            verb="Dropped",
            noun="enrollment",
            name=lambda e: f"{e.student.email} from {e.course.slug}",
        )

    # -- the follow-up page of the users list's "Enroll into a course" ---------------------
    @expose("/enroll/", methods=("GET", "POST"))  # type: ignore[untyped-decorator]
    def enroll_view(self) -> ResponseReturnValue:
        actor = self.actor
        session = request_session()
        ids = row_ids(request.values.getlist("user"))
        users = _visible_users(session, actor, ids)
        back = url_for("user.index_view")
        if not users:
            flash("No user selected that you may enroll.", "error")
            return redirect(back)
        form = EnrollForm()
        form.course.choices = [("", "Choose a course…")] + [
            (c.slug, f"{c.slug} · {c.title}" + ("" if c.is_published else " (unpublished)"))
            for c in _manageable_courses(session, actor)
        ]
        if request.method == "POST" and form.validate_on_submit():
            slug = form.course.data
            done = run_service(lambda s, a: _enroll_all(s, a, users, slug), None)
            if done is not None:
                _flash_enrolled(slug, done)
                return redirect(back)
        return self.render("admin/enrollments/enroll.html", form=form, users=users, back=back)


def _visible_users(session: Session, actor: Actor, ids: list[int]) -> list[User]:
    if not ids:
        return []
    stmt = select(User).where(User.id.in_(ids)).order_by(User.email)
    clause = scopes.users(actor)
    if clause is not None:
        stmt = stmt.where(clause)
    return list(session.scalars(stmt))


def _manageable_courses(session: Session, actor: Actor) -> list[Course]:
    stmt = select(Course).order_by(Course.slug)
    clause = scopes.courses(actor)
    if clause is not None:
        stmt = stmt.where(clause)
    return list(session.scalars(stmt))


def _enroll_all(
    session: Session, actor: Actor, users: list[User], slug: str
) -> dict[str, list[str]]:
    """Enroll each user (the service refuses what the actor may not do: all or nothing)."""
    from lms_core.catalog.enrollments import enroll

    outcomes: dict[str, list[str]] = {}
    for user in users:
        result = enroll(session, actor=actor, email=user.email, course_slug=slug)
        outcomes.setdefault(result.outcome, []).append(user.email)
    return outcomes


def _flash_enrolled(slug: str, outcomes: dict[str, list[str]]) -> None:
    wording = {
        "created": "Enrolled",
        "reenrolled": "Re-enrolled",
        "unchanged": "Already enrolled, unchanged:",
    }
    for outcome, verb in wording.items():
        emails = outcomes.get(outcome, [])
        if emails:
            where = "" if outcome == "unchanged" else f" in {slug}"
            level = "info" if outcome == "unchanged" else "success"
            flash(f"{verb} {plural(len(emails), 'user')}{where}: {names(emails)}.", level)


def views() -> list[BaseView]:
    return [EnrollmentView(Enrollment, name="Enrollments", endpoint="enrollment")]
