"""Options shared by many commands, declared once (``Annotated`` types)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts.")]
PageOpt = Annotated[int, typer.Option("--page", min=1, help="Page number (1-based).")]
PerPageOpt = Annotated[int, typer.Option("--per-page", min=1, max=10000, help="Rows per page.")]
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


def group(help_text: str) -> typer.Typer:
    """A command group with the settings every lmsctl group shares."""
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def single(help_text: str) -> typer.Typer:
    """A Typer app holding one command (``init``, ``doctor``)."""
    return typer.Typer(
        help=help_text,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
