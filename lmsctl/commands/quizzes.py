"""lmsctl quizzes: quizzes, their question banks, learners' attempts, regrading."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lmsctl.options import DryRunOpt, JsonOpt, group
from lmsctl.output import emit_record, emit_rows, fail, print_json, reporting, say
from lmsctl.runtime import runtime

app = group("Quizzes: settings, question banks (GIFT, Aiken, CSV, XLSX), attempts, regrading.")

QuizArg = Annotated[
    str,
    typer.Argument(
        help="COURSE_SLUG/LESSON_SLUG, or the quiz id `list` shows.", show_default=False
    ),
]
AttemptArg = Annotated[int, typer.Argument(help="The attempt's id.", show_default=False)]
LIST_COLUMNS = ("id", "course", "lesson", "title", "quiz_type", "questions", "published")
QUESTION_COLUMNS = ("number", "question_type", "points", "title", "question_text")
ATTEMPT_COLUMNS = (
    "id",
    "email",
    "number",
    "status",
    "score",
    "passed",
    "started_at",
    "submitted_at",
)
FormatOpt = Annotated[str | None, typer.Option("--format", help="gift, aiken, csv or xlsx.")]

Description = Annotated[str | None, typer.Option("--description", help="Shown before starting.")]
QuizType = Annotated[str | None, typer.Option("--type", help="practice or graded (default).")]
Passing = Annotated[
    float | None, typer.Option("--passing-score", min=0, max=100, help="% to pass (default 70).")
]
TimeLimit = Annotated[
    int | None, typer.Option("--time-limit", min=0, help="Minutes per attempt; 0: no limit.")
]
MaxAttempts = Annotated[
    int | None, typer.Option("--max-attempts", min=0, help="Attempts per learner; 0: unlimited.")
]
ShuffleQ = Annotated[
    bool | None, typer.Option("--shuffle-questions/--keep-question-order", help="Per attempt.")
]
ShuffleO = Annotated[
    bool | None, typer.Option("--shuffle-options/--keep-option-order", help="Per attempt.")
]
ShowCorrect = Annotated[
    bool | None,
    typer.Option("--show-correct-answers/--hide-correct-answers", help="After submitting."),
]
Method = Annotated[
    str | None,
    typer.Option("--grading-method", help="highest (default), latest, first or average."),
]


def _settings(**values: Any) -> dict[str, Any]:
    names = {
        "description": "description",
        "quiz_type": "quiz_type",
        "passing_score": "passing_score",
        "time_limit": "time_limit_minutes",
        "max_attempts": "max_attempts",
        "shuffle_questions": "shuffle_questions",
        "shuffle_options": "shuffle_options",
        "show_correct": "show_correct_answers",
        "grading_method": "grading_method",
    }
    out = {names[k]: v for k, v in values.items() if v is not None}
    if "passing_score" in out:
        out["passing_score"] = str(out["passing_score"])
    return out


@app.command("create")
def create(
    ctx: typer.Context,
    course: Annotated[str, typer.Argument(help="The course's slug.", show_default=False)],
    lesson: Annotated[str, typer.Argument(help="A lesson of type quiz in it.", show_default=False)],
    title: Annotated[str, typer.Option("--title", help="Title.", show_default=False)],
    description: Description = None,
    quiz_type: QuizType = None,
    passing_score: Passing = None,
    time_limit: TimeLimit = None,
    max_attempts: MaxAttempts = None,
    shuffle_questions: ShuffleQ = None,
    shuffle_options: ShuffleO = None,
    show_correct: ShowCorrect = None,
    grading_method: Method = None,
    json_out: JsonOpt = False,
) -> None:
    """Create the quiz of a lesson of type quiz (unpublished; import questions, then publish).

    Example: lmsctl quizzes create intro-to-python checkpoint --title "Checkpoint" --time-limit 20 --max-attempts 3
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.quizzes import create_quiz, quiz_row

        with rt.unit_of_work() as (session, actor):
            row = quiz_row(
                create_quiz(
                    session,
                    actor=actor,
                    course_slug=course,
                    lesson_slug=lesson,
                    title=title,
                    **_settings(
                        description=description,
                        quiz_type=quiz_type,
                        passing_score=passing_score,
                        time_limit=time_limit,
                        max_attempts=max_attempts,
                        shuffle_questions=shuffle_questions,
                        shuffle_options=shuffle_options,
                        show_correct=show_correct,
                        grading_method=grading_method,
                    ),
                )
            )
    say(f"created quiz {row['id']} ({course}/{lesson})", as_json=json_out)
    if json_out:
        emit_record(row, as_json=True)


