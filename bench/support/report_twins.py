"""Hand-written SQL twins of every figure of the four reports, for ``reports_bench.py``.

Each twin is one SQL string per figure (per dialect where the two spell an expression
differently), written directly against the tables as someone would without the report code,
and run raw through the DBAPI driver: the report's statement must stay within 2x of it.
Parameters: ``:course``, ``:teacher``, ``:learner`` (ids), ``:now``, ``:week_ago``,
``:month_ago``, ``:idle_since`` (timestamps) and, for a period that starts, ``:since``.
"""

# ruff: noqa: S608 - every statement is built from this file's constants
from __future__ import annotations


def _week(pg: bool, at: str) -> str:
    if pg:
        return f"to_char(date_trunc('week', {at} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
    return f"date(substr({at}, 1, 19), 'weekday 0', '-6 days')"


def _month(pg: bool, at: str) -> str:
    if pg:
        return f"to_char({at} AT TIME ZONE 'UTC', 'YYYY-MM')"
    return f"strftime('%Y-%m', substr({at}, 1, 19))"


def _days(pg: bool, later: str, earlier: str) -> str:
    if pg:
        return (
            f"EXTRACT(EPOCH FROM date_trunc('second', {later}) - date_trunc('second', "
            f"{earlier}))::float8 / 86400.0"
        )
    return (
        f"round((julianday(substr({later}, 1, 19)) - julianday(substr({earlier}, 1, 19))) "
        "* 86400.0) / 86400.0"
    )


def _json(pg: bool, doc: str, key: str, as_text: bool = False) -> str:
    if pg:
        value = f"({doc} ->> CAST({key} AS TEXT))"
        return value if as_text else f"CAST({value} AS DOUBLE PRECISION)"
    value = f"json_extract({doc}, '$.\"' || {key} || '\"')"
    return f"CAST({value} AS TEXT)" if as_text else f"CAST({value} AS REAL)"


def _finals(cohort: str, before: str = "") -> str:
    """(quiz_id, enrollment_id, fc: final score in hundredths, n) over ``cohort`` (ids)."""
    return (
        "SELECT r.quiz_id, r.enrollment_id, CASE q.grading_method "
        "WHEN 'latest' THEN max(CASE WHEN r.rl = 1 THEN r.c END) "
        "WHEN 'first' THEN max(CASE WHEN r.rf = 1 THEN r.c END) "
        "WHEN 'average' THEN (2 * CAST(sum(r.c) AS BIGINT) + count(*)) / (2 * count(*)) ELSE max(r.c) END AS fc, "
        "count(*) AS n FROM (SELECT quiz_id, enrollment_id, CAST(round(score * 100) AS BIGINT) "
        "AS c, row_number() OVER (PARTITION BY quiz_id, enrollment_id ORDER BY number DESC) "
        "AS rl, row_number() OVER (PARTITION BY quiz_id, enrollment_id ORDER BY number) AS rf "
        "FROM attempts WHERE status = 'graded' AND score IS NOT NULL "
        f"AND enrollment_id IN ({cohort}){before}) r "
        "JOIN quizzes q ON q.id = r.quiz_id GROUP BY r.quiz_id, r.enrollment_id, q.grading_method"
    )


