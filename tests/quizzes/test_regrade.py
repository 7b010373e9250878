"""Regrade after a key fix: dry run writes nothing, apply updates scores, certificate warnings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from lms_core.catalog import progress
from lms_core.errors import PermissionDenied
from lms_core.models import Attempt, Certificate, Enrollment, LessonProgress
from lms_core.quizzes import attempts, review
from lms_core.quizzes import questions as qs
from lms_core.quizzes.regrade import final_of, regrade
from tests.cli.helpers import db_state
from tests.helpers import as_, audit_log
from tests.quizzes.quizkit import RIGHT, all_types, make_quiz

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def take(session, make, operator, setup, answers, *, student=None):
    student = student or make.user("student")
    if student.id != setup.student.id:
        make.enroll(student, setup.course)
    a = attempts.start_attempt(
        session, actor=operator, quiz_ref=setup.ref, email=student.email, now=T0
    ).attempt
    attempts.save_answers(session, actor=operator, attempt_id=a.id, answers=answers, now=T0)
    attempts.submit_attempt(session, actor=operator, attempt_id=a.id, now=T0)
    return a


def fix_key(session, operator, setup, right_index: int) -> None:
    """The first question's key was wrong: option ``right_index`` is the right one."""
    fixed = all_types()
    fixed[0].options = [
        {"text": t, "weight": 100 if i == right_index else 0, "feedback": None}
        for i, t in enumerate(["3", "4", "5"])
    ]
    qs.import_questions(session, actor=operator, quiz_ref=setup.ref, questions=fixed, replace=True)


def test_dry_run_shows_changes_and_writes_nothing_then_apply_updates(session, make, operator):
    setup = make_quiz(session, make, operator, passing_score=55)
    # Six auto questions (1 point each) + essay (4): without the essay graded the attempt waits.
    answers = {**RIGHT, 7: ""}  # blank essay: scored 0 at once
    right = take(session, make, operator, setup, answers, student=setup.student)
    wrong = take(session, make, operator, setup, {**answers, 1: 2})
    assert (right.score, wrong.score) == (Decimal("60.00"), Decimal("50.00"))
    assert right.passed and not wrong.passed
    fix_key(session, operator, setup, right_index=2)
    before = db_state(session)
    plan = regrade(session, actor=operator, quiz_ref=setup.ref, dry_run=True)
    assert db_state(session) == before
    assert plan.attempts == 2 and plan.changed_attempts == 2
    changes = {c.email: c for c in plan.learners}
    flipped = changes[setup.student.email]
    assert (flipped.old_score, flipped.new_score) == (Decimal("60.00"), Decimal("50.00"))
    assert (flipped.old_passed, flipped.new_passed) == (True, False)
    assert changes[wrong_email(session, wrong)].new_passed is True
    applied = regrade(session, actor=operator, quiz_ref=setup.ref)
    assert applied.changed_attempts == 2 and applied.lessons_completed == 1
    session.expire_all()
    right, wrong = session.get(Attempt, right.id), session.get(Attempt, wrong.id)
    assert (right.score, right.passed, right.points_earned) == (
        Decimal("50.00"),
        False,
        Decimal("5.00"),
    )
    assert (wrong.score, wrong.passed) == (Decimal("60.00"), True)
    q1 = qs.ordered_questions(session, setup.quiz.id)[0]
    assert (
        right.question_scores[str(q1.id)] == "0.00" and wrong.question_scores[str(q1.id)] == "1.00"
    )
    (entry,) = audit_log(session, "quiz.regrade")
    assert entry.after["attempts"] == 2 and entry.after["pass_to_fail"] == 1
    done = session.query(LessonProgress).filter_by(enrollment_id=wrong.enrollment_id).count()
    assert done == 1
    # The bulk completion follows the progress service's rules exactly.
    enrollment = session.get(Enrollment, wrong.enrollment_id)
    bulk = (enrollment.progress_percentage, enrollment.status)
    assert bulk == (Decimal("50.00"), "active")
    assert (progress.recompute(session, enrollment), enrollment.status) == bulk
    again = regrade(session, actor=operator, quiz_ref=setup.ref)
    assert again.changed_attempts == 0 and again.learners == []


def wrong_email(session, attempt):
    return session.get(Enrollment, attempt.enrollment_id).student.email


def test_hand_graded_essays_keep_their_points_and_waiting_ones_keep_waiting(
    session, make, operator
):
    setup = make_quiz(session, make, operator)
    graded = take(session, make, operator, setup, RIGHT, student=setup.student)
    review.grade_essay(
        session, actor=operator, attempt_id=graded.id, question_number=7, points="2.5"
    )
    waiting = take(session, make, operator, setup, RIGHT)
    assert waiting.status == "submitted"
    fix_key(session, operator, setup, right_index=0)
    regrade(session, actor=operator, quiz_ref=setup.ref)
    session.expire_all()
    graded, waiting = session.get(Attempt, graded.id), session.get(Attempt, waiting.id)
    assert graded.status == "graded" and graded.points_earned == Decimal("7.50")
    assert graded.score == Decimal("75.00")
    assert waiting.status == "submitted" and waiting.score is None
    assert waiting.points_earned == Decimal("5.00")


