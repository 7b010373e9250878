"""Back-office lessons: add, edit and delete through ``lms_core.catalog.lessons``.

Listed with their course (``lms_core.scopes.lessons``: instructors see their courses'
lessons only); the order is changed on the course's lessons page
(:meth:`admin_ui.modelviews.courses.CourseView.lessons_view`), one ``reorder_lessons`` call
per move.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import request
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_wtf.csrf import generate_csrf
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, joinedload
from wtforms import BooleanField, SelectField, StringField, TextAreaField  # type: ignore[import-untyped]
from wtforms.validators import InputRequired, Optional  # type: ignore[import-untyped]

from admin_ui.db import request_session
from admin_ui.modelviews.base import STAFF, StaffModelView
from admin_ui.modelviews.labels import human_labels
from admin_ui.modelviews.listing import URL_SAFE
from admin_ui.modelviews.selection import changed_fields, text, time_formatters
from lms_core import scopes
from lms_core.actor import Actor
from lms_core.catalog.fields import LessonCreate, LessonUpdate
from lms_core.errors import ValidationError
from lms_core.models import Course, Lesson, LessonType

_LESSON_TYPES = [(t.value, t.value) for t in LessonType]
LESSON_TEXT_FIELDS = ("slug", "title", "lesson_type", "content", "duration_minutes", "video_url")
LESSON_FLAGS = ("is_preview", "is_required")


class LessonEditForm:
    slug = StringField("Slug", validators=[InputRequired()])
    title = StringField("Title", validators=[InputRequired()])
    lesson_type = SelectField("Type", choices=_LESSON_TYPES, default="text")
    content = TextAreaField("Content", validators=[Optional()])
    duration_minutes = StringField("Minutes", validators=[Optional()])
    video_url = StringField("Video URL", validators=[Optional()])
    is_preview = BooleanField("Preview (visible before enrolling)")
    is_required = BooleanField("Required (counts toward completion)", default=True)


class LessonCreateForm(LessonEditForm):
    #: Offers the actor's courses; any other slug is for the service to refuse.
    course = SelectField("Course", validators=[InputRequired()], validate_choice=False)
    position = StringField("Position (blank: last)", validators=[Optional()])


def _position(text: str) -> int | None:
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):  # "²" is a digit to str.isdigit, not to int()
        raise ValidationError("must be a whole number", field="position", value=text)
    return int(text)


class CourseSlugFilter(FilterEqual):  # type: ignore[misc]  # flask-admin is untyped
    """Lessons of the course with this slug (a subquery: no join)."""

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        ids = select(Course.id).where(Course.slug == value.strip())
        return query.filter(Lesson.course_id.in_(ids))


class LessonView(StaffModelView):
    """Lessons of the courses the actor manages; order them on the course's lessons page."""

    allowed_roles = STAFF
    can_create = True
    can_edit = True
    can_delete = True
    column_list = (
        "course.slug",
        "order_index",
        "slug",
        "title",
        "lesson_type",
        "is_required",
        "is_preview",
        "duration_minutes",
    )
    column_details_list = (*column_list, "video_url", "content", "created_at", "updated_at")
    form_columns = ("course", *LESSON_TEXT_FIELDS, *LESSON_FLAGS, "position")
    export_columns = ("course.slug", "order_index", "slug", "title", "lesson_type", "is_required")
    column_labels = {
        **human_labels(column_list, column_details_list),
        "course.slug": "Course",
        "order_index": "#",
    }
    column_searchable_list = ("slug", "title")
    column_sortable_list = ("course.slug", "order_index", "slug", "title", "lesson_type")
    column_default_sort = [("course.slug", False), ("order_index", False)]
    column_filters = (
        CourseSlugFilter(Course.slug, "Course (slug)"),
        FilterEqual(Lesson.lesson_type, "Type", options=_LESSON_TYPES),
    )
    column_formatters = time_formatters("created_at", "updated_at")

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.lessons(actor)

    def get_query(self) -> Any:
        """Each lesson with its course in the same statement (the list shows its slug)."""
        return super().get_query().options(joinedload(Lesson.course))

    def is_action_allowed(self, name: str) -> bool:
        return name != "delete"

    def get_create_form(self) -> Any:
        return type("LessonCreate", (LessonCreateForm, self.form_base_class), {})

    def get_edit_form(self) -> Any:
        return type("LessonEdit", (LessonEditForm, self.form_base_class), {})

    def create_form(self, obj: Any = None) -> Any:
        form = super().create_form(obj)
        courses = select(Course.slug).order_by(Course.slug)
        clause = scopes.courses(self.actor)
        if clause is not None:
            courses = courses.where(clause)
        form.course.choices = [(s, s) for s in request_session().scalars(courses)]
        if request.method == "GET" and request.args.get("course"):
            form.course.data = request.args["course"]
        return form

    def describe(self, model: Any) -> str:
        return f"lesson {model.course.slug}/{model.slug}"

    def create_with_service(self, session: Session, actor: Actor, form: Any) -> Any:
        from lms_core.catalog.lessons import add_lesson

        position = text(form.position.data)
        values: dict[str, Any] = {
            n: text(getattr(form, n).data) or None for n in LESSON_TEXT_FIELDS[2:]
        }
        data = LessonCreate(
            slug=text(form.slug.data),
            title=text(form.title.data),
            position=_position(position),
            is_preview=bool(form.is_preview.data),
            is_required=bool(form.is_required.data),
            **values,
        )
        return add_lesson(session, actor=actor, course_slug=form.course.data, data=data)

    def update_with_service(self, session: Session, actor: Actor, form: Any, model: Any) -> Any:
        from lms_core.catalog.lessons import update_lesson

        changed = changed_fields(form, model, LESSON_TEXT_FIELDS, LESSON_FLAGS)
        return update_lesson(
            session,
            actor=actor,
            course_slug=model.course.slug,
            slug=model.slug,
            data=LessonUpdate(**changed),
        )

    def delete_with_service(self, session: Session, actor: Actor, model: Any) -> Any:
        from lms_core.catalog.lessons import delete_lesson

        return delete_lesson(session, actor=actor, course_slug=model.course.slug, slug=model.slug)