def _grades(cohort: str) -> str:
    """(enrollment_id, course_id, grade) over ``cohort``: the course grade's rule."""
    assignment = (
        "SELECT e.id AS eid, (2 * CAST(round(s.grade * 100) AS BIGINT) * (10000 - CASE WHEN "
        "s.days_late * CAST(round(a.late_penalty_percent * 100) AS BIGINT) > 10000 THEN 10000 "
        "ELSE s.days_late * CAST(round(a.late_penalty_percent * 100) AS BIGINT) END) + 10000) "
        "/ 20000 * 1.0 / CAST(round(a.max_points * 100) AS BIGINT) * 100 AS pts "
        "FROM enrollments e JOIN assignments a ON a.course_id = e.course_id "
        "JOIN submissions s ON s.assignment_id = a.id AND s.student_id = e.student_id "
        f"AND s.grade IS NOT NULL WHERE e.id IN ({cohort})"
    )
    quiz = (
        f"SELECT f.enrollment_id, f.fc / 100.0 FROM ({_finals(cohort)}) f JOIN quizzes q "
        "ON q.id = f.quiz_id WHERE q.quiz_type = 'graded' AND q.is_published"
    )
    items = (
        "SELECT course_id, count(*) AS n FROM (SELECT l.course_id FROM lessons l JOIN quizzes q "
        "ON q.lesson_id = l.id WHERE q.quiz_type = 'graded' AND q.is_published UNION ALL "
        "SELECT course_id FROM assignments) x GROUP BY course_id"
    )
    return (
        "SELECT e.id AS enrollment_id, e.course_id, CASE WHEN i.n > 0 THEN "
        "coalesce(p.pts, 0.0) / i.n END AS grade FROM enrollments e "
        f"LEFT JOIN ({items}) i ON i.course_id = e.course_id LEFT JOIN (SELECT eid, sum(pts) "
        f"AS pts FROM ({assignment} UNION ALL {quiz}) u GROUP BY eid) p ON p.eid = e.id "
        f"WHERE e.id IN ({cohort})"
    )


def _activity(cohort: str, before: str) -> str:
    """(enrollment_id, at): the latest activity of each enrollment of ``cohort``."""
    return (
        "SELECT eid, max(at) AS at FROM (SELECT id AS eid, enrolled_at AS at FROM enrollments "
        f"WHERE id IN ({cohort}) AND enrolled_at < {before} UNION ALL SELECT enrollment_id, "
        f"completed_at FROM lesson_progress WHERE enrollment_id IN ({cohort}) AND completed_at "
        f"< {before} UNION ALL SELECT enrollment_id, started_at FROM attempts WHERE "
        f"enrollment_id IN ({cohort}) AND started_at < {before} UNION ALL SELECT enrollment_id, "
        f"submitted_at FROM attempts WHERE enrollment_id IN ({cohort}) AND submitted_at < "
        f"{before} UNION ALL SELECT e.id, s.submitted_at FROM enrollments e JOIN assignments a "
        "ON a.course_id = e.course_id JOIN submissions s ON s.assignment_id = a.id AND "
        f"s.student_id = e.student_id WHERE e.id IN ({cohort}) AND s.submitted_at < {before}) "
        "x GROUP BY eid"
    )


def _analysed(course: str) -> str:
    """The attempts item analysis reads: the one the grading method counts per learner."""
    return (
        "SELECT id, quiz_id, points_earned, question_scores, answers FROM (SELECT a.id, "
        "a.quiz_id, a.points_earned, a.question_scores, a.answers, q.grading_method AS gm, "
        "row_number() OVER (PARTITION BY a.quiz_id, a.enrollment_id ORDER BY a.number DESC) rl, "
        "row_number() OVER (PARTITION BY a.quiz_id, a.enrollment_id ORDER BY a.number) rf, "
        "row_number() OVER (PARTITION BY a.quiz_id, a.enrollment_id ORDER BY a.score DESC, "
        "a.number) rb FROM attempts a JOIN quizzes q ON q.id = a.quiz_id JOIN lessons l ON "
        "l.id = q.lesson_id JOIN enrollments e ON e.id = a.enrollment_id WHERE l.course_id = "
        f"{course} AND a.status = 'graded' AND a.score IS NOT NULL AND e.status <> 'dropped') r "
        "WHERE gm = 'average' OR (gm = 'latest' AND rl = 1) OR (gm = 'first' AND rf = 1) "
        "OR (gm = 'highest' AND rb = 1)"
    )


