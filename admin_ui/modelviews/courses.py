"""Back-office courses and lessons: list, create, edit, delete, publish, and lesson order.

Administrators see every course, instructors the ones they teach (``lms_core.scopes``).
Every write is a ``lms_core.catalog`` service call (create/update/delete/publish of courses,
add/update/delete/reorder of lessons), so the rules and audit entries are ``lmsctl``'s: a
course with enrollments is not deleted, and the flash message says why in the service's words.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BooleanEqualFilter, FilterEqual
from markupsafe import Markup
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session
from wtforms import BooleanField, SelectField, StringField, TextAreaField  # type: ignore[import-untyped]
from wtforms.validators import InputRequired, Optional  # type: ignore[import-untyped]

from admin_ui.db import request_session, run_service
from admin_ui.modelviews import lessons
from admin_ui.modelviews.base import STAFF, StaffModelView, parse_id
from admin_ui.modelviews.labels import human_labels
from admin_ui.modelviews.selection import (
    act_on_each,
    changed_fields,
    selected,
    text,
    time_formatters,
)
from lms_core import scopes
from lms_core.actor import Actor
from lms_core.catalog.fields import CourseCreate, CourseUpdate
from lms_core.models import Course, DifficultyLevel, Enrollment, Lesson

_LEVELS = [(d.value, d.value) for d in DifficultyLevel]
#: Course fields an edit compares with the row, then sends to ``update_course`` if changed.
COURSE_TEXT_FIELDS = (
    "slug",
    "title",
    "description",
    "category",
    "difficulty_level",
    "thumbnail_url",
    "estimated_duration_minutes",
    "external_id",
    "certificate_min_grade",
)


class CourseForm:
    slug = StringField("Slug", validators=[InputRequired()])
    title = StringField("Title", validators=[InputRequired()])
    description = TextAreaField("Description", validators=[Optional()])
    instructor_email = StringField(
        "Instructor e-mail", validators=[Optional()], description="A new course left blank: yours."
    )
    category = StringField("Category", validators=[Optional()])
    difficulty_level = SelectField("Difficulty", choices=_LEVELS, default="beginner")
    thumbnail_url = StringField("Thumbnail URL", validators=[Optional()])
    estimated_duration_minutes = StringField("Estimated minutes", validators=[Optional()])
    external_id = StringField("External id (SIS key)", validators=[Optional()])
    certificate_min_grade = StringField("Certificate minimum grade (%)", validators=[Optional()])
    auto_certificate = BooleanField("Issue certificates on completion")


def _enrollment_counts_cell(view: Any, _context: Any, model: Any, _name: str) -> Any:
    return g.get("lms_enrollment_counts", {}).get(model.id, 0)


def _lessons_cell(view: Any, _context: Any, model: Any, _name: str) -> Markup:
    url = url_for(".lessons_view", id=model.id)
    report = url_for("reports.course", slug=model.slug)
    return Markup('<a href="{}">Lessons</a> · <a href="{}">Report</a>').format(url, report)


class CourseView(StaffModelView):
    """Courses the actor manages, with publish/unpublish and a lesson-order page."""

    allowed_roles = STAFF
    can_create = True
    can_edit = True
    can_delete = True
    column_list = (
        "slug",
        "title",
        "instructor.email",
        "is_published",
        "enrollments",
        "category",
        "created_at",
        "lessons_link",
    )
    column_details_list = (
        "slug",
        "title",
        "description",
        "instructor.email",
        "category",
        "difficulty_level",
        "thumbnail_url",
        "estimated_duration_minutes",
        "is_published",
        "external_id",
        "certificate_min_grade",
        "auto_certificate",
        "created_at",
        "updated_at",
    )
    form_columns = (*COURSE_TEXT_FIELDS, "instructor_email", "auto_certificate")
    export_columns = (
        "slug",
        "title",
        "instructor.email",
        "category",
        "difficulty_level",
        "is_published",
        "external_id",
        "created_at",
    )
    column_labels = {
        **human_labels(column_list, column_details_list),
        "instructor.email": "Instructor",
        "is_published": "Published",
        "lessons_link": "",
    }
    column_searchable_list = ("slug", "title")
    column_sortable_list = ("slug", "title", "instructor.email", "is_published", "created_at")
    column_default_sort = "slug"
    column_filters = (
        BooleanEqualFilter(Course.is_published, "Published"),
        FilterEqual(Course.difficulty_level, "Difficulty", options=_LEVELS),
    )
    column_formatters = {
        **time_formatters("created_at", "updated_at"),
        "enrollments": _enrollment_counts_cell,
        "lessons_link": _lessons_cell,
    }

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.courses(actor)

    def is_action_allowed(self, name: str) -> bool:
        return name != "delete"

    def get_create_form(self) -> Any:
        return type("CourseCreateForm", (CourseForm, self.form_base_class), {})

    def get_edit_form(self) -> Any:
        return type("CourseEditForm", (CourseForm, self.form_base_class), {})

    def on_form_prefill(self, form: Any, id: Any) -> None:
        model = self.get_one(id)
        if model is not None and not form.instructor_email.data:
            form.instructor_email.data = model.instructor.email

    def describe(self, model: Any) -> str:
        return f"course {model.slug}"

    def get_list(self, *args: Any, **kwargs: Any) -> Any:
        """The page's rows, and their enrollment counts in one grouped query."""
        count, rows = super().get_list(*args, **kwargs)
        ids = [c.id for c in rows] if isinstance(rows, list) else []
        counts: dict[int, int] = {}
        if ids:
            stmt = (
                select(Enrollment.course_id, func.count())
                .where(Enrollment.course_id.in_(ids))
                .group_by(Enrollment.course_id)
            )
            counts = {cid: n for cid, n in request_session().execute(stmt).all()}
        g.lms_enrollment_counts = counts
        return count, rows

    def create_with_service(self, session: Session, actor: Actor, form: Any) -> Any:
        from lms_core.catalog.courses import create_course

        # Texts as typed: the service parses numbers and refuses what does not parse.
        values: dict[str, Any] = {
            n: text(getattr(form, n).data) or None
            for n in COURSE_TEXT_FIELDS
            if n not in ("slug", "title")
        }
        return create_course(
            session,
            actor=actor,
            data=CourseCreate(
                slug=text(form.slug.data),
                title=text(form.title.data),
                instructor_email=text(form.instructor_email.data) or None,
                auto_certificate=bool(form.auto_certificate.data),
                **values,
            ),
        )

    def update_with_service(self, session: Session, actor: Actor, form: Any, model: Any) -> Any:
        from lms_core.catalog.courses import update_course

        changed = changed_fields(form, model, COURSE_TEXT_FIELDS, ("auto_certificate",))
        email = text(form.instructor_email.data).lower()
        if email and email != model.instructor.email:
            changed["instructor_email"] = email
        return update_course(session, actor=actor, slug=model.slug, data=CourseUpdate(**changed))

    def delete_with_service(self, session: Session, actor: Actor, model: Any) -> Any:
        from lms_core.catalog.courses import delete_course

        return delete_course(session, actor=actor, slug=model.slug)

    @action("publish", "Publish")  # type: ignore[untyped-decorator]
    def action_publish(self, ids: Any) -> None:
        from lms_core.catalog.courses import publish_course

        act_on_each(
            selected(self, ids, Course.slug),
            lambda s, a, c: publish_course(s, actor=a, slug=c.slug),
            verb="Published",
            noun="course",
            name=lambda c: c.slug,
        )

    @action("unpublish", "Unpublish", "Unpublish the selected courses?")  # type: ignore[untyped-decorator]
    def action_unpublish(self, ids: Any) -> None:
        from lms_core.catalog.courses import unpublish_course

        act_on_each(
            selected(self, ids, Course.slug),
            lambda s, a, c: unpublish_course(s, actor=a, slug=c.slug),
            verb="Unpublished",
            noun="course",
            name=lambda c: c.slug,
        )

    # -- a course's lessons, in order, with up/down buttons --------------------------------
    @expose("/lessons/", methods=("GET", "POST"))  # type: ignore[untyped-decorator]
    def lessons_view(self) -> ResponseReturnValue:
        wanted = parse_id(request.values.get("id", ""))
        course = lessons.course_facts(request_session(), wanted, self.scope(self.actor))
        if course is None:
            flash("Record does not exist.", "error")
            return redirect(url_for(".index_view"))
        rows = lessons.ordered_lessons(request_session(), course.id)
        here = url_for(".lessons_view", id=course.id)
        if request.method == "POST":
            _move(course, rows, request.form.get("move", ""), request.form.get("to", ""))
            return redirect(here)
        return self.render(
            "admin/courses/lessons.html",
            course=course,
            lessons=rows,
            links=lessons.lesson_links(self, course, rows, here),
        )


def _move(course: Any, lessons: list[Any], slug: str, to: str) -> None:
    """Move lesson ``slug`` up or down one place, or to a 1-based position: reorder_lessons."""
    from lms_core.catalog.lessons import reorder_lessons

    order = [lesson.slug for lesson in lessons]
    if slug not in order:
        flash(f"Course {course.slug} has no lesson {slug}.", "error")
        return
    at = order.index(slug)
    target = {"up": at - 1, "down": at + 1}.get(to)
    if target is None:
        position = parse_id(to.strip())
        target = position - 1 if position is not None else -1
    if not 0 <= target < len(order):
        flash(f"Lesson {slug} cannot move there.", "error")
        return
    order.insert(target, order.pop(at))
    course_slug = course.slug
    run_service(
        lambda s, a: reorder_lessons(s, actor=a, course_slug=course_slug, slugs=order),
        f"Moved lesson {slug} of {course_slug} to position {target + 1}.",
    )


def views() -> list[BaseView]:
    return [
        CourseView(Course, name="Courses", endpoint="course"),
        lessons.LessonView(Lesson, name="Lessons", endpoint="lesson"),
    ]
