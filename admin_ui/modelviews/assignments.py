"""Back-office views: assignments and learners' submissions; grading in place; file downloads.

Grading is ``lms_core.assignments.submissions.grade`` (``lmsctl submissions grade``): the same
rules (0..max points, "7,5" accepted), the same audit entry. A submitted file is sent only
as an attachment with the headers of ``lms_core.assignments.serving.download_headers``, and
only when it is one of that submission's files and the submission is in the actor's scope
(anything else: 404, so file ids of other courses are not confirmed).
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask import abort, flash, redirect, request
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload
from wtforms import (  # type: ignore[import-untyped]  # no stubs installed
    SelectField,
    StringField,
    TextAreaField,
)

from admin_ui.db import run_service
from admin_ui.modelviews.assessing import (
    ClauseFilter,
    attachment,
    details_page,
    id_is,
    scoped_or_404,
)
from admin_ui.modelviews.base import STAFF, StaffModelView, parse_id
from admin_ui.modelviews.creating import (
    course_choices,
    create_with_field_errors,
    lesson_choices,
    split_lesson,
)
from admin_ui.modelviews.labels import human_labels
from admin_ui.modelviews.selection import time_formatters
from lms_core import scopes
from lms_core.actor import Actor
from lms_core.models import Assignment, Course, LatePolicy, LessonType, Submission, User


def _course_is(slug: str) -> ColumnElement[bool]:
    return Assignment.course_id.in_(select(Course.id).where(Course.slug == slug))


def _submission_course_is(slug: str) -> ColumnElement[bool]:
    taught = select(Assignment.id).join(Course, Course.id == Assignment.course_id)
    return Submission.assignment_id.in_(taught.where(Course.slug == slug))


def _learner_is(text: str) -> ColumnElement[bool]:
    return Submission.student_id.in_(select(User.id).where(User.email.ilike(f"%{text}%")))


def _graded_is(value: str) -> ColumnElement[bool]:
    return Submission.grade.is_not(None) if value == "yes" else Submission.grade.is_(None)


class AssignmentCreateForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no types
    """What ``lmsctl assignments create`` takes; texts as typed, checked by the service."""

    place = SelectField("Course, or a lesson of type assignment", choices=[])
    title = StringField("Title")
    description = TextAreaField("Description")
    due_date = StringField("Due (2026-12-01, or 2026-12-01T17:00+01:00; UTC unless given)")
    max_points = StringField("Points", default="100")
    late_policy = SelectField(
        "Late work", choices=[(p.value, p.value) for p in LatePolicy], default="accept"
    )
    late_cutoff = StringField("Late work accepted until (accept only; empty: any time)")
    late_penalty_percent = StringField("Penalty per started day late (%)", default="0")


#: The service's field names for what this form calls otherwise.
_CREATE_ALIASES = {"course_slug": "place", "lesson_slug": "place"}


class AssignmentView(StaffModelView):
    """Assignments of the courses the actor manages; created as ``lmsctl assignments create``
    creates them."""

    allowed_roles = STAFF
    can_create = True
    column_list = (
        "id",
        "course.slug",
        "title",
        "due_date",
        "max_points",
        "late_policy",
        "late_penalty_percent",
        "submissions",
    )
    _own_labels: ClassVar[dict[str, str]] = {
        "course.slug": "Course",
        "late_penalty_percent": "Penalty %/day",
    }
    column_sortable_list = ("id", "title", "due_date", "max_points")
    column_default_sort = ("id", True)
    column_searchable_list = ("title",)
    column_filters = (ClauseFilter(Assignment.course_id, "Course (slug)", _course_is),)
    column_details_list = (
        "id",
        "course.slug",
        "title",
        "description",
        "due_date",
        "max_points",
        "late_policy",
        "late_cutoff",
        "late_penalty_percent",
    )
    column_labels: ClassVar[dict[str, str]] = human_labels(
        column_list,
        column_details_list,
        column_searchable_list,
        own={
            **_own_labels,
            "max_points": "Points",
            "late_policy": "Late work",
            "late_cutoff": "Late work until",
        },
    )
    column_formatters: ClassVar[dict[str, Any]] = {
        **time_formatters("due_date", "late_cutoff"),
        "submissions": lambda v, _c, m, _n: Markup('<a href="{}">Submissions</a>').format(
            v.get_url("submission.index_view", flt0_0=m.id)
        ),
    }
    column_formatters_detail = column_formatters
    export_columns = (
        "id",
        "course.slug",
        "title",
        "due_date",
        "max_points",
        "late_policy",
        "late_penalty_percent",
    )

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.assignments(actor)

    def describe(self, model: Any) -> str:
        return f"assignment {model.id} ({model.title})"

    def get_create_form(self) -> Any:
        return type("AssignmentNewForm", (AssignmentCreateForm, self.form_base_class), {})

    def create_form(self, obj: Any = None) -> Any:
        form = super().create_form(obj)
        actor = self.actor
        lessons = lesson_choices(actor, LessonType.assignment.value, Assignment.lesson_id)
        courses = [(slug, f"{label} (the course)") for slug, label in course_choices(actor)]
        form.place.choices = sorted([*courses, *lessons])
        return form

    def create_model(self, form: Any) -> Any:
        made = create_with_field_errors(
            form,
            lambda s, a: self.create_with_service(s, a, form),
            lambda m: f"Created {self.describe(m)}.",
            _CREATE_ALIASES,
        )
        return made if made is not None else False

    def create_with_service(self, session: Session, actor: Actor, form: Any) -> Any:
        from lms_core.assignments.assignments import create_assignment
        from lms_core.assignments.fields import AssignmentCreate

        def typed(name: str) -> str | None:
            return (getattr(form, name).data or "").strip() or None

        course, lesson = split_lesson(form.place.data)
        data = AssignmentCreate(
            title=typed("title") or "",
            description=typed("description"),
            due_date=typed("due_date"),
            max_points=typed("max_points"),
            late_policy=form.late_policy.data,
            late_cutoff=typed("late_cutoff"),
            late_penalty_percent=typed("late_penalty_percent"),
        )
        return create_assignment(
            session, actor=actor, course_slug=course, lesson_slug=lesson, data=data
        )


class SubmissionView(StaffModelView):
    """Submissions to the assignments of the courses the actor manages; grade, download."""

    allowed_roles = STAFF
    details_template = "admin/assignments/submission_details.html"
    column_list = (
        "id",
        "assignment.title",
        "student.email",
        "student.full_name",
        "submitted_at",
        "days_late",
        "grade",
        "graded_at",
        "files",
    )
    _own_labels: ClassVar[dict[str, str]] = {
        "assignment.title": "Assignment",
        "student.email": "Learner",
        "student.full_name": "Name",
    }
    #: Eager loads: the assignment joined; the files by one SELECT ... IN per page (get_query).
    column_select_related_list = (Submission.assignment,)
    column_sortable_list = ("id", "submitted_at", "days_late", "grade", "graded_at")
    column_default_sort = ("id", True)
    column_filters = (
        ClauseFilter(
            Submission.assignment_id,
            "Assignment (id)",
            lambda v: id_is(Submission.assignment_id, v),
        ),
        ClauseFilter(Submission.student_id, "Learner (e-mail)", _learner_is, operation="contains"),
        ClauseFilter(Submission.assignment_id, "Course (slug)", _submission_course_is),
        ClauseFilter(
            Submission.grade, "Graded", _graded_is, options=[("yes", "yes"), ("no", "no")]
        ),
    )
    column_details_list = (
        "id",
        "assignment.title",
        "student.email",
        "student.full_name",
        "submitted_at",
        "days_late",
        "grade",
        "feedback",
        "graded_at",
    )
    column_labels: ClassVar[dict[str, str]] = human_labels(
        column_list, column_details_list, own={**_own_labels}
    )
    column_descriptions: ClassVar[dict[str, str]] = {
        "days_late": "Days (started) after the due date; the late penalty counts them."
    }
    column_formatters: ClassVar[dict[str, Any]] = {
        **time_formatters("submitted_at", "graded_at"),
        "files": lambda _v, _c, m, _n: len(m.files),
    }
    column_formatters_detail = column_formatters
    export_columns = (
        "id",
        "assignment_id",
        "student.email",
        "submitted_at",
        "days_late",
        "grade",
        "graded_at",
    )

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.submissions(actor)

    def get_query(self) -> Any:
        return super().get_query().options(selectinload(Submission.files))

    def describe(self, model: Any) -> str:
        return f"submission {model.id} of {model.student.email}"

    @expose("/details/")  # type: ignore[untyped-decorator]
    def details_view(self) -> ResponseReturnValue:
        from lms_core.assignments.assignments import final_grade, penalty_percent

        def extra(sub: Submission) -> dict[str, Any]:
            penalty = penalty_percent(sub.assignment, sub.days_late)
            return {"penalty": penalty, "final": final_grade(sub.grade, penalty)}

        return details_page(self, extra)

    @expose("/grade/", methods=("POST",))  # type: ignore[untyped-decorator]
    def grade_view(self) -> ResponseReturnValue:
        """Grade (or regrade) in place: ``lmsctl submissions grade`` behind a form."""
        from lms_core.assignments.fields import SubmissionGrade
        from lms_core.assignments.submissions import grade

        sub = scoped_or_404(self, request.form.get("id", ""))
        sub_id, email, assignment_id = sub.id, sub.student.email, sub.assignment_id
        feedback = request.form.get("feedback")
        data = SubmissionGrade(
            points=request.form.get("grade", "").strip(),
            feedback=feedback if feedback is not None else None,
        )
        run_service(
            lambda s, a: grade(s, actor=a, assignment=str(assignment_id), email=email, data=data),
            lambda graded: f"Graded submission {sub_id} of {email}: {graded.grade}.",
        )
        return redirect(self.get_url(".details_view", id=sub_id))

    @expose("/file/")  # type: ignore[untyped-decorator]
    def file_view(self) -> ResponseReturnValue:
        """One of the submission's files, as an attachment (never shown inline)."""
        from lms_core.assignments.files import download
        from lms_core.errors import LmsError, NotFound

        sub = scoped_or_404(self, request.args.get("id", ""))
        file_id = parse_id(request.args.get("file", ""))
        if file_id is None or file_id not in {f.id for f in sub.files}:
            abort(404)
        from admin_ui.app import state

        try:
            found = download(
                self.session, actor=self.actor, settings=state().settings, file_id=file_id
            )
        except NotFound:
            abort(404)
        except LmsError as exc:  # the blob is missing from the files directory
            flash(str(exc), "error")
            return redirect(self.get_url(".details_view", id=sub.id))
        return attachment(found.path, next(f for f in sub.files if f.id == file_id), found.filename)


def views() -> list[BaseView]:
    return [
        AssignmentView(
            Assignment, name="Assignments", endpoint="assignment", category="Assessment"
        ),
        SubmissionView(
            Submission, name="Submissions", endpoint="submission", category="Assessment"
        ),
    ]