def course(pg: bool) -> dict[str, str]:
    cohort = "SELECT id FROM enrollments WHERE course_id = :course"
    staying = cohort + " AND status <> 'dropped'"
    median = (
        "SELECT avg(d) FROM (SELECT d, row_number() OVER (ORDER BY d) AS k, count(*) OVER () "
        f"AS n FROM (SELECT {_days(pg, 'completed_at', 'enrolled_at')} AS d FROM enrollments "
        "WHERE course_id = :course AND status = 'completed' AND completed_at IS NOT NULL) x) r "
        "WHERE k = (n + 1) / 2 OR k = (n + 2) / 2"
    )
    x = _json(pg, "t.question_scores", "qu.id")
    pairs = (
        f"SELECT qu.id AS qid, {x} AS x, coalesce(CAST(t.points_earned AS float), 0.0) - {x} "
        f"AS y FROM ({_analysed(':course')}) t JOIN questions qu ON qu.quiz_id = t.quiz_id "
        f"WHERE {x} IS NOT NULL"
    )
    vx = "(s.sxx - s.sx * s.sx / s.n) / nullif(s.n - 1, 0)"
    vy = "(s.syy - s.sy * s.sy / s.n) / nullif(s.n - 1, 0)"
    answer = _json(pg, "t.answers", "qu.id", as_text=True)
    option = (
        "((qu.options -> CAST(c.answer AS INTEGER)) ->> 'text')"
        if pg
        else "json_extract(qu.options, '$[' || CAST(c.answer AS INTEGER) || '].text')"
    )
    digits = "c.answer ~ '^[0-9]{1,9}$'" if pg else "c.answer NOT GLOB '*[^0-9]*'"
    return {
        "summary": (
            "SELECT count(*), sum(CASE WHEN status = 'active' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN status = 'dropped' THEN 1 ELSE 0 END), "
            "100.0 * sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) / nullif(sum(CASE "
            "WHEN status IN ('active', 'completed') THEN 1 ELSE 0 END), 0), "
            f"({median}), (SELECT avg(grade) FROM ({_grades(staying)}) g), "
            "avg(CAST(rating AS float)), count(rating) FROM enrollments WHERE course_id = :course"
        ),
        "enrollments_per_week": (
            f"SELECT w, sum(a), sum(b) FROM (SELECT {_week(pg, 'enrolled_at')} AS w, 1 AS a, "
            f"0 AS b FROM enrollments WHERE course_id = :course UNION ALL SELECT "
            f"{_week(pg, 'completed_at')}, 0, 1 FROM enrollments WHERE course_id = :course "
            "AND completed_at IS NOT NULL) t GROUP BY w ORDER BY w"
        ),
        "funnel": (
            "SELECT l.order_index, l.slug, l.title, l.is_required, count(p.id), "
            "100.0 * count(p.id) / (SELECT count(*) FROM enrollments WHERE course_id = :course) "
            "FROM lessons l LEFT JOIN lesson_progress p ON p.lesson_id = l.id "
            "WHERE l.course_id = :course GROUP BY l.id, l.order_index, l.slug, l.title, "
            "l.is_required ORDER BY l.order_index"
        ),
        "scores": (
            "SELECT q.title, b.n * 10, b.n * 10 + 10, coalesce(c.k, 0) FROM quizzes q JOIN "
            "lessons l ON l.id = q.lesson_id CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION "
            "ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL "
            "SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b LEFT JOIN "
            "(SELECT quiz_id, CASE WHEN fc >= 9000 THEN 9 ELSE fc / 1000 END AS band, count(*) "
            f"AS k FROM ({_finals(cohort)}) f GROUP BY quiz_id, CASE WHEN fc >= 9000 THEN 9 "
            "ELSE fc / 1000 END) c ON c.quiz_id = q.id AND c.band = b.n WHERE l.course_id = "
            ":course ORDER BY l.order_index, q.id, b.n"
        ),
        "questions": (
            "SELECT z.title, qu.order_index, coalesce(qu.title, qu.question_text), "
            "qu.question_type, CAST(qu.points AS float), coalesce(s.n, 0), "
            "100.0 * s.sx / s.n / nullif(CAST(qu.points AS float), 0), "
            f"CASE WHEN {vx} > 1e-9 THEN 100.0 * sqrt({vx}) / nullif(CAST(qu.points AS float), "
            "0) WHEN s.n > 1 THEN 0.0 END, "
            f"CASE WHEN {vx} > 1e-9 AND {vy} > 1e-9 THEN 100.0 * (s.sxy - s.sx * s.sy / s.n) "
            f"/ nullif(s.n - 1, 0) / sqrt({vx} * {vy}) END "
            "FROM quizzes z JOIN lessons l ON l.id = z.lesson_id JOIN questions qu ON "
            "qu.quiz_id = z.id LEFT JOIN (SELECT qid, CAST(count(*) AS float) AS n, sum(x) AS sx, "
            "sum(x * x) AS sxx, sum(y) AS sy, sum(y * y) AS syy, sum(x * y) AS sxy FROM "
            f"({pairs}) p GROUP BY qid) s ON s.qid = qu.id WHERE l.course_id = :course "
            "ORDER BY l.order_index, z.id, qu.order_index, qu.id"
        ),
        "responses": (
            "SELECT z.title, qu.order_index, coalesce(qu.title, qu.question_text), CASE WHEN "
            f"qu.question_type = 'multiple_choice' THEN coalesce(CASE WHEN {digits} THEN "
            f"{option} END, c.answer) ELSE c.answer END AS r, c.k, 100.0 * c.k / tot.n FROM "
            f"(SELECT qu.id AS qid, {answer} AS answer, count(*) AS k FROM "
            f"({_analysed(':course')}) t JOIN questions qu ON qu.quiz_id = t.quiz_id WHERE "
            "qu.question_type IN ('multiple_choice', 'true_false', 'short_answer', 'numerical') "
            f"AND {answer} IS NOT NULL GROUP BY qu.id, {answer}) c JOIN questions qu ON "
            "qu.id = c.qid JOIN quizzes z ON z.id = qu.quiz_id JOIN lessons l ON l.id = "
            f"z.lesson_id JOIN (SELECT quiz_id, count(*) AS n FROM ({_analysed(':course')}) t "
            "GROUP BY quiz_id) tot ON tot.quiz_id = z.id "
            "ORDER BY l.order_index, z.id, qu.order_index, qu.id, c.k DESC, r"
        ),
        "ratings": (
            "SELECT s.n, coalesce(c.k, 0) FROM (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL "
            "SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) s LEFT JOIN (SELECT rating, count(*) "
            "AS k FROM enrollments WHERE course_id = :course AND rating IS NOT NULL GROUP BY "
            "rating) c ON c.rating = s.n ORDER BY s.n"
        ),
        "at_risk": (
            "SELECT u.email, u.full_name, e.enrolled_at, CAST(e.progress_percentage AS float), "
            f"act.at, {_days(pg, ':now', 'act.at')}, coalesce(f.k, 0), CASE WHEN act.at < "
            ":idle_since AND coalesce(f.k, 0) > 0 THEN 'inactive, failing' WHEN act.at < "
            ":idle_since THEN 'inactive' ELSE 'failing' END FROM enrollments e JOIN users u ON "
            f"u.id = e.student_id JOIN ({_activity(cohort, ':now')}) act ON act.eid = e.id "
            "LEFT JOIN (SELECT f.enrollment_id, count(*) AS k FROM "
            f"({_finals(cohort, ' AND submitted_at < :now')}) f JOIN quizzes q ON q.id = "
            "f.quiz_id WHERE q.quiz_type = 'graded' AND q.is_published AND f.fc < "
            "round(q.passing_score * 100) GROUP BY f.enrollment_id) f ON f.enrollment_id = e.id "
            "WHERE e.course_id = :course AND e.status = 'active' AND (act.at < :idle_since OR "
            "coalesce(f.k, 0) > 0) ORDER BY act.at, e.id"
        ),
    }


