"""Back-office views: quizzes (settings, publish, question bank upload) and their questions.

Every change is the CLI's service (``lms_core.quizzes``): ``update_quiz``, ``publish_quiz``,
``import_questions`` (``lmsctl quizzes import``) and ``remove_question``, so the rules and the
audit entries are the same. A bank upload is shown as a dry run first (the questions, what a
replace changes, the warnings); "Import" then applies exactly that plan, refused if the quiz
changed since. A refused file lists every problem with its line and column, worded as the CLI
words them (``error: bank.gift, line 3, column 5: ...``).
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from flask import g, request
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, joinedload
from wtforms import (  # type: ignore[import-untyped]  # no stubs installed
    BooleanField,
    SelectField,
    StringField,
    TextAreaField,
)

from admin_ui.db import request_session, run_service
from admin_ui.modelviews.assessing import (
    ClauseFilter,
    details_page,
    id_is,
    page_extras,
    scoped_or_404,
)
from admin_ui.modelviews.base import STAFF, StaffModelView
from admin_ui.modelviews.creating import create_with_field_errors, lesson_choices, split_lesson
from admin_ui.modelviews.labels import human_labels
from admin_ui.modelviews.selection import row_ids
from lms_core import scopes
from lms_core.actor import Actor
from lms_core.models import (
    Course,
    GradingMethod,
    Lesson,
    LessonType,
    Question,
    Quiz,
    QuizType,
)
from lms_core.quizzes.questions import FORMATS, ordered_questions

_COUNTS = "lms_quiz_question_counts"


def _course_is(slug: str) -> ColumnElement[bool]:
    lessons = select(Lesson.id).join(Course, Course.id == Lesson.course_id)
    return Quiz.lesson_id.in_(lessons.where(Course.slug == slug))


def _limit(text: str | None) -> int | None:
    """A limit as typed: empty is 0 (none); the service's check reads the text as it reads
    the CLI's option (a whole number in range, or a message naming the field)."""
    return cast(int | None, (text or "").strip() or 0)


#: Made before the settings' fields, so that the create form lists it first (WTForms orders
#: fields by when they were made).
_LESSON = SelectField("Lesson (of type quiz, without a quiz yet)", choices=[])


class QuizSettingsForm(FlaskForm):  # type: ignore[misc]  # flask-wtf ships no types
    """The settings ``lmsctl quizzes update`` takes; checked by the service, not here."""

    title = StringField("Title")
    description = TextAreaField("Description")
    quiz_type = SelectField("Type", choices=[(t.value, t.value) for t in QuizType])
    passing_score = StringField("Passing score (%)")
    time_limit_minutes = StringField("Time limit (minutes, empty or 0: none)")
    max_attempts = StringField("Attempts per learner (empty or 0: unlimited)")
    shuffle_questions = BooleanField("Shuffle questions")
    shuffle_options = BooleanField("Shuffle options")
    show_correct_answers = BooleanField("Show correct answers after submitting")
    grading_method = SelectField(
        "Grading method", choices=[(m.value, m.value) for m in GradingMethod]
    )


class QuizCreateForm(QuizSettingsForm):
    """What ``lmsctl quizzes create`` takes: the lesson (of type quiz) and the settings."""

    lesson = _LESSON


#: The service's field names for what this form calls otherwise.
_CREATE_ALIASES = {"course_slug": "lesson", "lesson_slug": "lesson"}


