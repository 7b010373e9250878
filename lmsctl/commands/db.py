"""lmsctl db: upgrade, downgrade, current, check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from lmsctl.options import JsonOpt, group
from lmsctl.output import emit_record, fail, report_change, reporting, say
from lmsctl.runtime import runtime

app = group("Schema migrations (Alembic): upgrade, downgrade, current, check.")


@contextmanager
def _revision_refused(revision: str, *, as_json: bool) -> Iterator[None]:
    """An unknown or unreachable target revision: a message naming it, not Alembic's traceback."""
    from alembic.script.revision import RevisionError
    from alembic.util.exc import CommandError

    try:
        yield
    except (CommandError, RevisionError) as exc:
        fail([{"field": "revision", "value": revision, "message": str(exc)}], as_json=as_json)


def _migrate(ctx: typer.Context, revision: str, *, down: bool, as_json: bool) -> None:
    """Move the schema to ``revision``; say where it was and where it is now."""
    rt = runtime(ctx)
    with reporting(as_json=as_json):
        from lms_core.ops import schema

        actor = rt.schema_actor()
        engine = rt.get_engine(create=not down)  # an upgrade may create a SQLite file
        with _revision_refused(revision, as_json=as_json):
            before, after = schema.migrate(engine, revision, actor=actor, down=down)
        renamed, missing = 0, []
        if not down:  # certificate PDFs still named after a legacy number (the migration cannot)
            from lms_core.certificates.renumber import rename_legacy_pdfs

            done = rename_legacy_pdfs(rt.get_session_factory(), rt.get_settings())
            renamed, missing = done.renamed, done.missing
    report_change(
        f"database at {after or 'base'} (was {before or 'empty'})"
        + (f"; renamed {renamed} certificate PDF(s)" if renamed else ""),
        {"before": before, "current": after}
        | ({"pdfs_renamed": renamed} if renamed else {})
        | ({"pdfs_missing": missing} if missing else {}),
        as_json=as_json,
    )
    if missing:
        say(
            f"warning: {len(missing)} certificate PDF(s) not found in the files directory: "
            + ", ".join(missing[:10])
            + (", ..." if len(missing) > 10 else ""),
            as_json=True,  # on stderr, whatever stdout carries
        )


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    json_out: JsonOpt = False,
) -> None:
    """Migrate the database up to a revision (default: the newest).

    Example: lmsctl --database postgresql://postgres@127.0.0.1/lms db upgrade
    """
    _migrate(ctx, revision, down=False, as_json=json_out)


# ignore_unknown_options: a relative revision such as -1 is the argument, not an unknown option.
@app.command("downgrade", context_settings={"ignore_unknown_options": True})
def downgrade(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(help="Target revision, -1 for one step, or base.", show_default=False)
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Migrate the database down (this can drop tables and their data).

    Example: lmsctl db downgrade -1 --yes
    """
    if not yes:
        # Rights before the question: a refused actor is not asked to confirm anything.
        with reporting(as_json=json_out):
            from lms_core.permissions import require_admin

            require_admin(runtime(ctx).schema_actor(), "downgrade the schema")
        typer.confirm(
            f"Downgrade the database to {revision}? Data in removed tables is lost.",
            abort=True,
            err=True,
        )
    _migrate(ctx, revision, down=True, as_json=json_out)


@app.command("current")
def current(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Show the database's revision and the newest one the code knows.

    Example: lmsctl db current --json
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.ops import schema

        actor = rt.schema_actor()
        status = schema.checked_status(rt.get_engine(missing_ok=True), actor=actor, compare=False)
    emit_record(
        {
            "current": status.current,
            "head": status.head,
            "up_to_date": status.current == status.head,
        },
        as_json=json_out,
    )


@app.command("check")
def check(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Exit 1 unless the database is at the newest revision and matches the models.

    Example: lmsctl db check && echo schema ok
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.ops import schema

        actor = rt.schema_actor()
        status = schema.checked_status(rt.get_engine(missing_ok=True), actor=actor)
    if status.up_to_date:
        report_change(
            f"schema up to date at {status.head}",
            {"current": status.current, "head": status.head, "differences": []},
            as_json=json_out,
        )
        return
    from lms_core.errors import Hint, HintCode

    errors = []
    if status.current is None:  # as lmsctl doctor says it: an empty database is initialised
        errors.append(
            {
                "field": "revision",
                "value": None,
                "message": f"database is empty, code expects {status.head}: initialise it",
                "hint": Hint(HintCode.initialise_database).as_dict(),
            }
        )
    elif status.current != status.head:
        errors.append(
            {
                "field": "revision",
                "value": status.current,
                "message": f"database at {status.current}, code expects {status.head}: "
                "upgrade the schema",
                "hint": Hint(HintCode.run_migrations).as_dict(),
            }
        )
    errors += [{"field": "schema", "value": None, "message": diff} for diff in status.differences]
    fail(errors, as_json=json_out)