def student(pg: bool) -> dict[str, str]:
    del pg  # nothing the two spell differently
    cohort = "SELECT id FROM enrollments WHERE student_id = :learner"
    return {
        "courses": (
            "SELECT c.slug, c.title, e.status, e.enrolled_at, e.completed_at, "
            "CAST(e.progress_percentage AS float), coalesce(d.k, 0), g.grade, ce.number, act.at "
            "FROM enrollments e JOIN courses c ON c.id = e.course_id "
            f"LEFT JOIN ({_grades(cohort)}) g ON g.enrollment_id = e.id "
            "LEFT JOIN (SELECT p.enrollment_id, count(*) AS k FROM lesson_progress p JOIN lessons "
            f"l ON l.id = p.lesson_id WHERE p.enrollment_id IN ({cohort}) GROUP BY "
            "p.enrollment_id) d ON d.enrollment_id = e.id LEFT JOIN (SELECT enrollment_id, "
            "max(number) AS number FROM certificates WHERE revoked_at IS NULL AND superseded_at "
            f"IS NULL AND enrollment_id IN ({cohort}) GROUP BY enrollment_id) ce ON "
            f"ce.enrollment_id = e.id LEFT JOIN ({_activity(cohort, ':now')}) act ON "
            "act.eid = e.id WHERE e.student_id = :learner ORDER BY c.slug, e.id"
        ),
        "quizzes": (
            "SELECT c.slug, q.title, q.quiz_type, f.fc / 100.0, CAST(q.passing_score AS float), "
            f"f.fc >= round(q.passing_score * 100), f.n FROM ({_finals(cohort)}) f JOIN quizzes "
            "q ON q.id = f.quiz_id JOIN lessons l ON l.id = q.lesson_id JOIN courses c ON c.id "
            "= l.course_id ORDER BY c.slug, l.order_index, q.id"
        ),
        "assignments": (
            "SELECT c.slug, a.title, CAST(a.max_points AS float), s.submitted_at, s.days_late, "
            "(2 * CAST(round(s.grade * 100) AS BIGINT) * (10000 - CASE WHEN s.days_late * "
            "CAST(round(a.late_penalty_percent * 100) AS BIGINT) > 10000 THEN 10000 ELSE "
            "s.days_late * CAST(round(a.late_penalty_percent * 100) AS BIGINT) END) + 10000) / "
            "20000 / 100.0, s.graded_at FROM assignments a JOIN courses c ON c.id = a.course_id "
            "JOIN enrollments e ON e.course_id = c.id JOIN submissions s ON s.assignment_id = "
            "a.id AND s.student_id = e.student_id WHERE e.student_id = :learner "
            "ORDER BY c.slug, a.due_date, a.id"
        ),
    }


