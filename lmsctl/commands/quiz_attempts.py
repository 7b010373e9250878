"""lmsctl quizzes, second half: learners' attempts (for staff, tests, demos) and regrading.

Registered into the ``quizzes`` group by ``lmsctl/commands/quizzes.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:
    from lms_core.quizzes.fields import AttemptRow

import typer

from lmsctl.options import DryRunOpt, JsonlOpt, JsonOpt, group
from lmsctl.output import (
    emit_rows,
    fail,
    listing_format,
    print_json,
    report_change,
    reporting,
    say,
)
from lmsctl.runtime import acting, runtime

app = group("Attempts at quizzes, and regrading.")

QuizArg = Annotated[
    str,
    typer.Argument(
        help="COURSE/LESSON (the quiz's lesson), or the quiz id `list` shows.",
        show_default=False,
    ),
]
AttemptArg = Annotated[int, typer.Argument(help="The attempt's id.", show_default=False)]
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


@app.command("attempts")
def attempts(
    ctx: typer.Context,
    quiz: QuizArg,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only in_progress, submitted (essays waiting for a grade) or graded ones.",
        ),
    ] = None,
    jsonl_out: JsonlOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """List every attempt at a quiz: learner, number, status, score, pass, times.

    Example: lmsctl quizzes attempts intro-to-python/checkpoint --status submitted --json
    """
    from lms_core.pagination import iter_tuples
    from lms_core.quizzes.review import attempt_row, attempts_query

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        stmt = attempts_query(session, actor=actor, quiz_ref=quiz, status=status)
        emit_rows(
            (attempt_row(a, email) for a, email in iter_tuples(session, stmt)),
            ATTEMPT_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
        )


@app.command("attempt")
def attempt_detail(ctx: typer.Context, attempt: AttemptArg, json_out: JsonOpt = False) -> None:
    """Show one attempt question by question: the answer given and the points earned.

    Read an essay here before `grade-essay`; `waiting` marks essays not graded yet.
    Learners see their own attempts (with --as); the key is not shown (`questions` has it).

    Example: lmsctl quizzes attempt 12
    """
    from lms_core.quizzes.review import review_attempt

    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        data = review_attempt(session, actor=actor, attempt_id=attempt)
    if json_out:
        print_json(data)
        return
    a = data["attempt"]
    score = f", score {a['score']}, {_passed(a['passed'])}" if a["score"] is not None else ""
    say(f"attempt {a['id']} by {a['email']} (number {a['number']}): {a['status']}{score}")
    rows = [
        {
            **q,
            "answer": q["answer_text"] if q["answer_text"] is not None else q["answer"],
            "points_earned": "waiting" if q["waiting"] else q["points_earned"],
            "of": q["points"],
        }
        for q in data["questions"]
    ]
    emit_rows(
        rows, ("number", "question_type", "title", "answer", "points_earned", "of"), as_json=False
    )


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
        from rich.console import Console
        from rich.progress import Progress

        from lms_core.quizzes.regrade import regrade as regrade_service

        show = sys.stderr.isatty() and not json_out
        with (
            Progress(console=Console(stderr=True), disable=not show, transient=True) as bar,
            rt.unit_of_work(write=not dry_run) as (session, actor),
        ):
            task = bar.add_task("regrading", total=None)
            result = regrade_service(
                session,
                actor=actor,
                quiz_ref=quiz,
                dry_run=dry_run,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
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
            f"{result.changed_attempts} attempt(s) and the final score of {len(rows)} learner(s)"
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
    from lms_core.quizzes.review import close_overdue as close

    with acting(ctx, as_json=json_out, write=not dry_run) as (session, actor):
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
    email: Annotated[
        str | None,
        typer.Argument(
            help="The learner's e-mail [default: the --as user; required without --as].",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Start (or resume) an attempt; shows the questions in the attempt's order, with their options.

    A learner starts their own with --as alone; staff and the operator name the learner.
    Answer an option by the number before it (`quizzes answer ATTEMPT QUESTION_N NUMBER`).

    Example: lmsctl --as student@demo.example.org quizzes start intro-to-python/checkpoint
    """
    from lms_core.quizzes.attempts import learner_questions, start_attempt
    from lms_core.quizzes.review import attempt_row

    with acting(ctx, as_json=json_out) as (session, actor):
        v = start_attempt(session, actor=actor, quiz_ref=quiz, email=email)
        learner = v.email
        row = attempt_row(v.attempt, learner)
        shown = learner_questions(v)
    if json_out:
        print_json({"attempt": row, "resumed": v.resumed, "questions": shown})
        return
    deadline = row["deadline_at"]
    say(
        f"{'resumed' if v.resumed else 'started'} attempt {row['id']} (number {row['number']}) "
        f"for {learner}" + (f", deadline {deadline[:16]}" if deadline else "")
    )
    emit_rows(
        [{**q, "options": _options_cell(q)} for q in shown],
        ("shown", "number", "question_type", "question_text", "options"),
        as_json=False,
    )


