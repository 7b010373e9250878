"""The reports benches' site: what ``bench/reports_bench.py``'s docstring describes.

``fill`` builds it from nothing; ``top_up`` adds what an older fill lacked (assignments and
submissions, certificates, import runs, jobs, several attempts per enrollment under every
grading method) and does nothing when it is there already, so a kept full-size database
(``--reuse``) gets it without the many minutes of a new fill. Both write progress, attempts
and submissions with their own SQL, past the services that keep each user's latest activity
(``users.last_activity_at``): they set it from those rows after, set-based
(``lms_core.accounts.activity.recompute_last_activity``, what the migration that added the
column runs).
"""

# ruff: noqa: S608 - every statement is built from this file's constants and integers
from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from lms_core.accounts.activity import recompute_last_activity
from lms_core.actor import Actor
from lms_core.ops import demo
from lms_core.settings import Settings

OPTIONS = '[{"text": "right", "weight": 100}, {"text": "wrong", "weight": 0}, {"text": "other", "weight": 0}]'


def _days_ago(pg: bool, days: str) -> str:
    return (
        f"now() - ({days}) * interval '1 day'"
        if pg
        else f"datetime('now', '-' || ({days}) || ' days')"
    )


def _plus(pg: bool, column: str, days: str) -> str:
    return (
        f"{column} + ({days}) * interval '1 day'"
        if pg
        else f"datetime({column}, '+' || ({days}) || ' days')"
    )


def fill(engine: Engine, settings: Settings, users: int, courses: int, enrollments: int) -> None:
    """The site described in the module's docstring, in one transaction."""
    pg = engine.dialect.name == "postgresql"
    json = "CAST({} AS JSON)" if pg else "{}"
    with Session(engine) as session, session.begin():
        demo.generate(
            session,
            actor=Actor.system("bench"),
            settings=settings,
            n_users=users,
            n_courses=courses,
            n_enrollments=enrollments,
            seed_value=1,
        )
        sql = [
            f"UPDATE enrollments SET enrolled_at = {_days_ago(pg, '30 + id % 150')}, "
            "rating = CASE WHEN id % 3 = 0 THEN 1 + id % 5 END",
            f"UPDATE enrollments SET status = 'completed', completed_at = "
            f"{_plus(pg, 'enrolled_at', '1 + id % 29')}, progress_percentage = 100 WHERE id % 4 = 0",
            f"UPDATE enrollments SET status = 'dropped', dropped_at = {_plus(pg, 'enrolled_at', '3')} "
            "WHERE id % 10 = 1",
            "UPDATE lessons SET lesson_type = 'quiz' WHERE order_index = 5",
            "INSERT INTO quizzes (lesson_id, title, quiz_type, passing_score, shuffle_questions, "
            "shuffle_options, show_correct_answers, grading_method, is_published, created_at, "
            "updated_at) SELECT id, 'Quiz ' || course_id, 'graded', 50, false, false, true, "
            "'highest', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM lessons "
            "WHERE order_index = 5 ORDER BY id",
            "INSERT INTO questions (quiz_id, question_text, text_format, question_type, points, "
            "options, order_index, created_at, updated_at) SELECT q.id, 'Question ' || n.n, "
            f"'plain', 'multiple_choice', 1, {json.format(repr(OPTIONS))}, n.n, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM quizzes q CROSS JOIN (SELECT 1 AS n "
            "UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) n "
            "ORDER BY q.id, n.n",
            "INSERT INTO lesson_progress (enrollment_id, lesson_id, completed_at) "
            f"SELECT e.id, l.id, {_plus(pg, 'e.enrolled_at', 'l.order_index')} FROM enrollments e "
            "JOIN lessons l ON l.course_id = e.course_id WHERE l.order_index <= "
            "CASE WHEN e.status = 'completed' THEN 5 ELSE 1 + e.id % 4 END",
        ]
        # One graded attempt per enrollment: question k right when (id x (k + 3) + k) % 5 is
        # below the learner's "ability" 2 + id % 3, so questions discriminate.
        x = [
            f"CASE WHEN (e.id * {k + 3} + {k}) % 5 < 2 + e.id % 3 THEN 1 ELSE 0 END"
            for k in range(5)
        ]
        inner = (
            "SELECT e.id AS eid, qz.id AS quiz, fq.q0, "
            + ", ".join(f"{v} AS x{k}" for k, v in enumerate(x))
            + f", {_plus(pg, 'e.enrolled_at', '4')} AS at FROM enrollments e "
            "JOIN lessons l ON l.course_id = e.course_id AND l.order_index = 5 "
            "JOIN quizzes qz ON qz.lesson_id = l.id "
            "JOIN (SELECT quiz_id, MIN(id) AS q0 FROM questions GROUP BY quiz_id) fq "
            "ON fq.quiz_id = qz.id"
        )
        total = "(x0 + x1 + x2 + x3 + x4)"
        answers = " || ', ' || ".join(
            f"'\"' || (q0 + {k}) || '\": ' || CASE WHEN x{k} = 1 THEN 0 ELSE 1 + eid % 2 END"
            for k in range(5)
        )
        scores = " || ', ' || ".join(f"'\"' || (q0 + {k}) || '\": ' || x{k}" for k in range(5))
        sql.append(
            "INSERT INTO attempts (enrollment_id, quiz_id, number, status, score, points_earned, "
            "points_possible, passed, started_at, submitted_at, graded_at, answers, "
            "question_scores, shuffle_seed) "
            f"SELECT eid, quiz, 1, 'graded', 20 * {total}, {total}, 5, {total} >= 3, at, at, at, "
            f"{json.format(chr(39) + '{' + chr(39) + ' || ' + answers + ' || ' + chr(39) + '}' + chr(39))}, "
            f"{json.format(chr(39) + '{' + chr(39) + ' || ' + scores + ' || ' + chr(39) + '}' + chr(39))}, "
            f"1 FROM ({inner}) a"
        )
        for statement in sql:
            session.execute(text(statement))
    top_up(engine, analyze=False)
    # Here too, not only in top_up: the fill's own progress and attempts need it even if
    # top_up found every later part there and added nothing.
    _recompute(engine)
    vacuum_analyze(engine)