def instructor(pg: bool) -> dict[str, str]:
    del pg
    cohort = (
        "SELECT id FROM enrollments WHERE course_id IN (SELECT id FROM courses WHERE "
        "instructor_id = :teacher)"
    )
    staying = cohort + " AND status <> 'dropped'"
    return {
        "courses": (
            "SELECT c.slug, c.title, c.is_published, coalesce(k.n, 0), coalesce(k.a, 0), "
            "coalesce(k.d, 0), coalesce(k.x, 0), 100.0 * coalesce(k.d, 0) / nullif(k.n, 0), "
            "g.grade, k.rating, coalesce(k.ratings, 0), coalesce(s.n, 0), coalesce(z.n, 0) "
            "FROM courses c LEFT JOIN (SELECT course_id, sum(CASE WHEN status <> 'dropped' THEN "
            "1 ELSE 0 END) AS n, sum(CASE WHEN status = 'active' THEN 1 ELSE 0 END) AS a, "
            "sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS d, sum(CASE WHEN status = "
            "'dropped' THEN 1 ELSE 0 END) AS x, avg(CAST(rating AS float)) AS rating, "
            f"count(rating) AS ratings FROM enrollments WHERE id IN ({cohort}) GROUP BY "
            f"course_id) k ON k.course_id = c.id LEFT JOIN (SELECT course_id, avg(grade) AS grade "
            f"FROM ({_grades(staying)}) g GROUP BY course_id) g ON "
            "g.course_id = c.id LEFT JOIN (SELECT a.course_id, count(*) AS n FROM assignments a "
            "JOIN submissions s ON s.assignment_id = a.id WHERE s.grade IS NULL GROUP BY "
            "a.course_id) s ON s.course_id = c.id LEFT JOIN (SELECT l.course_id, count(*) AS n "
            "FROM lessons l JOIN quizzes q ON q.lesson_id = l.id JOIN attempts t ON t.quiz_id = "
            "q.id WHERE t.status = 'submitted' GROUP BY l.course_id) z ON z.course_id = c.id "
            "WHERE c.instructor_id = :teacher ORDER BY c.slug"
        ),
    }