@app.command("update")
def update(
    ctx: typer.Context,
    quiz: QuizArg,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
    description: Description = None,
    quiz_type: QuizType = None,
    passing_score: Passing = None,
    time_limit: TimeLimit = None,
    max_attempts: MaxAttempts = None,
    shuffle_questions: ShuffleQ = None,
    shuffle_options: ShuffleO = None,
    show_correct: ShowCorrect = None,
    grading_method: Method = None,
    json_out: JsonOpt = False,
) -> None:
    """Change the given settings of a quiz (graded attempts change only with `regrade`).

    Example: lmsctl quizzes update intro-to-python/checkpoint --passing-score 60 --time-limit 0
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.quizzes import question_count, quiz_row, update_quiz

        fields = _settings(
            description=description,
            quiz_type=quiz_type,
            passing_score=passing_score,
            time_limit=time_limit,
            max_attempts=max_attempts,
            shuffle_questions=shuffle_questions,
            shuffle_options=shuffle_options,
            show_correct=show_correct,
            grading_method=grading_method,
        )
        if title is not None:
            fields["title"] = title
        with rt.unit_of_work() as (session, actor):
            q = update_quiz(session, actor=actor, quiz_ref=quiz, **fields)
            row = quiz_row(q, questions=question_count(session, q.id))
    say(f"updated quiz {row['id']}", as_json=json_out)
    if json_out:
        emit_record(row, as_json=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    course: Annotated[str | None, typer.Option("--course", help="Only this course.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List quizzes (course and lesson as slugs) with their question counts.

    Example: lmsctl quizzes list --course intro-to-python --json
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.quizzes import list_quizzes

        with rt.unit_of_work(write=False) as (session, actor):
            rows = list_quizzes(session, actor=actor, course_slug=course)
    emit_rows(rows, LIST_COLUMNS, as_json=json_out)


@app.command("show")
def show(ctx: typer.Context, quiz: QuizArg, json_out: JsonOpt = False) -> None:
    """Show a quiz's settings, points and counts.

    Example: lmsctl quizzes show intro-to-python/checkpoint
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.quizzes import show_quiz

        with rt.unit_of_work(write=False) as (session, actor):
            row = show_quiz(session, actor=actor, quiz_ref=quiz)
    emit_record(row, as_json=json_out, title=f"quiz {row['id']}")


@app.command("publish")
def publish(ctx: typer.Context, quiz: QuizArg, json_out: JsonOpt = False) -> None:
    """Open a quiz to learners (refused while it has no questions).

    Example: lmsctl quizzes publish intro-to-python/checkpoint
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.quizzes import publish_quiz, question_count, quiz_row

        with rt.unit_of_work() as (session, actor):
            q = publish_quiz(session, actor=actor, quiz_ref=quiz)
            row = quiz_row(q, questions=question_count(session, q.id))
    say(f"published quiz {row['id']}", as_json=json_out)
    if json_out:
        emit_record(row, as_json=True)


@app.command("questions")
def questions(ctx: typer.Context, quiz: QuizArg, json_out: JsonOpt = False) -> None:
    """List a quiz's questions in order (with --json: options and keys too).

    Example: lmsctl quizzes questions intro-to-python/checkpoint --json
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.questions import list_questions, question_row

        with rt.unit_of_work(write=False) as (session, actor):
            rows = [question_row(q) for q in list_questions(session, actor=actor, quiz_ref=quiz)]
    emit_rows(rows, QUESTION_COLUMNS, as_json=json_out)