class QuizView(StaffModelView):
    """Quizzes of the courses the actor manages: list, details with the questions, settings,
    create, publish, bank upload."""

    allowed_roles = STAFF
    can_edit = True
    can_create = True
    form = QuizSettingsForm
    details_template = "admin/quizzes/details.html"
    column_list = (
        "id",
        "lesson.course.slug",
        "lesson.slug",
        "title",
        "quiz_type",
        "questions",
        "is_published",
    )
    _own_labels: ClassVar[dict[str, str]] = {
        "lesson.course.slug": "Course",
        "lesson.slug": "Lesson",
        "quiz_type": "Type",
        "is_published": "Published",
    }
    column_sortable_list = ("id", "title", "quiz_type", "is_published")
    column_searchable_list = ("title",)
    column_default_sort = ("id", True)
    column_details_list = (
        "id",
        "title",
        "description",
        "quiz_type",
        "passing_score",
        "time_limit_minutes",
        "max_attempts",
        "shuffle_questions",
        "shuffle_options",
        "show_correct_answers",
        "grading_method",
        "is_published",
    )
    column_labels: ClassVar[dict[str, str]] = human_labels(
        column_list,
        column_details_list,
        column_searchable_list,
        own={
            **_own_labels,
            "passing_score": "Passing score (%)",
            "time_limit_minutes": "Time limit (minutes)",
            "show_correct_answers": "Show answers after",
            "grading_method": "Grading",
        },
    )
    column_filters = (
        ClauseFilter(Quiz.lesson_id, "Course (slug)", _course_is),
        "is_published",
        "quiz_type",
    )
    export_columns = (
        "id",
        "lesson.course.slug",
        "lesson.slug",
        "title",
        "quiz_type",
        "is_published",
    )

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.quizzes(actor)

    def get_query(self) -> Any:
        return super().get_query().options(joinedload(Quiz.lesson).joinedload(Lesson.course))

    def get_list(self, *args: Any, **kwargs: Any) -> Any:
        """The page's rows, and their question counts in one more query (not one per row)."""
        count, rows = super().get_list(*args, **kwargs)
        ids = [q.id for q in rows] if isinstance(rows, list) else []
        counts = (
            dict(
                self.session.execute(
                    select(Question.quiz_id, func.count())
                    .where(Question.quiz_id.in_(ids))
                    .group_by(Question.quiz_id)
                ).all()
            )
            if ids
            else {}
        )
        setattr(g, _COUNTS, counts)
        return count, rows

    column_formatters: ClassVar[dict[str, Any]] = {
        "questions": lambda _v, _c, m, _n: page_extras(_COUNTS).get(m.id, 0),
        "title": lambda v, _c, m, _n: Markup('<a href="{}">{}</a>').format(
            v.get_url(".details_view", id=m.id), m.title
        ),
    }
    column_formatters_detail: ClassVar[dict[str, Any]] = {}

    def describe(self, model: Any) -> str:
        return f"quiz {model.id} ({model.lesson.course.slug}/{model.lesson.slug})"

    # -- create: ``lmsctl quizzes create`` -------------------------------------------------
    def get_create_form(self) -> Any:
        return type("QuizNewForm", (QuizCreateForm, self.form_base_class), {})

    def create_form(self, obj: Any = None) -> Any:
        form = super().create_form(obj)
        form.lesson.choices = lesson_choices(self.actor, LessonType.quiz.value, Quiz.lesson_id)
        if not form.lesson.choices:
            form.lesson.description = (
                "No lesson of type quiz is without a quiz in your courses: add one under "
                "Lessons (type quiz), then come back."
            )
        if not form.is_submitted():
            form.shuffle_options.data = True
        return form

    def create_model(self, form: Any) -> Any:
        made = create_with_field_errors(
            form,
            lambda s, a: self.create_with_service(s, a, form),
            lambda m: (
                f"Created {self.describe(m)}: add its questions (Upload a bank), then publish it."
            ),
            _CREATE_ALIASES,
        )
        return made if made is not None else False

    def create_with_service(self, session: Session, actor: Actor, form: Any) -> Any:
        from lms_core.quizzes.fields import QuizCreate
        from lms_core.quizzes.quizzes import create_quiz

        course, lesson = split_lesson(form.lesson.data)
        data = QuizCreate(
            title=(form.title.data or "").strip(),
            description=form.description.data or None,
            quiz_type=form.quiz_type.data,
            passing_score=(form.passing_score.data or "").strip() or None,
            time_limit_minutes=_limit(form.time_limit_minutes.data),
            max_attempts=_limit(form.max_attempts.data),
            shuffle_questions=bool(form.shuffle_questions.data),
            shuffle_options=bool(form.shuffle_options.data),
            show_correct_answers=bool(form.show_correct_answers.data),
            grading_method=form.grading_method.data,
        )
        return create_quiz(
            session, actor=actor, course_slug=course, lesson_slug=lesson or "", data=data
        )

    def update_with_service(self, session: Session, actor: Actor, form: Any, model: Any) -> Any:
        from lms_core.quizzes.fields import QuizUpdate
        from lms_core.quizzes.quizzes import update_quiz

        data = QuizUpdate(
            title=form.title.data,
            description=form.description.data or "",
            quiz_type=form.quiz_type.data,
            passing_score=form.passing_score.data,
            time_limit_minutes=_limit(form.time_limit_minutes.data),
            max_attempts=_limit(form.max_attempts.data),
            shuffle_questions=bool(form.shuffle_questions.data),
            shuffle_options=bool(form.shuffle_options.data),
            show_correct_answers=bool(form.show_correct_answers.data),
            grading_method=form.grading_method.data,
        )
        return update_quiz(session, actor=actor, quiz_ref=model.id, data=data)

    @action("publish", "Publish", "Publish the selected quizzes?")  # type: ignore[untyped-decorator]
    def action_publish(self, ids: list[str]) -> None:
        from lms_core.quizzes.quizzes import publish_quiz

        wanted = row_ids(ids)
        rows = (
            list(self.get_query().filter(Quiz.id.in_(wanted)).order_by(Quiz.id)) if wanted else []
        )
        if not rows:
            from flask import flash

            flash("No quiz selected that you may change.", "error")
            return
        names = [self.describe(q) for q in rows]
        run_service(
            lambda s, a: [publish_quiz(s, actor=a, quiz_ref=q.id) for q in rows],
            f"Published {', '.join(names)}.",
        )

    @expose("/details/")  # type: ignore[untyped-decorator]
    def details_view(self) -> ResponseReturnValue:
        return details_page(
            self, lambda quiz: {"questions": ordered_questions(request_session(), quiz.id)}
        )

    # -- the bank upload ------------------------------------------------------------------
    @expose("/bank/", methods=("GET", "POST"))  # type: ignore[untyped-decorator]
    def bank_view(self) -> ResponseReturnValue:
        """Upload a GIFT/Aiken/CSV/XLSX bank: a dry run first, then "Import" applies it."""
        quiz = scoped_or_404(self, request.values.get("id", ""))
        page: dict[str, Any] = {"quiz": quiz, "formats": FORMATS}
        if request.method == "POST":
            from admin_ui.modelviews.quiz_bank import bank_step

            page.update(bank_step(quiz))
        return self.render("admin/quizzes/bank.html", **page)


