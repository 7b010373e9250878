"""A small fixed school whose every figure is computed by hand in the tests.

Rows are inserted directly (not through the services) so that every timestamp is fixed.
Course ``rep-course`` (instructor ``t1``): lessons intro (text), check (quiz: a multiple
choice, a true/false and an essay; 1 + 1 + 2 points; graded, published, passing 50, highest
attempt counts), homework (assignment: 10 points, 10 % off per day late). Learners:

- s1 enrolled Mon 2026-01-05 10:00, completed 01-15 10:00 (10 days); quiz 4/4 (100 %);
  homework 8/10 on time; rated 5; a valid certificate.
- s2 enrolled 01-07 10:00, completed Sun 01-11 10:00 (4 days); quiz 1/4 then 3/4 (25 %, 75 %);
  homework 10/10 two days late (8 points); rated 4; a revoked certificate.
- s3 enrolled Mon 01-12 09:00, active, intro done 10:00; quiz 1/4 (25 %) started 11:00
  submitted 11:30; homework submitted 12:00, not graded yet.
- s4 enrolled 01-13 09:00, dropped 01-14; intro done; rated 1; a quiz attempt with an essay
  not graded yet (status submitted).

``rep-empty`` (t1): no lessons, no learners. ``rep-noquiz`` (t2): one lesson, s1 enrolled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from lms_core.models import (
    Assignment,
    Attempt,
    Certificate,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Question,
    Quiz,
    Submission,
    User,
)


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


#: The reports' "now" in the tests (``until``): at-risk counts back from it.
NOW = at(2, 1)


@dataclass
class World:
    t1: User
    t2: User
    s: list[User]
    course: Course
    questions: list[Question]


def build(session: Session) -> World:
    def user(email: str, role: str = "student") -> User:
        u = User(email=email, role=role, full_name=email.split("@")[0].upper())
        session.add(u)
        return u

    t1, t2 = user("t1@rep.example.org", "instructor"), user("t2@rep.example.org", "instructor")
    s = [user(f"s{n}@rep.example.org") for n in range(1, 5)]
    course = Course(title="Reports", slug="rep-course", instructor=t1, is_published=True)
    empty = Course(title="Empty", slug="rep-empty", instructor=t1)
    noquiz = Course(title="No quiz", slug="rep-noquiz", instructor=t2, is_published=True)
    session.add_all([course, empty, noquiz])
    intro = Lesson(course=course, title="Intro", slug="intro", order_index=1)
    check = Lesson(course=course, title="Check", slug="check", order_index=2, lesson_type="quiz")
    home = Lesson(
        course=course, title="Homework", slug="homework", order_index=3, lesson_type="assignment"
    )
    only = Lesson(course=noquiz, title="Only", slug="only", order_index=1)
    session.add_all([intro, check, home, only])
    quiz = Quiz(lesson=check, title="Check", passing_score=Decimal(50), is_published=True)
    q1 = Question(
        quiz=quiz,
        question_text="Pick a",
        question_type="multiple_choice",
        points=Decimal(1),
        order_index=1,
        options=[
            {"text": "a", "weight": 100, "feedback": None},
            {"text": "b", "weight": 0, "feedback": None},
            {"text": "c", "weight": 0, "feedback": None},
        ],
    )
    q2 = Question(
        quiz=quiz,
        question_text="True?",
        question_type="true_false",
        points=Decimal(1),
        order_index=2,
        correct_answer=True,
    )
    q3 = Question(
        quiz=quiz,
        question_text="Explain",
        question_type="essay",
        points=Decimal(2),
        order_index=3,
    )
    assignment = Assignment(
        course=course,
        lesson=home,
        title="Homework",
        max_points=Decimal(10),
        late_penalty_percent=Decimal(10),
    )
    session.add_all([quiz, q1, q2, q3, assignment])
    session.flush()

    def enroll(u: User, c: Course, when: datetime, **extra: object) -> Enrollment:
        e = Enrollment(student=u, course=c, enrolled_at=when, **extra)
        session.add(e)
        return e

    e1 = enroll(
        s[0],
        course,
        at(1, 5, 10),
        status="completed",
        completed_at=at(1, 15, 10),
        progress_percentage=Decimal(100),
        rating=5,
    )
    e2 = enroll(
        s[1],
        course,
        at(1, 7, 10),
        status="completed",
        completed_at=at(1, 11, 10),
        progress_percentage=Decimal(100),
        rating=4,
    )
    e3 = enroll(s[2], course, at(1, 12, 9), progress_percentage=Decimal("33.33"))
    e4 = enroll(
        s[3],
        course,
        at(1, 13, 9),
        status="dropped",
        dropped_at=at(1, 14),
        progress_percentage=Decimal("33.33"),
        rating=1,
    )
    enroll(s[0], noquiz, at(1, 20, 8))
    session.flush()
    for e, lessons in ((e1, (intro, check, home)), (e2, (intro, check, home))):
        for n, lesson in enumerate(lessons):
            session.add(
                LessonProgress(
                    enrollment_id=e.id,
                    lesson_id=lesson.id,
                    completed_at=e.enrolled_at.replace(hour=11 + n),
                )
            )
    session.add(LessonProgress(enrollment_id=e3.id, lesson_id=intro.id, completed_at=at(1, 12, 10)))
    session.add(LessonProgress(enrollment_id=e4.id, lesson_id=intro.id, completed_at=at(1, 13, 10)))

    def attempt(
        e: Enrollment,
        number: int,
        answers: dict[Question, object],
        scores: dict[Question, int],
        started: datetime,
        status: str = "graded",
    ) -> None:
        earned = sum(scores.values())
        graded = status == "graded"
        session.add(
            Attempt(
                enrollment_id=e.id,
                quiz_id=quiz.id,
                number=number,
                status=status,
                score=Decimal(earned * 25) if graded else None,
                points_earned=Decimal(earned) if graded else None,
                points_possible=Decimal(4),
                passed=(earned >= 2) if graded else None,
                started_at=started,
                submitted_at=started.replace(minute=30),
                graded_at=started.replace(minute=45) if graded else None,
                answers={str(q.id): a for q, a in answers.items()},
                question_scores={str(q.id): v for q, v in scores.items()},
                shuffle_seed=1,
            )
        )

    attempt(e1, 1, {q1: 0, q2: True, q3: "essay"}, {q1: 1, q2: 1, q3: 2}, at(1, 6, 9))
    attempt(e2, 1, {q1: 1, q2: False, q3: "x"}, {q1: 0, q2: 0, q3: 1}, at(1, 8, 9))
    attempt(e2, 2, {q1: 0, q2: True, q3: "y"}, {q1: 1, q2: 1, q3: 1}, at(1, 9, 9))
    attempt(e3, 1, {q1: 2, q2: True}, {q1: 0, q2: 1, q3: 0}, at(1, 12, 11))
    attempt(e4, 1, {q1: 0, q2: True, q3: "z"}, {q1: 1, q2: 1}, at(1, 13, 11), "submitted")
    for student, grade, late, when in (
        (s[0], Decimal(8), 0, at(1, 10, 9)),
        (s[1], Decimal(10), 2, at(1, 10, 8)),
        (s[2], None, 0, at(1, 12, 12)),
    ):
        session.add(
            Submission(
                assignment_id=assignment.id,
                student_id=student.id,
                submitted_at=when,
                days_late=late,
                grade=grade,
                graded_at=when.replace(hour=20) if grade else None,
            )
        )
    for e, number, revoked in ((e1, "LMS-REP1-0001-A", None), (e2, "LMS-REP2-0002-B", at(1, 20))):
        session.add(
            Certificate(
                enrollment_id=e.id,
                number=number,
                issued_at=at(1, 16),
                learner_name="x",
                course_title="Reports",
                pdf_path="x.pdf",
                pdf_sha256="0" * 64,
                revoked_at=revoked,
            )
        )
    session.flush()
    return World(t1, t2, s, course, [q1, q2, q3])