@app.command("remove-question")
def remove_question(
    ctx: typer.Context,
    quiz: QuizArg,
    number: Annotated[int, typer.Argument(help="The question's number (1..n).", min=1)],
    json_out: JsonOpt = False,
) -> None:
    """Remove question N; the questions after it move up.

    Example: lmsctl quizzes remove-question intro-to-python/checkpoint 3
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.questions import remove_question as remove

        with rt.unit_of_work() as (session, actor):
            gone = remove(session, actor=actor, quiz_ref=quiz, number=number)
            row = {"quiz": quiz, "number": number, "id": gone.id, "removed": True}
    say(f"removed question {number} of quiz {quiz}", as_json=json_out)
    if json_out:
        print_json(row)


@app.command("import")
def import_(
    ctx: typer.Context,
    quiz: QuizArg,
    file: Annotated[str, typer.Argument(help="The bank file, or - for standard input.")],
    fmt: FormatOpt = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace the quiz's questions position by position (ids kept: regrade after).",
        ),
    ] = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Import questions (GIFT, Aiken, CSV or XLSX); a malformed file is refused whole.

    Appends unless --replace. The format comes from --format, else the extension, else the
    content. Every problem is reported with its line and column; nothing is written then.

    Example: lmsctl quizzes import intro-to-python/checkpoint bank.gift --dry-run
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.questions import import_questions, parse_bank

        stdin = file == "-"
        data = typer.get_binary_stream("stdin").read() if stdin else Path(file).read_bytes()
        parsed = parse_bank(data, file=file, fmt=fmt)
        with rt.unit_of_work(write=not dry_run) as (session, actor):
            result = import_questions(
                session,
                actor=actor,
                quiz_ref=quiz,
                questions=parsed,
                replace=replace,
                dry_run=dry_run,
                source=file,
            )
            quiz_id = result.quiz.id
    summary = {
        "quiz": quiz_id,
        "file": file,
        "dry_run": dry_run,
        "added": result.added,
        "updated": result.updated,
        "removed": result.removed,
        "total": result.total,
        "questions": [
            {"question_type": q.question_type, "title": q.title, "question_text": q.question_text}
            for q in parsed
        ],
    }
    if json_out:
        print_json(summary)
        return
    verb = "would import" if dry_run else "imported"
    emit_rows(
        [{"n": i, **q} for i, q in enumerate(summary["questions"], start=1)],
        ("n", "question_type", "title", "question_text"),
        as_json=False,
        title=file,
    )
    say(
        f"{verb} {len(parsed)} question(s) into quiz {quiz_id}: {result.added} added, "
        f"{result.updated} replaced, {result.removed} removed; {result.total} in the quiz"
    )


@app.command("export")
def export(
    ctx: typer.Context,
    quiz: QuizArg,
    fmt: Annotated[str, typer.Option("--format", help="gift, aiken, csv or xlsx.")] = "gift",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to FILE (default: stdout).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export a quiz's questions; GIFT export imported again gives the same questions.

    Example: lmsctl quizzes export intro-to-python/checkpoint --format gift -o checkpoint.gift
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.errors import ValidationError
        from lms_core.services.questions import export_questions

        fmt = fmt.strip().lower()
        if output is None and (json_out or fmt == "xlsx"):
            raise ValidationError(
                "give -o FILE (stdout carries the JSON)" if json_out else "xlsx needs -o FILE",
                field="output",
            )
        with rt.unit_of_work(write=False) as (session, actor):
            if output is None:
                n = export_questions(session, actor=actor, quiz_ref=quiz, fmt=fmt, out=sys.stdout)
            else:
                part = output.with_name(output.name + ".part")
                try:
                    n = export_questions(session, actor=actor, quiz_ref=quiz, fmt=fmt, out=part)
                    part.replace(output)
                finally:
                    part.unlink(missing_ok=True)
    if output is not None:
        say(f"exported {n} question(s) to {output}", as_json=json_out)
    if json_out:
        print_json({"quiz": quiz, "format": fmt, "questions": n, "file": str(output)})


@app.command("attempts")
def attempts(ctx: typer.Context, quiz: QuizArg, json_out: JsonOpt = False) -> None:
    """List every attempt at a quiz: learner, number, status, score, pass, times.

    Example: lmsctl quizzes attempts intro-to-python/checkpoint --json
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.attempts import list_attempts

        with rt.unit_of_work(write=False) as (session, actor):
            rows = list_attempts(session, actor=actor, quiz_ref=quiz)
    emit_rows(rows, ATTEMPT_COLUMNS, as_json=json_out)