def test_pass_to_fail_with_a_certificate_is_a_warning_never_a_revocation(session, make, operator):
    setup = make_quiz(session, make, operator, passing_score=55)
    a = take(session, make, operator, setup, {**RIGHT, 7: ""}, student=setup.student)
    cert = Certificate(
        enrollment_id=a.enrollment_id,
        number="LMS-TEST-0001-X",
        learner_name="L",
        course_title="C",
        pdf_path="x.pdf",
        pdf_sha256="0" * 64,
    )
    session.add(cert)
    session.flush()
    fix_key(session, operator, setup, right_index=0)
    plan = regrade(session, actor=operator, quiz_ref=setup.ref, dry_run=True)
    assert plan.certificate_warnings == [setup.student.email]
    result = regrade(session, actor=operator, quiz_ref=setup.ref)
    assert result.certificate_warnings == [setup.student.email]
    session.refresh(cert)
    assert cert.status == "valid"
    assert audit_log(session, "quiz.regrade")[0].after["certificate_warnings"] == [
        setup.student.email
    ]


def test_only_course_managers_regrade(session, make, operator):
    setup = make_quiz(session, make, operator)
    with pytest.raises(PermissionDenied):
        regrade(session, actor=as_(setup.student), quiz_ref=setup.ref)
    assert regrade(session, actor=as_(setup.teacher), quiz_ref=setup.ref).attempts == 0


def test_regrade_reads_in_chunks(session, make, operator):
    setup = make_quiz(session, make, operator, questions=all_types()[:1])
    for _ in range(5):
        take(session, make, operator, setup, {1: 1})
    fix_key_single = all_types()[:1]
    fix_key_single[0].options[0]["weight"], fix_key_single[0].options[1]["weight"] = 100, 0
    qs.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=fix_key_single, replace=True
    )
    ticks = []
    result = regrade(
        session,
        actor=operator,
        quiz_ref=setup.ref,
        chunk_size=2,
        progress=lambda done, total: ticks.append((done, total)),
    )
    assert result.attempts == 5 and result.changed_attempts == 5
    assert ticks == [(2, 5), (4, 5), (5, 5)]
    session.expire_all()
    scores = {a.score for a in session.query(Attempt).filter_by(quiz_id=setup.quiz.id)}
    assert scores == {Decimal("0.00")}


@pytest.mark.parametrize(
    ("method", "expected"),
    [("highest", "90.00"), ("latest", "60.00"), ("first", "70.01"), ("average", "73.34")],
)
def test_final_of_matches_the_sql_rules(method, expected):
    scored = [(2, Decimal("90.00")), (1, Decimal("70.01")), (3, Decimal("60.00"))]
    assert final_of(method, scored) == Decimal(expected)
    assert final_of(method, []) is None


def test_bulk_completion_completes_the_course_like_the_progress_service(session, make, operator):
    setup = make_quiz(session, make, operator, questions=all_types()[:1], lessons=0)
    a = take(session, make, operator, setup, {1: 0}, student=setup.student)
    assert a.passed is False
    one = all_types()[:1]
    one[0].options[0]["weight"], one[0].options[1]["weight"] = 100, 0
    qs.import_questions(session, actor=operator, quiz_ref=setup.ref, questions=one, replace=True)
    result = regrade(session, actor=operator, quiz_ref=setup.ref)
    assert result.lessons_completed == 1
    enrollment = session.get(Enrollment, a.enrollment_id)
    assert (enrollment.status, enrollment.progress_percentage) == ("completed", Decimal("100.00"))
    assert enrollment.completed_at is not None


def test_the_scorer_memo_never_mixes_answers_that_python_calls_equal():
    """True == 1 == 1.0 in Python; a multiple-choice grader gives 1 point only to the int."""
    from types import SimpleNamespace

    from lms_core.quizzes.bank.marking import make_grader
    from lms_core.quizzes.scoring import scorer_for

    qs_ = [
        SimpleNamespace(id=i + 1, order_index=i + 1, **data.to_columns())
        for i, data in enumerate(all_types())
    ]
    scorer = scorer_for(qs_, Decimal(50))
    answers = [1, True, 1.0, "1", [0, 1], [1, 0], [[0]], {"0": "meow", "1": "woof"}, None, "3,14"]
    for _ in range(2):  # the second round is served from the memos
        for answer in answers:
            for q in qs_[:6]:
                earned, parts, _ = scorer.grade({str(q.id): answer}, {})
                expected = make_grader(q)(answer) or Decimal(0)
                assert earned == int(expected * 100), (q.question_type, answer)
                assert f'"{q.id}": "{expected:.2f}"' in parts
    earned, parts, pending = scorer.grade({"7": "An essay."}, {"7": "2.5"})
    assert (earned, pending) == (250, []) and parts[-1] == '"7": "2.50"'
    assert scorer.grade({"7": "An essay."}, {})[2] == [7]
