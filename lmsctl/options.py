"""Options shared by many commands, declared once (``Annotated`` types)."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    # Typer vendors Click since 0.26: its classes, not the separately installed click's.
    from typer._click import Context, HelpFormatter

F = TypeVar("F", bound=Callable[..., Any])

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts.")]
#: A listing's ``--json``: every row, streamed (see ``lmsctl.output.emit_query``).
ListJsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print every row as one JSON array, for scripts (with --page/--per-page: "
        'that page as {"page", "per_page", "pages", "total", "next_page", "items"}).',
    ),
]
JsonlOpt = Annotated[
    bool, typer.Option("--jsonl", help="Print every row as one JSON object a line, for scripts.")
]
PageOpt = Annotated[
    int | None,
    typer.Option(
        "--page",
        min=1,
        show_default=False,
        help="Show only this page (1-based); the total and the next page go to stderr.",
    ),
]
PerPageOpt = Annotated[
    int | None,
    typer.Option(
        "--per-page",
        min=1,
        max=10000,
        show_default="every row with --json, --jsonl or into a pipe; 50 in a table on a terminal",
        help="Rows per page.",
    ),
]
#: ``list`` commands' filter to one course.
CourseFilterOpt = Annotated[str | None, typer.Option("--course", help="Only this course.")]
#: A lesson, named COURSE/LESSON in every command; the course's and the lesson's slugs given
#: apart (``COURSE LESSON``) are accepted too (lms_core.catalog.lessons.lesson_ref reads both).
LessonRefArg = Annotated[
    str,
    typer.Argument(
        metavar="COURSE/LESSON",
        help="The lesson: COURSE/LESSON (or the course's slug, then the lesson's).",
        show_default=False,
    ),
]
LessonSlugArg = Annotated[
    str | None,
    typer.Argument(
        metavar="LESSON",
        help="The lesson's slug, when the course is given alone before it.",
        show_default=False,
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
]
PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]
PasswordFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="Read the password from this file's first line.",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]


def file_out(flag: str, help_text: str) -> Any:
    """An optional ``--flag FILE`` a command writes to (never a folder)."""
    return Annotated[Path | None, typer.Option(flag, dir_okay=False, help=help_text)]


def with_options(*options: tuple[str, Any, Any], at: int = -1) -> Callable[[F], F]:
    """Give a command shared options, each declared once as ``(name, Annotated type, default)``.

    Typer reads a command's options from its signature, so options repeated by several
    commands would be repeated in each signature. A command that takes ``**options`` gets these
    inserted into its signature at position ``at`` of its own parameters (default: before the
    last, so ``--json`` stays last in ``--help``), in the order given, and receives them by name
    in ``options`` (the idea of sqlite-utils' ``output_options`` decorators).
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        at_index = at % len(own)
        shared = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default
            )
            for name, kind, default in options
        ]
        after = [p.replace(kind=p.KEYWORD_ONLY) for p in own[at_index:]]
        parameters = [*own[:at_index], *shared, *after]
        func.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        return func

    return decorate


def read_password(*, stdin: bool, file: Path | None, prompt: bool) -> str | None:
    """The password from stdin, a file, or an interactive prompt; never from the command line."""
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            from lms_core.errors import ValidationError

            raise ValidationError(
                f"cannot read {file}: {exc}", field="password_file", value=str(file)
            ) from exc
        return lines[0] if lines else ""
    if prompt:
        # On stderr, like every message for people: stdout may carry --json.
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))
    return None


#: How long a command's summary may be in a group's listing (and in docs/cli-reference.md):
#: enough for the whole first sentence of every lmsctl command's help.
SHORT_HELP_LIMIT = 200


class ListingGroup(TyperGroup):
    """A group whose command listing shows each command's whole first sentence.

    Click cuts a summary to what fits on one line beside the longest command name ("Create a
    user; without a password the user cannot log..."), which hides the part that tells two
    commands apart; here the summary wraps onto the next lines instead.
    """

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=SHORT_HELP_LIMIT)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def group(help_text: str) -> typer.Typer:
    """A command group with the settings every lmsctl group shares."""
    return typer.Typer(
        cls=ListingGroup,
        help=help_text,
        no_args_is_help=True,
        # Plain help like `lmsctl --help`: Rich markup would swallow "[default: ...]" in a help.
        rich_markup_mode=None,
        add_completion=False,  # `lmsctl --install-completion` covers every group
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def single(help_text: str) -> typer.Typer:
    """A Typer app holding one command (``init``, ``doctor``)."""
    return typer.Typer(
        help=help_text,
        rich_markup_mode=None,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def by_field(options: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """A command's option values (its ``locals()``) keyed by the field each option sets.

    ``fields`` maps option names to field names (``{"duration": "duration_minutes"}``), so a
    typed command can be built from the options that create and update share.
    """
    return {field: options[option] for option, field in fields.items()}
