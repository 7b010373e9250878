"""Quizzes: one per lesson of type ``quiz``; create, update settings, publish, list, show.

A quiz is named by its lesson, ``COURSE/LESSON`` (what people type) or by its numeric id (what
``list`` shows and scripts keep). Creating the lesson itself is the lessons service's job, so
a missing lesson is refused with a hint to add it (each front door words the hint).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.catalog.lessons import lesson_name, lesson_ref
from lms_core.errors import (
    Conflict,
    HintCode,
    NotFound,
    PermissionDenied,
    ValidationError,
    hint,
)
from lms_core.models import (
    Attempt,
    Course,
    Enrollment,
    EnrollmentStatus,
    Lesson,
    LessonType,
    Question,
    Quiz,
    Role,
)
from lms_core.permissions import require_course_manager
from lms_core.quizzes.fields import (
    AUDITED,
    CHECKS,
    QuizCreate,
    QuizDetail,
    QuizRow,
    QuizUpdate,
    given,
)
from lms_core.validation import collect


def _validated(values: dict[str, Any]) -> dict[str, Any]:
    """Each given value through its field's check (:data:`lms_core.quizzes.fields.CHECKS`)."""
    return collect(
        [(name, (lambda c=CHECKS[name], v=value: c(v))) for name, value in values.items()]
    )


def question_count(session: Session, quiz_id: int) -> int:
    stmt = select(func.count()).select_from(Question).where(Question.quiz_id == quiz_id)
    return session.scalar(stmt) or 0


def quiz_row(quiz: Quiz, *, questions: int | None = None) -> QuizRow:
    """The quiz as ``list``/``show`` print it: course and lesson as slugs."""
    return QuizRow(
        id=quiz.id,
        title=quiz.title,
        course=quiz.lesson.course.slug,
        lesson=lesson_name(quiz.lesson),
        quiz_type=quiz.quiz_type,
        passing_score=float(quiz.passing_score),
        time_limit_minutes=quiz.time_limit_minutes,
        max_attempts=quiz.max_attempts,
        shuffle_questions=quiz.shuffle_questions,
        shuffle_options=quiz.shuffle_options,
        show_correct_answers=quiz.show_correct_answers,
        grading_method=quiz.grading_method,
        published=quiz.is_published,
        questions=questions if questions is not None else len(quiz.questions),
        description=quiz.description,
    )


def get_quiz(session: Session, ref: str | int) -> Quiz:
    """The quiz named ``COURSE_SLUG/LESSON_SLUG`` or by its numeric id."""
    text = str(ref).strip()
    if text.isdigit():
        quiz = session.get(Quiz, int(text))
    elif "/" in text:
        named = lesson_ref(text, field="quiz")
        text = str(named)
        quiz = session.scalars(
            select(Quiz)
            .join(Lesson, Lesson.id == Quiz.lesson_id)
            .join(Course, Course.id == Lesson.course_id)
            .where(Course.slug == named.course, Lesson.slug == named.lesson)
        ).first()
    else:
        raise ValidationError(
            "must be COURSE/LESSON (the quiz's lesson) or a quiz id", field="quiz", value=ref
        )
    if quiz is None:
        raise NotFound(f"no quiz {text}", field="quiz", value=ref)
    return quiz


def get_managed_quiz(session: Session, actor: Actor, ref: str | int, what: str) -> Quiz:
    """The quiz, if the actor manages its course (admin or the course's instructor)."""
    quiz = get_quiz(session, ref)
    require_course_manager(actor, quiz.lesson.course, what)
    return quiz


def attempt_count(session: Session, quiz_id: int) -> int:
    stmt = select(func.count()).select_from(Attempt).where(Attempt.quiz_id == quiz_id)
    return session.scalar(stmt) or 0


def create_quiz(
    session: Session,
    *,
    actor: Actor,
    course_slug: str,
    lesson_slug: str,
    data: QuizCreate,
) -> Quiz:
    """Attach a quiz to an existing lesson of type ``quiz`` (unpublished, without questions)."""
    course = get_course(session, course_slug)
    require_course_manager(actor, course, "create quizzes")
    lesson = session.scalars(
        select(Lesson).where(Lesson.course_id == course.id, Lesson.slug == lesson_slug.strip())
    ).first()
    if lesson is None:
        raise NotFound(
            f"course {course.slug} has no lesson {lesson_slug}; add it first, of type quiz",
            field="lesson_slug",
            value=lesson_slug,
            hint=hint(HintCode.add_quiz_lesson, course=course.slug, lesson=lesson_slug),
        )
    if lesson.lesson_type != LessonType.quiz.value:
        raise Conflict(
            f"lesson {course.slug}/{lesson.slug} is a {lesson.lesson_type} lesson, not a quiz "
            "lesson: change its type to quiz",
            field="lesson_slug",
            value=lesson_slug,
            hint=hint(HintCode.make_quiz_lesson, course=course.slug, lesson=lesson.slug),
        )
    values = _validated({"title": data.title, **given(data)})
    existing = session.scalars(select(Quiz).where(Quiz.lesson_id == lesson.id)).first()
    if existing is not None:
        raise Conflict(
            f"lesson {course.slug}/{lesson.slug} already has a quiz (id {existing.id})",
            field="lesson_slug",
            value=lesson_slug,
        )
    quiz = Quiz(lesson_id=lesson.id, **values)
    session.add(quiz)
    session.flush()
    session.refresh(quiz, ["lesson"])
    audit.record(
        session,
        actor,
        "quiz.create",
        quiz,
        after={"course": course.slug, "lesson": lesson.slug, **audit.snapshot(quiz, AUDITED)},
    )
    return quiz