@app.command("regrade")
def regrade(
    ctx: typer.Context, quiz: QuizArg, dry_run: DryRunOpt = False, json_out: JsonOpt = False
) -> None:
    """Grade every handed-in attempt again with the current key; per learner, old and new.

    Applies all in one transaction (one audit entry); hand-graded essays keep their points.
    Learners who now fail and hold a certificate are listed as a warning (never revoked).

    Example: lmsctl quizzes regrade intro-to-python/checkpoint --dry-run
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.regrade import regrade as regrade_service

        with rt.unit_of_work(write=not dry_run) as (session, actor):
            result = regrade_service(session, actor=actor, quiz_ref=quiz, dry_run=dry_run)
            quiz_id = result.quiz.id
    rows = [
        {
            "email": c.email,
            "old_score": c.old_score,
            "new_score": c.new_score,
            "old_passed": c.old_passed,
            "new_passed": c.new_passed,
        }
        for c in result.learners
    ]
    if json_out:
        print_json(
            {
                "quiz": quiz_id,
                "dry_run": dry_run,
                "attempts": result.attempts,
                "changed_attempts": result.changed_attempts,
                "learners": rows,
                "certificate_warnings": result.certificate_warnings,
                "lessons_completed": result.lessons_completed,
            }
        )
    else:
        if rows:
            emit_rows(
                rows,
                ("email", "old_score", "new_score", "old_passed", "new_passed"),
                as_json=False,
            )
        verb = "would change" if dry_run else "changed"
        say(
            f"quiz {quiz_id}: regraded {result.attempts} attempt(s); {verb} "
            f"{result.changed_attempts} attempt(s) and {len(rows)} learner's final score(s)"
        )
    if result.certificate_warnings:
        typer.echo(
            f"warning: {len(result.certificate_warnings)} learner(s) now fail but hold a valid "
            f"certificate (not revoked): {', '.join(result.certificate_warnings)}",
            err=True,
        )


@app.command("close-overdue")
def close_overdue(
    ctx: typer.Context, dry_run: DryRunOpt = False, json_out: JsonOpt = False
) -> None:
    """Close attempts past their time limit, graded on the answers saved in time (for cron).

    Example: lmsctl quizzes close-overdue --dry-run
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.attempts import close_overdue as close

        with rt.unit_of_work(write=not dry_run) as (session, actor):
            rows = close(session, actor=actor, dry_run=dry_run)
    if json_out:
        print_json(rows)
        return
    if rows:
        emit_rows(rows, ("id", "quiz_id", *ATTEMPT_COLUMNS[1:]), as_json=False)
    say(f"{'would close' if dry_run else 'closed'} {len(rows)} overdue attempt(s)")


