"""Attempts: start and resume, limits, answers, time limit, submit, essays, progress, overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from lms_core.catalog import enrollments
from lms_core.errors import Conflict, ErrorList, PermissionDenied, ValidationError
from lms_core.models import Attempt, LessonProgress
from lms_core.quizzes import attempts, quizzes, review
from lms_core.quizzes.fields import QuizUpdate
from lms_core.quizzes.final_scores import final_scores
from tests.helpers import as_, audit_log
from tests.quizzes.quizkit import RIGHT, WRONG, all_types, make_quiz

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def start(session, setup, actor=None, now=T0):
    return attempts.start_attempt(
        session,
        actor=actor or as_(setup.student),
        quiz_ref=setup.ref,
        email=setup.student.email,
        now=now,
    )


def lesson_done(session, setup) -> bool:
    return (
        session.scalars(
            select(LessonProgress).where(LessonProgress.lesson_id == setup.quiz.lesson_id)
        ).first()
        is not None
    )


def test_a_full_attempt_essay_waits_then_graded_and_passing_completes_the_lesson(
    session, make, operator
):
    setup = make_quiz(session, make, operator)
    v = start(session, setup)
    attempt = v.attempt
    assert attempt.status == "in_progress" and attempt.number == 1 and not v.resumed
    saved = attempts.save_answers(
        session, actor=as_(setup.student), attempt_id=attempt.id, answers=RIGHT, now=T0
    )
    assert saved.saved == list(range(1, 8)) and not saved.late
    done = attempts.submit_attempt(
        session, actor=as_(setup.student), attempt_id=attempt.id, now=T0 + timedelta(minutes=5)
    )
    assert done.status == "submitted" and done.score is None and done.passed is None
    assert done.points_earned == Decimal("6.00") and done.points_possible == Decimal("10.00")
    assert not lesson_done(session, setup)
    with pytest.raises(PermissionDenied):
        review.grade_essay(
            session, actor=as_(setup.student), attempt_id=attempt.id, question_number=7, points=4
        )
    with pytest.raises(ValidationError):
        review.grade_essay(
            session, actor=as_(setup.teacher), attempt_id=attempt.id, question_number=7, points=5
        )
    with pytest.raises(ValidationError):
        review.grade_essay(
            session, actor=as_(setup.teacher), attempt_id=attempt.id, question_number=1, points=1
        )
    graded = review.grade_essay(
        session, actor=as_(setup.teacher), attempt_id=attempt.id, question_number=7, points="3"
    )
    assert graded.status == "graded" and graded.score == Decimal("90.00") and graded.passed
    assert graded.graded_by_id == setup.teacher.id and graded.graded_at is not None
    assert sorted(graded.question_scores.values()) == ["1.00"] * 6 + ["3.00"]
    assert lesson_done(session, setup)
    enrollment = enrollments.find_enrollment(session, setup.student.id, setup.course.id)
    assert enrollment.progress_percentage == Decimal("50.00")
    actions = [e.action for e in audit_log(session) if e.action.startswith("attempt.")]
    assert actions == ["attempt.start", "attempt.answer", "attempt.submit", "attempt.grade_essay"]


def test_start_needs_a_published_quiz_and_an_active_enrollment(session, make, operator):
    setup = make_quiz(session, make, operator, publish=False)
    with pytest.raises(Conflict) as unpublished:
        start(session, setup)
    assert unpublished.value.field == "quiz"
    quizzes.publish_quiz(session, actor=operator, quiz_ref=setup.ref)
    stranger = make.user("student")
    with pytest.raises(Conflict):
        attempts.start_attempt(
            session, actor=operator, quiz_ref=setup.ref, email=stranger.email, now=T0
        )
    with pytest.raises(PermissionDenied):
        attempts.start_attempt(
            session, actor=as_(stranger), quiz_ref=setup.ref, email=setup.student.email, now=T0
        )
    enrollments.drop(
        session, actor=operator, email=setup.student.email, course_slug=setup.course.slug
    )
    with pytest.raises(Conflict) as dropped:
        start(session, setup)
    assert "dropped" in dropped.value.message


def test_resume_returns_the_same_attempt_in_the_same_order(session, make, operator):
    setup = make_quiz(session, make, operator, shuffle_questions=True, shuffle_options=True)
    first = start(session, setup)
    again = start(session, setup, actor=operator, now=T0 + timedelta(hours=1))
    assert again.resumed and again.attempt.id == first.attempt.id
    assert [q.id for q in again.questions] == [q.id for q in first.questions]
    assert again.option_orders == first.option_orders
    shown = attempts.show_attempt(session, actor=as_(setup.student), attempt_id=first.attempt.id)
    assert [q.id for q in shown.questions] == [q.id for q in first.questions]
    with pytest.raises(PermissionDenied):
        attempts.show_attempt(session, actor=as_(make.user("student")), attempt_id=first.attempt.id)
    assert sorted(q.order_index for q in first.questions) == list(range(1, 8))
    view = attempts.learner_questions(first)
    mc = next(item for item in view if item["question_type"] == "multiple_choice")
    assert sorted(c["index"] for c in mc["choices"]) == [0, 1, 2]
    assert all("weight" not in c for c in mc["choices"])
    assert session.scalars(select(Attempt).where(Attempt.quiz_id == setup.quiz.id)).all() == [
        first.attempt
    ]


def test_shuffle_is_deterministic_per_seed_and_differs_between_attempts(session, make, operator):
    many = [all_types()[0] for _ in range(12)]
    setup = make_quiz(session, make, operator, questions=many, shuffle_questions=True)
    orders = []
    for _ in range(3):
        v = start(session, setup)
        seed_view = attempts.view(session, v.attempt, setup.quiz)
        assert [q.id for q in seed_view.questions] == [q.id for q in v.questions]
        orders.append(tuple(q.id for q in v.questions))
        attempts.submit_attempt(session, actor=operator, attempt_id=v.attempt.id, now=T0)
    assert len(set(orders)) > 1  # 12! orders: three equal seeds' orders would be a miracle
    unshuffled = make_quiz(session, make, operator, questions=many)
    v = start(session, unshuffled)
    assert [q.order_index for q in v.questions] == list(range(1, 13))


def test_attempt_limit_counts_every_attempt(session, make, operator):
    setup = make_quiz(session, make, operator, questions=all_types()[:1], max_attempts=2)
    for _ in range(2):
        a = start(session, setup).attempt
        attempts.submit_attempt(session, actor=operator, attempt_id=a.id, now=T0)
    with pytest.raises(Conflict) as refused:
        start(session, setup)
    assert refused.value.field == "max_attempts"
    quizzes.update_quiz(
        session, actor=operator, quiz_ref=setup.ref, data=QuizUpdate(max_attempts=3)
    )
    assert start(session, setup).attempt.number == 3


def test_one_attempt_in_progress_per_learner_even_when_inserted_behind_our_back(
    session, make, operator
):
    """The partial unique index refuses a second in-progress attempt; start resumes the first."""
    from sqlalchemy.exc import IntegrityError

    setup = make_quiz(session, make, operator)
    first = start(session, setup).attempt
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(
            Attempt(
                enrollment_id=first.enrollment_id,
                quiz_id=first.quiz_id,
                number=2,
                status="in_progress",
                shuffle_seed=1,
            )
        )
    assert start(session, setup).attempt.id == first.id


def test_answers_are_checked_before_any_is_stored(session, make, operator):
    setup = make_quiz(session, make, operator)
    a = start(session, setup).attempt
    with pytest.raises(ErrorList) as bad:
        attempts.save_answers(
            session,
            actor=as_(setup.student),
            attempt_id=a.id,
            answers={1: 7, 2: [0, 0], 3: "yes", 9: 1, 4: "ok"},
            now=T0,
        )
    assert {e.field for e in bad.value.errors} == {
        "question 1",
        "question 2",
        "question 3",
        "question",
    }
    session.refresh(a)
    assert a.answers == {}
    other = make.user("student")
    with pytest.raises(PermissionDenied):
        attempts.save_answers(session, actor=as_(other), attempt_id=a.id, answers={1: 1}, now=T0)


def test_answers_after_the_deadline_are_not_counted(session, make, operator):
    setup = make_quiz(session, make, operator, questions=all_types()[:3], time_limit_minutes=10)
    a = start(session, setup).attempt
    assert a.deadline_at == T0 + timedelta(minutes=10)
    attempts.save_answers(
        session, actor=operator, attempt_id=a.id, answers={1: 1}, now=T0 + timedelta(minutes=9)
    )
    late = attempts.save_answers(
        session,
        actor=operator,
        attempt_id=a.id,
        answers={2: [0, 1], 3: True},
        now=T0 + timedelta(minutes=11),
    )
    assert late.late and late.saved == []
    assert list(a.answers.values()) == [1]  # only the answer saved in time
    assert a.status == "graded" and a.submitted_at == a.deadline_at
    assert a.score == Decimal("33.33") and a.passed is False
    with pytest.raises(Conflict):
        attempts.save_answers(session, actor=operator, attempt_id=a.id, answers={2: [0]}, now=T0)
    assert audit_log(session, "attempt.close_overdue")


def test_submit_after_the_deadline_counts_as_handed_in_at_the_deadline(session, make, operator):
    setup = make_quiz(session, make, operator, questions=all_types()[:1], time_limit_minutes=5)
    a = start(session, setup).attempt
    attempts.save_answers(session, actor=operator, attempt_id=a.id, answers={1: 1}, now=T0)
    done = attempts.submit_attempt(
        session, actor=operator, attempt_id=a.id, now=T0 + timedelta(hours=2)
    )
    assert done.submitted_at == T0 + timedelta(minutes=5) and done.score == Decimal("100.00")


def test_starting_again_after_the_deadline_closes_the_old_attempt(session, make, operator):
    setup = make_quiz(session, make, operator, questions=all_types()[:1], time_limit_minutes=5)
    first = start(session, setup).attempt
    second = start(session, setup, now=T0 + timedelta(minutes=6)).attempt
    assert second.id != first.id and second.number == 2
    assert first.status == "graded" and first.score == Decimal("0.00")


def test_close_overdue_closes_only_attempts_past_their_deadline(session, make, operator):
    timed = make_quiz(session, make, operator, questions=all_types()[:2], time_limit_minutes=30)
    untimed = make_quiz(session, make, operator, questions=all_types()[:2])
    late = start(session, timed).attempt
    attempts.save_answers(session, actor=operator, attempt_id=late.id, answers={1: 1}, now=T0)
    fresh_student = make.user("student")
    make.enroll(fresh_student, timed.course)
    fresh = attempts.start_attempt(
        session,
        actor=operator,
        quiz_ref=timed.ref,
        email=fresh_student.email,
        now=T0 + timedelta(minutes=20),
    ).attempt
    open_ended = start(session, untimed).attempt
    now = T0 + timedelta(minutes=40)
    plan = review.close_overdue(session, actor=operator, now=now, dry_run=True)
    ours = [r for r in plan if r["quiz_id"] in (timed.quiz.id, untimed.quiz.id)]
    assert [r["id"] for r in ours] == [late.id] and late.status == "in_progress"
    closed = review.close_overdue(session, actor=operator, now=now)
    assert late.id in [r["id"] for r in closed]
    assert late.status == "graded" and late.score == Decimal("50.00")
    assert late.submitted_at == T0 + timedelta(minutes=30)
    assert fresh.status == "in_progress" and open_ended.status == "in_progress"
    again = review.close_overdue(session, actor=operator, now=now)
    assert late.id not in [r["id"] for r in again]


@pytest.mark.parametrize(
    ("method", "answers", "expected_final", "passes"),
    [
        ("highest", [{1: 0}, {1: 1}, {1: 0}], "100.00", True),
        ("latest", [{1: 1}, {1: 0}], "0.00", False),
        ("first", [{1: 1}, {1: 0}], "100.00", True),
        ("average", [{1: 0}, {1: 0}, {1: 1}], "33.33", False),
    ],
)
def test_grading_methods_decide_the_final_score_and_the_lesson(
    session, make, operator, method, answers, expected_final, passes
):
    setup = make_quiz(session, make, operator, questions=all_types()[:1], grading_method=method)
    for given in answers:
        a = start(session, setup).attempt
        attempts.save_answers(session, actor=operator, attempt_id=a.id, answers=given, now=T0)
        attempts.submit_attempt(session, actor=operator, attempt_id=a.id, now=T0)
    enrollment_id = a.enrollment_id
    assert final_scores(session, [setup.quiz.id]) == {
        (setup.quiz.id, enrollment_id): Decimal(expected_final)
    }
    if method != "latest":
        assert lesson_done(session, setup) is passes


def test_a_practice_quiz_completes_its_lesson_when_handed_in(session, make, operator):
    setup = make_quiz(
        session, make, operator, questions=all_types()[:1], quiz_type="practice", lessons=0
    )
    a = start(session, setup).attempt
    done = attempts.submit_attempt(session, actor=operator, attempt_id=a.id, now=T0)
    assert done.passed is False and lesson_done(session, setup)
    enrollment = enrollments.find_enrollment(session, setup.student.id, setup.course.id)
    assert enrollment.status == "completed" and enrollment.progress_percentage == Decimal("100.00")


def test_a_blank_essay_scores_zero_without_waiting(session, make, operator):
    setup = make_quiz(session, make, operator)
    a = start(session, setup).attempt
    attempts.save_answers(session, actor=operator, attempt_id=a.id, answers=WRONG, now=T0)
    done = attempts.submit_attempt(session, actor=operator, attempt_id=a.id, now=T0)
    assert done.status == "graded" and done.score == Decimal("5.00")  # half of the matching


def test_list_attempts_is_for_the_course_managers(session, make, operator):
    setup = make_quiz(session, make, operator)
    a = start(session, setup).attempt
    rows = review.list_attempts(session, actor=as_(setup.teacher), quiz_ref=setup.ref)
    assert [(r["id"], r["email"], r["status"]) for r in rows] == [
        (a.id, setup.student.email, "in_progress")
    ]
    with pytest.raises(PermissionDenied):
        review.list_attempts(session, actor=as_(setup.student), quiz_ref=setup.ref)


def test_review_attempt_shows_answers_points_and_the_essay_waiting(
    session: Any, make: Any, operator: Any
) -> None:
    setup = make_quiz(session, make, operator, shuffle_options=True)
    learner = as_(setup.student)
    started = attempts.start_attempt(
        session, actor=learner, quiz_ref=setup.ref, email=setup.student.email
    )
    attempt_id = started.attempt.id
    attempts.save_answers(session, actor=learner, attempt_id=attempt_id, answers=RIGHT)
    attempts.submit_attempt(session, actor=learner, attempt_id=attempt_id)

    data = review.review_attempt(session, actor=as_(setup.teacher), attempt_id=attempt_id)
    assert data["attempt"]["status"] == "submitted"
    by_number = {q["number"]: q for q in data["questions"]}
    assert [q["number"] for q in data["questions"]] == list(range(1, 8))  # quiz order
    assert (by_number[1]["answer"], by_number[1]["answer_text"]) == (1, "4")  # stored index
    assert by_number[2]["answer_text"] == "2; 4"
    assert by_number[1]["points_earned"] == 1.0 and not by_number[1]["waiting"]
    essay = by_number[7]
    assert (essay["answer"], essay["points_earned"], essay["waiting"]) == ("Because.", None, True)
    assert "weight" not in repr(data)  # no key: that is `quizzes questions`

    # The learner reads their own attempt; another learner may not.
    assert review.review_attempt(session, actor=learner, attempt_id=attempt_id)["questions"]
    with pytest.raises(PermissionDenied):
        review.review_attempt(session, actor=as_(make.user("student")), attempt_id=attempt_id)

    review.grade_essay(
        session,
        actor=as_(setup.teacher),
        attempt_id=attempt_id,
        question_number=7,
        points="3.5",
    )
    essay = review.review_attempt(session, actor=as_(setup.teacher), attempt_id=attempt_id)[
        "questions"
    ][6]
    assert (essay["points_earned"], essay["waiting"]) == (3.5, False)
