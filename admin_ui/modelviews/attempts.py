"""Back-office views: learners' attempts at quizzes; grading essays in place; regrading.

An attempt row names neither its learner nor its quiz by relationship, so a list page looks
both up for its rows in one more query (constant in the page size); the filters reach them
through subqueries. Grading an essay is ``lms_core.quizzes.review.grade_essay`` (what
``lmsctl quizzes grade-essay`` calls); a regrade shows the dry run of
``lms_core.quizzes.regrade.regrade`` first and changes nothing until it is confirmed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask import flash, g, redirect, request
from flask.typing import ResponseReturnValue
from flask_admin import BaseView, expose
from flask_admin.actions import action
from sqlalchemy import ColumnElement, select

from admin_ui.db import request_session, run_service
from admin_ui.modelviews.assessing import (
    ClauseFilter,
    details_page,
    id_is,
    page_extras,
    scoped_or_404,
)
from admin_ui.modelviews.base import STAFF, StaffModelView, parse_id
from admin_ui.modelviews.labels import human_labels
from admin_ui.modelviews.selection import row_ids, time_formatters
from lms_core import scopes
from lms_core.actor import Actor
from lms_core.errors import LmsError
from lms_core.models import Attempt, AttemptStatus, Course, Enrollment, Lesson, Quiz, User

_ROWS = "lms_attempt_rows"


def _learner_is(text: str) -> ColumnElement[bool]:
    learners = select(Enrollment.id).join(User, User.id == Enrollment.student_id)
    return Attempt.enrollment_id.in_(learners.where(User.email.ilike(f"%{text}%")))


def _quiz_is(text: str) -> ColumnElement[bool]:
    return id_is(Attempt.quiz_id, text)


def _course_is(slug: str) -> ColumnElement[bool]:
    quizzes = (
        select(Quiz.id)
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .join(Course, Course.id == Lesson.course_id)
        .where(Course.slug == slug)
    )
    return Attempt.quiz_id.in_(quizzes)


def _extra(name: str) -> Any:
    def cell(_view: Any, _context: Any, model: Any, _name: str) -> Any:
        return page_extras(_ROWS).get(model.id, {}).get(name, "")

    return cell


class AttemptView(StaffModelView):
    """Attempts at the quizzes of the courses the actor manages."""

    allowed_roles = STAFF
    details_template = "admin/attempts/details.html"
    column_list = (
        "id",
        "learner",
        "quiz",
        "number",
        "status",
        "score",
        "passed",
        "started_at",
        "submitted_at",
        "graded_at",
    )
    column_sortable_list = (
        "id",
        "number",
        "status",
        "score",
        "started_at",
        "submitted_at",
        "graded_at",
    )
    column_default_sort = ("id", True)
    column_filters = (
        ClauseFilter(Attempt.quiz_id, "Quiz (id)", _quiz_is),
        ClauseFilter(Attempt.enrollment_id, "Learner (e-mail)", _learner_is, operation="contains"),
        ClauseFilter(Attempt.quiz_id, "Course (slug)", _course_is),
        ClauseFilter(
            Attempt.status,
            "Status",
            lambda v: Attempt.status == v,
            options=[(s.value, s.value) for s in AttemptStatus],
        ),
    )
    column_details_list = (
        "id",
        "number",
        "status",
        "score",
        "passed",
        "points_earned",
        "points_possible",
        "started_at",
        "deadline_at",
        "submitted_at",
        "graded_at",
    )
    column_labels: ClassVar[dict[str, str]] = human_labels(
        column_list, column_details_list, own={"points_earned": "Points", "number": "Attempt"}
    )
    column_descriptions: ClassVar[dict[str, str]] = {"score": "Percent of the points possible."}
    column_formatters: ClassVar[dict[str, Any]] = {
        "learner": _extra("email"),
        "quiz": _extra("quiz"),
        **time_formatters("started_at", "submitted_at", "graded_at", "deadline_at"),
    }
    column_formatters_detail = column_formatters
    export_columns = (
        "id",
        "quiz_id",
        "enrollment_id",
        "number",
        "status",
        "score",
        "passed",
        "started_at",
        "submitted_at",
        "graded_at",
    )

    def scope(self, actor: Actor) -> ColumnElement[bool] | None:
        return scopes.attempts(actor)

    def get_list(self, *args: Any, **kwargs: Any) -> Any:
        """The page's rows, their learners and quizzes looked up in one more query."""
        count, rows = super().get_list(*args, **kwargs)
        ids = [a.id for a in rows] if isinstance(rows, list) else []
        found: dict[int, dict[str, str]] = {}
        if ids:
            stmt = (
                select(Attempt.id, User.email, Quiz.id, Quiz.title, Course.slug)
                .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
                .join(User, User.id == Enrollment.student_id)
                .join(Quiz, Quiz.id == Attempt.quiz_id)
                .join(Lesson, Lesson.id == Quiz.lesson_id)
                .join(Course, Course.id == Lesson.course_id)
                .where(Attempt.id.in_(ids))
            )
            for attempt_id, email, quiz_id, title, slug in self.session.execute(stmt):
                found[attempt_id] = {"email": email, "quiz": f"{quiz_id} · {title} ({slug})"}
        setattr(g, _ROWS, found)
        return count, rows

    @expose("/details/")  # type: ignore[untyped-decorator]
    def details_view(self) -> ResponseReturnValue:
        return details_page(self, self._review)

    def _review(self, attempt: Attempt) -> dict[str, Any]:
        from lms_core.quizzes.review import review_attempt

        session = request_session()
        review = review_attempt(session, actor=self.actor, attempt_id=attempt.id)
        return {"review": review, "quiz": session.get(Quiz, attempt.quiz_id)}

    @expose("/grade-essay/", methods=("POST",))  # type: ignore[untyped-decorator]
    def grade_essay_view(self) -> ResponseReturnValue:
        """Points for one essay answer (``lmsctl quizzes grade-essay``), from the details page."""
        from lms_core.quizzes.review import grade_essay

        attempt = scoped_or_404(self, request.form.get("id", ""))
        number = parse_id(request.form.get("question", "").strip())
        points = request.form.get("points", "").strip()
        attempt_id = attempt.id
        if number is None:
            flash("question: choose the essay to grade", "error")
        else:
            run_service(
                lambda s, a: grade_essay(
                    s, actor=a, attempt_id=attempt_id, question_number=number, points=points
                ),
                lambda a: (
                    f"Graded question {number} of attempt {attempt_id}: {points} point(s); "
                    + (
                        f"attempt graded, score {a.score}."
                        if a.status == "graded"
                        else "other essay(s) still wait."
                    )
                ),
            )
        return redirect(self.get_url(".details_view", id=attempt_id))

    # -- regrade: the dry run first ---------------------------------------------------------
    @action("regrade", "Regrade the quiz…")  # type: ignore[untyped-decorator]
    def action_regrade(self, ids: list[str]) -> ResponseReturnValue:
        wanted = row_ids(ids)
        quizzes = (
            sorted({a.quiz_id for a in self.get_query().filter(Attempt.id.in_(wanted))})
            if wanted
            else []
        )
        if len(quizzes) != 1:
            flash("Choose attempts at one quiz to regrade it.", "error")
            return redirect(self.get_url(".index_view"))
        return redirect(self.get_url(".regrade_view", quiz=quizzes[0]))

    @expose("/regrade/", methods=("GET", "POST"))  # type: ignore[untyped-decorator]
    def regrade_view(self) -> ResponseReturnValue:
        """GET: the dry run (what would change, per learner); POST: apply it."""
        from lms_core.quizzes.regrade import regrade

        quiz_id = request.values.get("quiz", "")
        quiz = _scoped_quiz(quiz_id, self.actor)
        if request.method == "POST":
            done = run_service(
                lambda s, a: regrade(s, actor=a, quiz_ref=quiz.id),
                lambda r: (
                    f"Regraded quiz {r.quiz.id}: {r.attempts} attempt(s); changed "
                    f"{r.changed_attempts} attempt(s) and the final score of {len(r.learners)} "
                    "learner(s)."
                ),
            )
            if done is not None:
                for warning in _certificate_warning(done.certificate_warnings):
                    flash(warning, "warning")
                return redirect(self.get_url(".index_view", flt0_0=quiz.id))
        session = request_session()
        try:
            result = regrade(session, actor=self.actor, quiz_ref=quiz.id, dry_run=True)
        except LmsError as exc:
            session.rollback()
            flash(str(exc), "error")
            return redirect(self.get_url(".index_view"))
        finally:
            session.rollback()
        return self.render(
            "admin/attempts/regrade.html",
            quiz=quiz,
            result=result,
            warnings=_certificate_warning(result.certificate_warnings),
        )


def _certificate_warning(emails: list[str]) -> list[str]:
    if not emails:
        return []
    return [
        f"{len(emails)} learner(s) now fail but hold a valid certificate (not revoked): "
        f"{', '.join(emails)}"
    ]


def _scoped_quiz(raw: str, actor: Actor) -> Quiz:
    from flask import abort

    clause = scopes.quizzes(actor)
    stmt = select(Quiz).where(id_is(Quiz.id, raw.strip()))
    quiz = request_session().scalars(stmt if clause is None else stmt.where(clause)).first()
    if quiz is None:
        abort(404)
    return quiz


def views() -> list[BaseView]:
    return [AttemptView(Attempt, name="Attempts", endpoint="attempt", category="Assessment")]
