"""lmsctl quizzes: quizzes, their question banks, learners' attempts, regrading."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lmsctl.commands.quiz_attempts import QuizArg
from lmsctl.commands.quiz_attempts import app as _attempt_commands
from lmsctl.options import (
    CourseFilterOpt,
    DryRunOpt,
    JsonlOpt,
    JsonOpt,
    LessonRefArg,
    LessonSlugArg,
    group,
    with_options,
)
from lmsctl.output import (
    emit_record,
    emit_rows,
    listing_format,
    print_json,
    report_change,
    reporting,
    say,
)
from lmsctl.runtime import acting

app = group("Quizzes: settings, question banks (GIFT, Aiken, CSV, XLSX), attempts, regrading.")

LIST_COLUMNS = ("id", "course", "lesson", "title", "quiz_type", "questions", "published")
QUESTION_COLUMNS = ("number", "question_type", "points", "title", "question_text")
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


#: The settings ``create`` and ``update`` take, declared once and named after the quiz's fields
#: (``lms_core.quizzes.fields.QuizSettings``), so they go to the typed input as they are.
settings_options = with_options(
    ("description", Description, None),
    ("quiz_type", QuizType, None),
    ("passing_score", Passing, None),
    ("time_limit_minutes", TimeLimit, None),
    ("max_attempts", MaxAttempts, None),
    ("shuffle_questions", ShuffleQ, None),
    ("shuffle_options", ShuffleO, None),
    ("show_correct_answers", ShowCorrect, None),
    ("grading_method", Method, None),
)


@app.command("create")
@settings_options
def create(
    ctx: typer.Context,
    lesson: LessonRefArg,
    title: Annotated[str, typer.Option("--title", help="Title.", show_default=False)],
    slug: LessonSlugArg = None,
    json_out: JsonOpt = False,
    **settings: Any,
) -> None:
    """Create the quiz of a lesson of type quiz (unpublished; import questions, then publish).

    Example: lmsctl quizzes create intro-to-python/checkpoint --title "Checkpoint" --time-limit 20 --max-attempts 3
    """
    with reporting(as_json=json_out):
        from lms_core.catalog.lessons import lesson_ref
        from lms_core.quizzes.fields import QuizCreate
        from lms_core.quizzes.quizzes import create_quiz, quiz_row

        ref = lesson_ref(lesson, slug)
        data = QuizCreate(title=title, **settings)
    with acting(ctx, as_json=json_out) as (session, actor):
        row = quiz_row(
            create_quiz(
                session, actor=actor, course_slug=ref.course, lesson_slug=ref.lesson, data=data
            )
        )
    report_change(f"created quiz {row['id']} ({row['lesson']})", row, as_json=json_out)


@app.command("update")
@settings_options
def update(
    ctx: typer.Context,
    quiz: QuizArg,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
    json_out: JsonOpt = False,
    **settings: Any,
) -> None:
    """Change the given settings of a quiz (graded attempts change only with `regrade`).

    Example: lmsctl quizzes update intro-to-python/checkpoint --passing-score 60 --time-limit 0
    """
    with reporting(as_json=json_out):
        from lms_core.quizzes.fields import QuizUpdate
        from lms_core.quizzes.quizzes import question_count, quiz_row, update_quiz

        data = QuizUpdate(title=title, **settings)
    with acting(ctx, as_json=json_out) as (session, actor):
        q = update_quiz(session, actor=actor, quiz_ref=quiz, data=data)
        row = quiz_row(q, questions=question_count(session, q.id))
    report_change(f"updated quiz {row['id']}", row, as_json=json_out)


@app.command("list")
def list_(
    ctx: typer.Context,
    course: CourseFilterOpt = None,
    jsonl_out: JsonlOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """List quizzes (course and lesson as slugs) with their question counts.

    Example: lmsctl quizzes list --course intro-to-python --json
    """
    from lms_core.pagination import iter_tuples
    from lms_core.quizzes.quizzes import quiz_row, quizzes_query

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        stmt = quizzes_query(session, actor=actor, course_slug=course)
        emit_rows(
            (quiz_row(quiz, questions=n) for quiz, n in iter_tuples(session, stmt)),
            LIST_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
        )


@app.command("show")
def show(ctx: typer.Context, quiz: QuizArg, json_out: JsonOpt = False) -> None:
    """Show a quiz's settings, points and counts.

    Example: lmsctl quizzes show intro-to-python/checkpoint
    """
    from lms_core.quizzes.quizzes import show_quiz

    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        row = show_quiz(session, actor=actor, quiz_ref=quiz)
    emit_record(row, as_json=json_out, title=f"quiz {row['id']}")


@app.command("publish")
def publish(ctx: typer.Context, quiz: QuizArg, json_out: JsonOpt = False) -> None:
    """Open a quiz to learners (refused while it has no questions).

    Example: lmsctl quizzes publish intro-to-python/checkpoint
    """
    from lms_core.quizzes.quizzes import publish_quiz, question_count, quiz_row

    with acting(ctx, as_json=json_out) as (session, actor):
        q = publish_quiz(session, actor=actor, quiz_ref=quiz)
        row = quiz_row(q, questions=question_count(session, q.id))
    report_change(f"published quiz {row['id']}", row, as_json=json_out)


@app.command("questions")
def questions(
    ctx: typer.Context, quiz: QuizArg, jsonl_out: JsonlOpt = False, json_out: JsonOpt = False
) -> None:
    """List a quiz's questions in order (with --json: options and keys too).

    Example: lmsctl quizzes questions intro-to-python/checkpoint --json
    """
    from lms_core.quizzes.questions import list_questions, question_row

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        found = list_questions(session, actor=actor, quiz_ref=quiz)
        emit_rows(
            (question_row(q) for q in found), QUESTION_COLUMNS, as_json=json_out, jsonl=jsonl_out
        )


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
    from lms_core.quizzes.questions import remove_question as remove

    with acting(ctx, as_json=json_out) as (session, actor):
        gone = remove(session, actor=actor, quiz_ref=quiz, number=number)
        row = {"quiz": quiz, "number": number, "id": gone.id, "removed": True}
    report_change(f"removed question {number} of quiz {quiz}", row, as_json=json_out)


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
    if file != "-" and not Path(file).is_file():
        # A folder or a missing file is a usage error (exit 2), as for every file argument.
        what = "is a directory" if Path(file).is_dir() else "does not exist"
        raise typer.BadParameter(f"file '{file}' {what}.", ctx=ctx, param_hint="'file'")
    with reporting(as_json=json_out):
        from lms_core.quizzes.questions import import_questions, parse_bank

        stdin = file == "-"
        data = typer.get_binary_stream("stdin").read() if stdin else Path(file).read_bytes()
        notes: list[Any] = []
        parsed = parse_bank(data, file=file, fmt=fmt, warnings=notes)
    with acting(ctx, as_json=json_out, write=not dry_run) as (session, actor):
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
    summary: dict[str, Any] = {
        "quiz": quiz_id,
        "file": file,
        "dry_run": dry_run,
        "added": result.added,
        "updated": result.updated,
        "removed": result.removed,
        "total": result.total,
        "changed": result.changed,
        "questions": [
            {"question_type": q.question_type, "title": q.title, "question_text": q.question_text}
            for q in parsed
        ],
        "warnings": [w.as_dict() for w in notes],
    }
    for w in notes:
        typer.echo(f"warning: {w}", err=True)
    if json_out:
        print_json(summary)
        return
    verb = "would import" if dry_run else "imported"
    rows = [
        {"n": n, "change": result.change_of(n), **q}
        for n, q in enumerate(summary["questions"], start=1)
    ]
    columns = ("n", *(("change",) if replace else ()), "question_type", "title", "question_text")
    emit_rows(rows, columns, as_json=False, title=file)
    replaced = f"{result.updated} replaced"
    if replace and result.changed:
        replaced += f" ({len(result.changed)} changed: regrade after)"
    elif replace and result.updated:
        replaced += " (none changed)"
    say(
        f"{verb} {len(parsed)} question(s) into quiz {quiz_id}: {result.added} added, "
        f"{replaced}, {result.removed} removed; {result.total} in the quiz"
    )


@app.command("export")
def export(
    ctx: typer.Context,
    quiz: QuizArg,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="gift, aiken, csv or xlsx [default: from the -o suffix, else gift].",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            dir_okay=False,
            help="Write to FILE: .gift, .txt (GIFT or Aiken), .csv or .xlsx (default: stdout).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export a quiz's questions; GIFT export imported again gives the same questions.

    Example: lmsctl quizzes export intro-to-python/checkpoint --format gift -o checkpoint.gift
    """
    with reporting(as_json=json_out):
        from lms_core.errors import UsageError
        from lms_core.formats.output import output_format
        from lms_core.quizzes.questions import FORMATS, export_questions

        fmt = output_format(output, FORMATS, fmt, default="gift")
        if output is None and (json_out or fmt == "xlsx"):
            raise UsageError(
                "give -o FILE (stdout carries the JSON)" if json_out else "xlsx needs -o FILE",
                field="output",
            )
        # A path is written whole or not at all (``lms_core.formats.atomic``).
    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        n = export_questions(session, actor=actor, quiz_ref=quiz, fmt=fmt, out=output or sys.stdout)
    if output is not None:
        say(f"exported {n} question(s) to {output}", as_json=json_out)
    if json_out:
        print_json({"quiz": quiz, "format": fmt, "questions": n, "file": str(output)})


# The attempt and regrade commands live in quiz_attempts.py; one ``lmsctl quizzes`` group.
app.registered_commands += _attempt_commands.registered_commands
