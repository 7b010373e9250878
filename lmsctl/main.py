"""The ``lmsctl`` entry point: global options, then the lazily loaded command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmsctl import quickparams
from lmsctl.lazy import LazyGroup
from lmsctl.runtime import runtime

quickparams.install()  # plain option values skip Pydantic (start-up time)

app = typer.Typer(
    cls=LazyGroup,
    help=(
        "Run a learning-management system from the command line.\n\n"
        "Example: lmsctl --as instructor@demo.example.org courses list --json\n\n"
        "Exit codes: 0 done, 1 refused (validation, conflict, not found, locked), 2 usage."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("lms-toolkit")
    except PackageNotFoundError:  # run from a source tree that was never installed
        found = "unknown (not installed)"
    typer.echo(f"lmsctl {found}")
    raise typer.Exit(0)


@app.callback()
def main(
    ctx: typer.Context,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            envvar="LMS_DATABASE_URL",
            show_envvar=True,
            help="SQLAlchemy URL of the database (default: sqlite:///var/lms.db).",
        ),
    ] = None,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="LMS_ACTOR",
            show_envvar=True,
            help="Act as this user (e-mail), with that user's rights. "
            "Default: the OS user, as administrator.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="A .env-style settings file (LMS_* variables)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            expose_value=False,
            callback=_print_version,
            help="Print lmsctl's version and exit.",
        ),
    ] = False,
) -> None:
    rt = runtime(ctx)
    rt.database_url = rt.database_url or database
    rt.actor_email = rt.actor_email or as_
    rt.config = rt.config or config


def run() -> None:
    from lmsctl import startup

    startup.pause()  # no cyclic GC while the command's modules load (lmsctl/startup.py)
    app()