def system(pg: bool, since: bool) -> dict[str, str]:
    """``since``: the period starts at ``:since`` (else it is open)."""

    def after(column: str) -> str:
        return f" AND {column} >= :since" if since else ""

    return {
        "totals": (
            "SELECT (SELECT count(*) FROM users WHERE deleted_at IS NULL), "
            "(SELECT count(*) FROM courses), (SELECT count(*) FROM courses WHERE is_published), "
            "(SELECT count(*) FROM enrollments), (SELECT count(*) FROM certificates "
            "WHERE revoked_at IS NULL AND superseded_at IS NULL)"
        ),
        "users": (
            "SELECT role, CASE WHEN deleted_at IS NOT NULL THEN 'deleted' WHEN is_active THEN "
            "'active' ELSE 'inactive' END AS state, count(*) FROM users GROUP BY role, state "
            "ORDER BY role, state"
        ),
        # The report as of the present reads each learner's kept latest activity (both
        # bench reports have no ``until``); the same statement on both dialects.
        "active_learners": (
            "SELECT coalesce(sum(CASE WHEN last_activity_at >= :week_ago THEN 1 ELSE 0 END), "
            "0), count(*) FROM users WHERE role = 'student' AND last_activity_at >= :month_ago "
            "AND last_activity_at < :now"
        ),
        "enrollments_per_week": (
            f"SELECT w, sum(a), sum(b) FROM (SELECT {_week(pg, 'enrolled_at')} AS w, 1 AS a, "
            f"0 AS b FROM enrollments WHERE true{after('enrolled_at')} UNION ALL SELECT "
            f"{_week(pg, 'completed_at')}, 0, 1 FROM enrollments WHERE completed_at IS NOT NULL"
            f"{after('completed_at')}) t GROUP BY w ORDER BY w"
        ),
        "certificates_per_month": (
            f"SELECT {_month(pg, 'issued_at')} AS m, count(*), sum(CASE WHEN revoked_at IS NOT "
            f"NULL THEN 1 ELSE 0 END) FROM certificates WHERE true{after('issued_at')} "
            "GROUP BY m ORDER BY m"
        ),
        "imports": (
            "SELECT entity, count(*), sum(CASE WHEN status = 'applied' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN status = 'refused' THEN 1 ELSE 0 END), sum(CASE WHEN status = "
            "'failed' THEN 1 ELSE 0 END), sum(CASE WHEN status = 'undone' THEN 1 ELSE 0 END), "
            f"max(started_at) FROM import_runs WHERE true{after('started_at')} GROUP BY entity "
            "ORDER BY entity"
        ),
        "dead_jobs": (
            "SELECT id, kind, attempts, finished_at, substr(error, 1, 200) FROM jobs "
            "WHERE status = 'dead' ORDER BY id"
        ),
    }


def twins(pg: bool) -> dict[tuple[str, str], str]:
    """Every figure's twin, keyed like the bench's (report, section)."""
    found: dict[tuple[str, str], str] = {}
    for kind, sqls in (
        ("course", course(pg)),
        ("student", student(pg)),
        ("instructor", instructor(pg)),
        ("system", system(pg, since=False)),
        ("system_12_weeks", system(pg, since=True)),
    ):
        found.update({(kind, name): sql for name, sql in sqls.items()})
    return found