def _recompute(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        recompute_last_activity(session)


def vacuum_analyze(engine: Engine) -> None:
    """Statistics (and, on PostgreSQL, the visibility map) for every table, as a live site's
    autovacuum would have them: after a fill, a top-up or a migration that rewrote rows."""
    pg = engine.dialect.name == "postgresql"
    if pg:
        # VACUUM too: it marks the pages all-visible, as autovacuum does on a live site after
        # a while, so that counts over a time index can be index-only scans.
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def _json(pg: bool, value: str) -> str:
    return f"CAST({value} AS JSON)" if pg else value


def _steps(pg: bool) -> list[tuple[str, list[str]]]:
    """(the count that is 0 while the step is missing, its statements)."""
    ago = lambda days: _days_ago(pg, days)  # noqa: E731
    empty = _json(pg, "'{}'")
    return [
        (
            # Every grading method on the site (a quarter each); on even quizzes a second
            # graded attempt (another score) for every enrollment, and a third, submitted
            # and waiting for a grade (it has a score, as apply_result leaves it), for a third.
            "SELECT count(*) FROM attempts WHERE number = 2",
            [
                "UPDATE quizzes SET grading_method = CASE id % 4 WHEN 0 THEN 'highest' "
                "WHEN 1 THEN 'average' WHEN 2 THEN 'first' ELSE 'latest' END",
                "INSERT INTO attempts (enrollment_id, quiz_id, number, status, score, "
                "points_earned, points_possible, passed, started_at, submitted_at, graded_at, "
                "answers, question_scores, shuffle_seed) SELECT enrollment_id, quiz_id, 2, "
                "'graded', (score + 40) % 120, ((score + 40) % 120) / 20, 5, "
                "(score + 40) % 120 >= 60, "
                + ", ".join(_plus(pg, c, "1") for c in ("started_at", "submitted_at", "graded_at"))
                + ", answers, question_scores, 1 FROM attempts WHERE number = 1 "
                "AND quiz_id % 2 = 0",
                "INSERT INTO attempts (enrollment_id, quiz_id, number, status, score, "
                "points_earned, points_possible, passed, started_at, submitted_at, "
                "answers, question_scores, shuffle_seed) SELECT enrollment_id, quiz_id, 3, "
                "'submitted', 40, 2, 5, false, "
                + ", ".join(_plus(pg, c, "2") for c in ("started_at", "submitted_at"))
                + ", answers, question_scores, 1 FROM attempts WHERE number = 2 "
                "AND enrollment_id % 3 = 0",
            ],
        ),
        (
            # One assignment per course, due 20 days ago; half the learners submit, a
            # seventh of those late, two thirds of the submissions graded. On-time
            # submissions spread over 150 days as the enrollments do: all in one month made
            # 214,000 "active" submissions, a site unlike the rest of the fill.
            "SELECT count(*) FROM assignments",
            [
                "INSERT INTO assignments (course_id, title, due_date, max_points, late_policy, "
                "late_penalty_percent, created_at, updated_at) SELECT id, 'Essay ' || id, "
                f"{ago('20')}, 100, 'accept', 10, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
                "FROM courses ORDER BY id",
                "INSERT INTO submissions (assignment_id, student_id, submitted_at, content, "
                "days_late, grade, graded_at, created_at, updated_at) SELECT a.id, "
                "e.student_id, CASE WHEN e.id % 7 = 0 THEN "
                f"{_plus(pg, 'a.due_date', '1 + e.id % 5')} ELSE {ago('21 + e.id % 150')} END, "
                "'text', CASE WHEN e.id % 7 = 0 THEN 1 + e.id % 5 ELSE 0 END, "
                "CASE WHEN e.id % 3 <> 0 THEN 40 + e.id % 61 END, "
                f"CASE WHEN e.id % 3 <> 0 THEN {ago('10')} END, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP FROM enrollments e JOIN assignments a "
                "ON a.course_id = e.course_id WHERE e.id % 2 = 0",
            ],
        ),
        (
            # A certificate for every completed enrollment, one in five revoked.
            "SELECT count(*) FROM certificates",
            [
                "INSERT INTO certificates (enrollment_id, number, template, issued_at, "
                "learner_name, course_title, pdf_path, pdf_sha256, revoked_at, "
                "revoked_reason, revoked_by, version) SELECT e.id, 'BENCH-' || e.id, "
                "'default', e.completed_at, u.full_name, c.title, '', '', CASE WHEN "
                f"e.id % 10 = 0 THEN {_plus(pg, 'e.completed_at', '2')} END, CASE WHEN "
                "e.id % 10 = 0 THEN 'bench' END, CASE WHEN e.id % 10 = 0 THEN 'bench' END, 1 "
                "FROM enrollments e JOIN users u ON u.id = e.student_id "
                "JOIN courses c ON c.id = e.course_id WHERE e.status = 'completed'",
            ],
        ),
        (
            # 180 import runs, one a day, every status; 100 jobs, half of them dead.
            "SELECT count(*) FROM import_runs",
            [
                "INSERT INTO import_runs (started_at, finished_at, actor_label, entity, mode, "
                "file_name, file_sha256, status, counts, duration_ms) SELECT "
                f"{ago('id')}, {ago('id')}, 'bench', 'users', 'add', 'users-' || id || "
                "'.csv', '', CASE id % 4 WHEN 0 THEN 'applied' WHEN 1 THEN 'refused' "
                f"WHEN 2 THEN 'failed' ELSE 'undone' END, {empty}, 1000 FROM users "
                "WHERE id <= 180",
                'INSERT INTO jobs (kind, args, "key", status, attempts, max_attempts, run_at, '
                "created_at, finished_at, error) SELECT 'bench.mail', "
                f"{empty}, 'bench-' || id, CASE WHEN id % 2 = 0 THEN 'dead' ELSE "
                f"'succeeded' END, 5, 5, {ago('id % 60')}, {ago('id % 60')}, "
                f"{ago('id % 60')}, CASE WHEN id % 2 = 0 THEN 'bench: gave up' END "
                "FROM users WHERE id <= 100",
            ],
        ),
    ]


def top_up(engine: Engine, analyze: bool = True) -> bool:
    """Add each missing part of the site (see the module's docstring); True when any was."""
    pg = engine.dialect.name == "postgresql"
    added = False
    with Session(engine) as session, session.begin():
        for probe, statements in _steps(pg):
            if session.scalar(text(probe)):
                continue
            added = True
            for statement in statements:
                session.execute(text(statement))
    if added:
        _recompute(engine)
    if added and analyze:
        vacuum_analyze(engine)
    return added