class QuestionView(StaffModelView):
    """Questions of the quizzes the actor manages; removing one is ``remove_question``."""

    allowed_roles = STAFF
    can_delete = True
    column_list = (
        "quiz.id",
        "quiz.title",
        "order_index",
        "question_type",
        "points",
        "title",
        "question_text",
    )
    _own_labels: ClassVar[dict[str, str]] = {
        "quiz.id": "Quiz",
        "quiz.title": "Quiz title",
        "order_index": "Number",
        "question_type": "Type",
    }
    column_sortable_list = ("order_index", "question_type", "points")
    column_default_sort = [("quiz_id", False), ("order_index", False)]
    column_searchable_list = ("question_text", "title")
    column_filters = (
        ClauseFilter(
            Question.quiz_id,
            "Quiz (id)",
            lambda v: id_is(Question.quiz_id, v),
        ),
        "question_type",
    )
    column_details_list = (
        "id",
        "quiz.title",
        "order_index",
        "question_type",
        "points",
        "title",
        "question_text",
        "text_format",
        "options",
        "correct_answer",
        "explanation",
        "category",
    )
    column_labels: ClassVar[dict[str, str]] = human_labels(
        column_list,
        column_details_list,
        column_searchable_list,
        own={
            **_own_labels,
            "question_text": "Question",
            "text_format": "Format",
            "correct_answer": "Answer key",
        },
    )
    column_formatters: ClassVar[dict[str, Any]] = {
        "question_text": lambda _v, _c, m, _n: (
            (m.question_text[:120] + "…") if len(m.question_text) > 120 else m.question_text
        ),
    }

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.questions(actor)

    def get_query(self) -> Any:
        return (
            super()
            .get_query()
            .options(joinedload(Question.quiz).joinedload(Quiz.lesson).joinedload(Lesson.course))
        )

    def describe(self, model: Any) -> str:
        return f"question {model.order_index} of quiz {model.quiz_id}"

    def delete_with_service(self, session: Session, actor: Actor, model: Any) -> Any:
        from lms_core.quizzes.questions import remove_question

        return remove_question(
            session, actor=actor, quiz_ref=model.quiz_id, number=model.order_index
        )

    def delete_model(self, model: Any) -> bool:
        """Flask-Admin names the question by id; the service by its number (read first)."""
        name = self.describe(model)
        done = run_service(
            lambda s, a: self.delete_with_service(s, a, model),
            f"Removed {name}; the questions after it moved up.",
        )
        return done is not None


def views() -> list[BaseView]:
    return [
        QuizView(Quiz, name="Quizzes", endpoint="quiz", category="Assessment"),
        QuestionView(Question, name="Questions", endpoint="question", category="Assessment"),
    ]