def _options_cell(question: dict[str, Any]) -> str:
    """A question's options as a learner answers them: ``0: Paris | 2: Rome | 1: Oslo``
    (the stored index, which an answer names, in the attempt's order); for matching, the
    left-hand prompts by index and the right-hand texts; nothing for typed answers."""
    kind = question["question_type"]
    if kind == "true_false":
        return "true | false"
    if kind == "matching":
        left = " | ".join(f"{o['index']}: {o['text']}" for o in question.get("left", []))
        return f"match {left} with: {' | '.join(question.get('choices', []))}"
    return " | ".join(f"{c['index']}: {c['text']}" for c in question.get("choices", []))


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
    with reporting(as_json=json_out):
        from lms_core.errors import ValidationError
        from lms_core.quizzes.answers import read_answers_file, save_typed_answers
        from lms_core.quizzes.attempts import save_answers
        from lms_core.quizzes.review import attempt_row

        if answers_file is not None and (number is not None or value is not None):
            raise ValidationError("give QUESTION_N VALUE or --answers, not both", field="answers")
        if answers_file is None and (number is None or value is None):
            raise ValidationError("give QUESTION_N VALUE, or --answers FILE.json", field="answers")
        given = (
            read_answers_file(answers_file.read_bytes(), file=str(answers_file))
            if answers_file is not None
            else None
        )
    with acting(ctx, as_json=json_out) as (session, actor):
        if given is not None:
            result = save_answers(session, actor=actor, attempt_id=attempt, answers=given)
        else:
            assert number is not None and value is not None  # checked above
            result = save_typed_answers(
                session, actor=actor, attempt_id=attempt, typed={number: value}
            )
        row = attempt_row(result.attempt, result.email)
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
    report_change(
        f"saved {len(result.saved)} answer(s) to attempt {attempt}",
        {"attempt": row, "saved": result.saved},
        as_json=json_out,
    )


@app.command("submit")
def submit(ctx: typer.Context, attempt: AttemptArg, json_out: JsonOpt = False) -> None:
    """Hand in an attempt: graded at once, or submitted while an essay waits for grading.

    Example: lmsctl quizzes submit 12
    """
    from lms_core.quizzes.attempts import submit_attempt
    from lms_core.quizzes.review import learner_row

    with acting(ctx, as_json=json_out) as (session, actor):
        row = learner_row(session, submit_attempt(session, actor=actor, attempt_id=attempt))
    _graded(row, json_out, waiting="submitted; essay(s) wait for grading (quizzes grade-essay)")


def _passed(passed: bool | None) -> str:
    return "passed" if passed else "not passed"


def _graded(row: AttemptRow, json_out: bool, *, waiting: str) -> None:
    """An attempt after a submit or an essay's grade: its score, or what it waits for."""
    if json_out:
        print_json(row)
    elif row["status"] == "graded":
        say(f"attempt {row['id']}: graded, score {row['score']}, {_passed(row['passed'])}")
    else:
        say(f"attempt {row['id']}: {waiting}")


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
    from lms_core.quizzes.review import grade_essay as grade
    from lms_core.quizzes.review import learner_row

    with acting(ctx, as_json=json_out) as (session, actor):
        a = grade(session, actor=actor, attempt_id=attempt, question_number=question, points=points)
        row = learner_row(session, a)
    _graded(row, json_out, waiting=f"question {question} graded; other essay(s) still wait")
