"""How fast ``lmsctl quizzes regrade`` regrades a quiz, against a raw driver loop.

What: :func:`lms_core.quizzes.regrade.regrade` inside :func:`lms_core.db.unit_of_work` (what
the command runs), on a fresh, migrated SQLite file (and PostgreSQL with ``--pg URL``), for a
20-question quiz (6 multiple choice, 3 multiple response, 3 true/false, 3 short answer,
2 numerical, 2 matching, 1 essay already hand-graded) with 100,000 graded attempts, one per
learner (``--quick``: 2,000). Timed from the start of the unit of work to its commit. The data
(users, enrollments, attempts) is generated with bulk Core inserts and is not timed.

Baseline, measured in the same run on the same database: the plainest regrade one could
write with the DBAPI driver (sqlite3 / psycopg2): one cursor ``SELECT id, answers`` of the
quiz's attempts, ``json.loads`` each, a minimal inline grader (each answer compared with the
key's value in a dict: right = 1 point), then ``UPDATE attempts SET score, points_earned,
passed, question_scores`` for every attempt with one ``executemany``, and ``commit``.

Figures: attempts/s of both, and their ratio. Why: regrade must stay set-based (chunked Core
reads, prepared graders, one executemany per chunk); one ORM object per attempt would show as
a collapse of the ratio.

Note on PostgreSQL: psycopg2's ``executemany`` sends one statement per row, in the baseline
as in SQLAlchemy's default for UPDATE, so both pay the same. The database name in ``--pg`` is
not used: each run creates (and drops) ``lms_bench_<pid>_<n>`` on that server.

Exit status: 0 when the benchmark ran, whether targets pass or miss.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session
from support.databases import postgres_databases, sqlite_databases

from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.models import Attempt, Course, Enrollment, Lesson, Question, Quiz, Role, User
from lms_core.ops import schema
from lms_core.quizzes.bank.shapes import QuestionData
from lms_core.quizzes.regrade import regrade
from lms_core.settings import Environment, Settings

RATIO_GOAL = 0.5
RIGHT_SHARE = 0.7


def questions() -> list[tuple[QuestionData, Any, Any]]:
    """20 questions: (data, a right answer, a wrong answer)."""
    out: list[tuple[QuestionData, Any, Any]] = []
    for i in range(6):
        options = [
            {"text": f"o{j}", "weight": 100 if j == i % 4 else 0, "feedback": None}
            for j in range(4)
        ]
        out.append((QuestionData(f"mc {i}", "multiple_choice", options), i % 4, (i + 1) % 4))
    for i in range(3):
        options = [
            {"text": "a", "weight": 50, "feedback": None},
            {"text": "b", "weight": 50, "feedback": None},
            {"text": "c", "weight": -50, "feedback": None},
        ]
        out.append((QuestionData(f"mr {i}", "multiple_response", options), [0, 1], [0, 2]))
    for i in range(3):
        out.append((QuestionData(f"tf {i}", "true_false", [], i % 2 == 0), i % 2 == 0, i % 2 != 0))
    for i in range(3):
        options = [{"text": f"Answer {i}", "weight": 100, "feedback": None}]
        out.append((QuestionData(f"sa {i}", "short_answer", options), f"answer {i}", "nope"))
    for i in range(2):
        options = [
            {
                "min": i + 0.9,
                "max": i + 1.1,
                "value": i + 1,
                "tolerance": 0.1,
                "weight": 100,
                "feedback": None,
            }
        ]
        out.append((QuestionData(f"num {i}", "numerical", options), str(i + 1), "7"))
    for i in range(2):
        options = [{"left": f"l{j}", "right": f"r{j}"} for j in range(3)]
        right = {str(j): f"r{j}" for j in range(3)}
        out.append((QuestionData(f"match {i}", "matching", options), right, {"0": "r1"}))
    out.append((QuestionData("essay", "essay", []), "Because.", "Because."))
    return out


@dataclass
class Backend:
    label: str
    fresh_url: Callable[[], AbstractContextManager[str]]
    tmp: Path

    @contextmanager
    def migrated(self) -> Iterator[Engine]:
        with self.fresh_url() as url:
            settings = Settings(
                database_url=url, files_dir=self.tmp / "files", environment=Environment.development
            )
            engine = make_engine(settings)
            try:
                schema.upgrade(engine)
                yield engine
            finally:
                engine.dispose()


def generate(engine: Engine, n: int, *, batch: int = 5000) -> tuple[int, dict[str, Any]]:
    """A course, its quiz with 20 questions, ``n`` learners with one graded attempt each.

    Returns the quiz id and the key for the baseline's grader (question id -> right answer).
    """
    rng = random.Random(42)
    stamped = {"created_at": func.current_timestamp(), "updated_at": func.current_timestamp()}
    with Session(engine) as session, session.begin():
        teacher = session.scalar(
            insert(User)
            .values(
                email="teacher@bench.invalid",
                full_name="T",
                role=Role.instructor.value,
                is_active=True,
                failed_login_attempts=0,
                **stamped,
            )
            .returning(User.id)
        )
        course_id = session.scalar(
            insert(Course)
            .values(
                slug="bench",
                title="Bench",
                instructor_id=teacher,
                is_published=True,
                difficulty_level="beginner",
                **stamped,
            )
            .returning(Course.id)
        )
        lesson_id = session.scalar(
            insert(Lesson)
            .values(
                course_id=course_id,
                slug="quiz",
                title="Quiz",
                lesson_type="quiz",
                order_index=1,
                is_preview=False,
                is_required=True,
                **stamped,
            )
            .returning(Lesson.id)
        )
        quiz_id = session.scalar(
            insert(Quiz)
            .values(
                lesson_id=lesson_id,
                title="Bench quiz",
                quiz_type="graded",
                passing_score=60,
                shuffle_questions=False,
                shuffle_options=False,
                show_correct_answers=True,
                grading_method="highest",
                is_published=True,
                **stamped,
            )
            .returning(Quiz.id)
        )
        spec = questions()
        qids = []
        for i, (data, _, _) in enumerate(spec, start=1):
            qids.append(
                session.scalar(
                    insert(Question)
                    .values(quiz_id=quiz_id, order_index=i, **data.to_columns(), **stamped)
                    .returning(Question.id)
                )
            )
        key = {str(qid): right for qid, (_, right, _) in zip(qids, spec, strict=True)}
        essay = str(qids[-1])
        for start in range(0, n, batch):
            size = min(batch, n - start)
            users = session.scalars(
                insert(User)
                .values(role=Role.student.value, is_active=True, failed_login_attempts=0, **stamped)
                .returning(User.id),
                [
                    {"email": f"learner-{i:07d}@bench.invalid", "full_name": f"Learner {i}"}
                    for i in range(start, start + size)
                ],
            ).all()
            enrollments = session.scalars(
                insert(Enrollment)
                .values(
                    course_id=course_id,
                    status="active",
                    progress_percentage=0,
                    enrolled_at=func.current_timestamp(),
                    **stamped,
                )
                .returning(Enrollment.id),
                [{"student_id": u} for u in users],
            ).all()
            rows = []
            for eid in enrollments:
                answers = {
                    str(qid): right if rng.random() < RIGHT_SHARE else wrong
                    for qid, (_, right, wrong) in zip(qids, spec, strict=True)
                }
                rows.append(
                    {
                        "enrollment_id": eid,
                        "answers": answers,
                        "question_scores": {essay: "1.00"},
                        "shuffle_seed": rng.randrange(2**31),
                    }
                )
            session.execute(
                insert(Attempt).values(
                    quiz_id=quiz_id,
                    number=1,
                    status="graded",
                    score=0,
                    passed=False,
                    started_at=func.current_timestamp(),
                    submitted_at=func.current_timestamp(),
                    graded_at=func.current_timestamp(),
                ),
                rows,
            )
    return quiz_id, key


#: The baseline's statements; ``{p}`` is the driver's placeholder (? or %s).
SELECT = "SELECT id, answers FROM attempts WHERE quiz_id = {p}"
UPDATE = (
    "UPDATE attempts SET score = {p}, points_earned = {p}, passed = {p}, question_scores = {p} "
    "WHERE id = {p}"
)


def run_baseline(engine: Engine, quiz_id: int, key: dict[str, Any], n: int) -> float:
    """Seconds for the raw driver loop: select, json.loads, compare with the key, executemany."""
    sqlite = engine.dialect.name == "sqlite"
    p = "?" if sqlite else "%s"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        if sqlite:
            cursor.execute("BEGIN")  # make_engine hands transactions to SQLAlchemy
        cursor.execute(SELECT.format(p=p), (quiz_id,))
        items = list(key.items())
        total = len(items)
        params = []
        for attempt_id, answers_json in cursor.fetchall():
            answers = json.loads(answers_json) if isinstance(answers_json, str) else answers_json
            scores = {}
            earned = 0
            for qid, right in items:
                point = 1 if answers.get(qid) == right else 0
                scores[qid] = point
                earned += point
            score = round(100 * earned / total, 2)
            params.append((score, earned, score >= 60, json.dumps(scores), attempt_id))
        cursor.executemany(UPDATE.format(p=p), params)
        raw.commit()
        seconds = time.perf_counter() - started
        cursor.close()
    finally:
        raw.close()
    if len(params) != n:
        raise RuntimeError(f"baseline graded {len(params)} attempts, expected {n}")
    return seconds


def run_regrade(engine: Engine, quiz_id: int, n: int) -> float:
    factory = make_session_factory(engine)
    started = time.perf_counter()
    with unit_of_work(factory) as session:
        result = regrade(session, actor=Actor.system("bench"), quiz_ref=quiz_id)
    seconds = time.perf_counter() - started
    if result.attempts != n:
        raise RuntimeError(f"regrade graded {result.attempts} attempts, expected {n}")
    with engine.connect() as conn:
        wrong = conn.scalar(
            select(func.count()).select_from(Attempt).where(Attempt.points_possible != Decimal(20))
        )
    if wrong:
        raise RuntimeError(f"{wrong} attempts were not written back")
    return seconds


def target(name: str, value: float, goal: float) -> str:
    return f"target {name}: {value:.2f} (goal >= {goal:g}) {'PASS' if value >= goal else 'MISS'}"


def bench_backend(backend: Backend, n: int, repeat: int) -> list[str]:
    print(
        f"\n== {backend.label}: {n:,} graded attempts of a 20-question quiz; best of {repeat} run(s)"
    )
    with backend.migrated() as engine:
        started = time.perf_counter()
        quiz_id, key = generate(engine, n)
        print(f"  generated in {time.perf_counter() - started:.1f} s (not timed below)")
        bases, ours = [], []
        for _ in range(repeat):  # alternate, so load on the machine hits both alike
            bases.append(run_baseline(engine, quiz_id, key, n))
            ours.append(run_regrade(engine, quiz_id, n))
    # Best of the runs for both sides: on a shared machine the minimum is the run least
    # disturbed by other work (timeit's rule), and both sides get the same treatment.
    base, mine = min(bases), min(ours)
    ratio = (n / mine) / (n / base)
    print(f"  baseline (raw driver loop):    {base:7.2f} s  {n / base:>10,.0f} attempts/s")
    print(f"  regrade (service, unit of work): {mine:5.2f} s  {n / mine:>10,.0f} attempts/s")
    print(f"  ratio (regrade / baseline): {ratio:.2f}")
    suffix = "sqlite" if backend.label == "sqlite" else "pg"
    return [target(f"regrade_vs_raw_{suffix}", ratio, RATIO_GOAL)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2,000 attempts (CI smoke test)")
    parser.add_argument("--attempts", type=int, default=None, help="default 100,000; quick 2,000")
    parser.add_argument("--repeat", type=int, default=None, help="default 3; quick 5")
    parser.add_argument(
        "--pg",
        metavar="URL",
        default=None,
        help="also on this PostgreSQL server, e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
    )
    args = parser.parse_args(argv)
    n = args.attempts or (2_000 if args.quick else 100_000)
    if n < 1:
        parser.error("--attempts must be at least 1")
    repeat = args.repeat or (5 if args.quick else 3)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s){', quick' if args.quick else ''}"
    )
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lms-bench-regrade-") as tmp_name:
        tmp = Path(tmp_name)
        lines += bench_backend(Backend("sqlite", sqlite_databases(tmp), tmp), n, repeat)
        if args.pg:
            lines += bench_backend(
                Backend("postgresql", postgres_databases(args.pg), tmp), n, repeat
            )
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