def update_quiz(session: Session, *, actor: Actor, quiz_ref: str | int, data: QuizUpdate) -> Quiz:
    """Change the given settings (``time_limit_minutes``/``max_attempts`` 0 clears the limit).

    Changing the passing score or the key does not touch graded attempts: ``regrade`` does.
    """
    quiz = get_managed_quiz(session, actor, quiz_ref, "change quizzes")
    values = _validated(given(data))
    if not values:
        raise ValidationError("nothing to change: give at least one setting", field="fields")
    audit.apply_change(session, actor, "quiz.update", quiz, fields=AUDITED, values=values)
    return quiz


def publish_quiz(session: Session, *, actor: Actor, quiz_ref: str | int) -> Quiz:
    """Open the quiz to learners; a quiz without questions is refused."""
    quiz = get_managed_quiz(session, actor, quiz_ref, "publish quizzes")
    if question_count(session, quiz.id) == 0:
        raise Conflict(
            f"quiz {quiz.id} has no questions; import some first",
            field="quiz",
            value=str(quiz_ref),
            hint=hint(HintCode.import_questions, quiz=quiz.id),
        )
    if not quiz.is_published:
        quiz.is_published = True
        session.flush()
        audit.record(
            session,
            actor,
            "quiz.publish",
            quiz,
            before={"is_published": False},
            after={"is_published": True},
        )
    return quiz


def show_quiz(session: Session, *, actor: Actor, quiz_ref: str | int) -> QuizDetail:
    """The quiz's settings and counts, to whom ``list_quizzes`` lists it: administrators, the
    course's instructor, and learners enrolled in the course once the quiz is published."""
    quiz = get_quiz(session, quiz_ref)
    course = quiz.lesson.course
    if not (quiz.is_published and course.is_published):
        require_course_manager(actor, course, "see an unpublished quiz")
    visible = _visible_to(actor)
    if visible is not None and not session.scalar(
        select(Quiz.id)
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .join(Course, Course.id == Lesson.course_id)
        .where(Quiz.id == quiz.id, visible)
    ):
        raise PermissionDenied(
            f"only the course's learners, its instructor or an administrator may see its "
            f"quizzes (course {course.slug}, acting as {actor.label})"
        )
    return QuizDetail(
        **quiz_row(quiz, questions=question_count(session, quiz.id)),
        points=float(sum((q.points for q in quiz.questions), Decimal(0))),
        attempts=attempt_count(session, quiz.id),
    )


def quizzes_query(
    session: Session, *, actor: Actor, course_slug: str | None = None
) -> Select[Quiz, int]:
    """The query behind ``list_quizzes``: (quiz, question count) rows, for a list or a stream
    (``pagination.iter_tuples``)."""
    counts = (
        select(Question.quiz_id, func.count().label("n"))
        .group_by(Question.quiz_id)
        .subquery("counts")
    )
    stmt = (
        select(Quiz, func.coalesce(counts.c.n, 0))
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .join(Course, Course.id == Lesson.course_id)
        .outerjoin(counts, counts.c.quiz_id == Quiz.id)
        .order_by(Course.slug, Lesson.order_index)
    )
    if course_slug:
        stmt = stmt.where(Course.id == get_course(session, course_slug).id)
    visible = _visible_to(actor)
    return stmt if visible is None else stmt.where(visible)


def _visible_to(actor: Actor) -> ColumnElement[bool] | None:
    """Which quizzes (joined to their course) the actor may see; None: all (administrators).

    A learner: the published quizzes of the courses they are enrolled in (not dropped); an
    instructor adds every quiz of their own courses, and never sees another instructor's quiz
    settings unless enrolled there as a learner.
    """
    if actor.is_admin:
        return None
    enrolled = (
        select(Enrollment.id)
        .where(
            Enrollment.course_id == Course.id,
            Enrollment.student_id == actor.user_id,
            Enrollment.status != EnrollmentStatus.dropped.value,
        )
        .exists()
    )
    visible: ColumnElement[bool] = (
        Quiz.is_published.is_(True) & Course.is_published.is_(True) & enrolled
    )
    if actor.user_id is not None and actor.role is Role.instructor:
        visible = or_(visible, Course.instructor_id == actor.user_id)
    return visible


def list_quizzes(
    session: Session, *, actor: Actor, course_slug: str | None = None
) -> list[QuizRow]:
    """Quizzes the actor may list: admins all; instructors their own courses'; learners the
    published quizzes of the courses they are enrolled in."""
    stmt = quizzes_query(session, actor=actor, course_slug=course_slug)
    return [quiz_row(quiz, questions=n) for quiz, n in session.execute(stmt)]