# -- a course's lessons page (CourseView.lessons_view): plain values, links made once ------
def course_facts(session: Session, course_id: int | None, scope: Any) -> Any:
    """The course's id, slug, title and published flag, if the actor may manage it: one
    row of four columns (the ORM course came with its instructor, twice: get_one, scope)."""
    if course_id is None:
        return None
    stmt = select(Course.id, Course.slug, Course.title, Course.is_published).where(
        Course.id == course_id
    )
    if scope is not None:
        stmt = stmt.where(scope)
    return session.execute(stmt).first()


def ordered_lessons(session: Session, course_id: int) -> list[Any]:
    """The course's lessons in order: the columns the page shows and a move needs."""
    stmt = (
        select(
            Lesson.id,
            Lesson.order_index,
            Lesson.slug,
            Lesson.title,
            Lesson.lesson_type,
            Lesson.is_required,
        )
        .where(Lesson.course_id == course_id)
        .order_by(Lesson.order_index)
    )
    return list(session.execute(stmt).all())


def lesson_links(view: Any, course: Any, rows: list[Any], here: str) -> dict[str, Any]:
    """The page's links, as ``url_for`` makes them (same parameters, same order, same
    encoding), each base made once: the template called ``url_for`` twice per lesson."""
    back = urlencode([("url", request.url)], safe=URL_SAFE)
    edit = view.get_url("lesson.edit_view")
    return {
        "index": view.get_url(".index_view"),
        "details": view.get_url(".details_view", id=course.id),
        "add": view.get_url("lesson.create_view", course=course.slug, url=request.url),
        "here": here,
        "edit": [f"{edit}?id={row.id}&{back}" for row in rows],
        "csrf": generate_csrf(),
    }