@app.command("start")
def start(
    ctx: typer.Context,
    quiz: QuizArg,
    email: Annotated[str, typer.Argument(help="The learner's e-mail.", show_default=False)],
    json_out: JsonOpt = False,
) -> None:
    """Start (or resume) a learner's attempt; shows the questions in the attempt's order.

    For staff acting for a learner, tests and demos; learners use --as themselves.

    Example: lmsctl quizzes start intro-to-python/checkpoint student@demo.example.org
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.attempts import attempt_row, learner_questions, start_attempt

        with rt.unit_of_work() as (session, actor):
            v = start_attempt(session, actor=actor, quiz_ref=quiz, email=email)
            data = {
                "attempt": attempt_row(v.attempt, email),
                "resumed": v.resumed,
                "questions": learner_questions(v),
            }
    if json_out:
        print_json(data)
        return
    a = data["attempt"]
    say(
        f"{'resumed' if v.resumed else 'started'} attempt {a['id']} (number {a['number']})"
        + (f", deadline {a['deadline_at'][:16]}" if a["deadline_at"] else "")
    )
    emit_rows(
        data["questions"], ("shown", "number", "question_type", "question_text"), as_json=False
    )


def _parse_answers(
    number: int | None, value: str | None, answers_file: Path | None
) -> tuple[dict[int, str] | None, dict[int, Any] | None]:
    """(typed text by question number, JSON values by question number)."""
    import json

    from lms_core.errors import FileProblem, FileRefused, ValidationError

    if answers_file is not None:
        if number is not None or value is not None:
            raise ValidationError("give QUESTION_N VALUE or --answers, not both", field="answers")
        name = str(answers_file)
        try:
            loaded = json.loads(answers_file.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise FileRefused([FileProblem(f"is not UTF-8 ({exc.reason})", file=name)]) from None
        except json.JSONDecodeError as exc:
            raise FileRefused(
                [FileProblem(exc.msg, file=name, line=exc.lineno, column=str(exc.colno))]
            ) from None
        if not isinstance(loaded, dict) or not all(str(k).isdigit() for k in loaded):
            raise FileRefused(
                [FileProblem('must be an object {"QUESTION_N": answer, ...}', file=name, line=1)]
            )
        return None, {int(k): v for k, v in loaded.items()}
    if number is None or value is None:
        raise ValidationError("give QUESTION_N VALUE, or --answers FILE.json", field="answers")
    return {number: value}, None


@app.command("answer")
def answer(
    ctx: typer.Context,
    attempt: AttemptArg,
    number: Annotated[
        int | None, typer.Argument(help="Question number (1..n, the quiz's order).", min=1)
    ] = None,
    value: Annotated[
        str | None,
        typer.Argument(help='The answer: option index, [0, 2], true, text, {"0": "..."}.'),
    ] = None,
    answers_file: Annotated[
        Path | None,
        typer.Option(
            "--answers", help='A JSON file {"1": 0, "2": [0, 2], ...}.', exists=True, dir_okay=False
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Save answers to an attempt in progress; after its deadline nothing is stored.

    Options are named by their stored index (0-based), whatever order the attempt shows.
    A late answer closes the attempt with the answers saved in time, and exits 1.

    Example: lmsctl quizzes answer 12 3 '[0, 2]'
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.attempt_scoring import answer_from_text
        from lms_core.services.attempts import attempt_row, get_attempt, save_answers
        from lms_core.services.questions import ordered_questions

        typed, values = _parse_answers(number, value, answers_file)
        with rt.unit_of_work() as (session, actor):
            if typed is not None:
                _, q, _ = get_attempt(session, attempt)
                by_number = {x.order_index: x for x in ordered_questions(session, q.id)}
                values = {
                    n: answer_from_text(by_number[n], text) if n in by_number else text
                    for n, text in typed.items()
                }
            result = save_answers(session, actor=actor, attempt_id=attempt, answers=values or {})
            _, _, student = get_attempt(session, attempt)
            row = attempt_row(result.attempt, student.email)
    if result.late:
        fail(
            [
                {
                    "field": "deadline",
                    "value": row["deadline_at"],
                    "message": f"attempt {attempt}'s deadline has passed: answers not counted; "
                    f"the attempt was closed with the answers saved in time (score {row['score']})",
                }
            ],
            as_json=json_out,
        )
    say(f"saved {len(result.saved)} answer(s) to attempt {attempt}", as_json=json_out)
    if json_out:
        print_json({"attempt": row, "saved": result.saved})


@app.command("submit")
def submit(ctx: typer.Context, attempt: AttemptArg, json_out: JsonOpt = False) -> None:
    """Hand in an attempt: graded at once, or submitted while an essay waits for grading.

    Example: lmsctl quizzes submit 12
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.attempts import attempt_row, get_attempt, submit_attempt

        with rt.unit_of_work() as (session, actor):
            a = submit_attempt(session, actor=actor, attempt_id=attempt)
            _, _, student = get_attempt(session, attempt)
            row = attempt_row(a, student.email)
    if json_out:
        print_json(row)
    elif row["status"] == "graded":
        say(f"attempt {attempt}: graded, score {row['score']}, {_passed(row['passed'])}")
    else:
        say(f"attempt {attempt}: submitted; essay(s) wait for grading (quizzes grade-essay)")


def _passed(passed: bool | None) -> str:
    return "passed" if passed else "not passed"


@app.command("grade-essay")
def grade_essay(
    ctx: typer.Context,
    attempt: AttemptArg,
    question: Annotated[
        int, typer.Option("--question", min=1, help="The essay's question number.")
    ],
    points: Annotated[str, typer.Option("--points", help="Points, 0..the question's points.")],
    json_out: JsonOpt = False,
) -> None:
    """Grade an essay answer by hand; the attempt is graded once every essay has points.

    Example: lmsctl quizzes grade-essay 12 --question 7 --points 4.5
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.services.attempts import attempt_row, get_attempt
        from lms_core.services.attempts import grade_essay as grade

        with rt.unit_of_work() as (session, actor):
            a = grade(
                session, actor=actor, attempt_id=attempt, question_number=question, points=points
            )
            _, _, student = get_attempt(session, attempt)
            row = attempt_row(a, student.email)
    if json_out:
        print_json(row)
    elif row["status"] == "graded":
        say(f"attempt {attempt}: graded, score {row['score']}, {_passed(row['passed'])}")
    else:
        say(f"attempt {attempt}: question {question} graded; other essay(s) still wait")
