"""Which files an import reads and which stages run over them, per entity.

users: one table. courses: the courses table, then lessons (``--lessons FILE`` or the
``lessons`` sheet of an XLSX workbook). enrollments: one table. oneroster: the bundle's users,
courses (classes) and enrollments, in that order, so each can refer to the ones before.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lms_core.errors import FileProblem
from lms_core.formats.table import normalise_header
from lms_core.imports.columns import (
    ALIASES,
    COURSE_COLUMNS,
    COURSE_REQUIRED,
    ENROLLMENT_COLUMNS,
    LESSON_COLUMNS,
    LESSON_REQUIRED,
    LONG_CELLS,
    USER_COLUMNS,
    USER_REQUIRED,
)
from lms_core.imports.context import Context
from lms_core.imports.options import ImportOptions
from lms_core.imports.passwords import strength_checker
from lms_core.imports.pipeline import Stage, check_threshold, removal_limit
from lms_core.imports.plan.changes import Change
from lms_core.imports.plan.courses import check_published, plan_courses, plan_lessons
from lms_core.imports.plan.enrollments import plan_drops, plan_enrollments, scope_enrollments
from lms_core.imports.plan.users import plan_user_removals, plan_users, scope_users
from lms_core.imports.records import (
    course_checker,
    enrollment_checker,
    lesson_checker,
    user_checker,
)
from lms_core.settings import Settings

ENTITIES = ("users", "courses", "enrollments", "oneroster")
LESSONS_SHEET = "lessons"
#: The column an ``--errors-out`` file adds; read back without a word (see ``errors_file``).
ERROR_COLUMN = "error"


def warn_unknown_columns(ctx: Context, table: Any, what: str, known: tuple[str, ...]) -> None:
    """A warning for each header the import does not read (``fullname``, ``start_date``),
    naming the nearest column of ours that the file lacks; the import goes on."""
    used = {theirs for ours, theirs in table.source_columns.items() if ours in known}
    lacking = [c for c in known if c not in table.source_columns]
    for name in table.columns:
        if not name or name in used or normalise_header(name) == ERROR_COLUMN:
            continue
        close = difflib.get_close_matches(normalise_header(name), lacking, n=1, cutoff=0.7)
        advice = (
            f'; did you mean "{close[0]}"?' if close else f" (its columns are {', '.join(known)})"
        )
        ctx.warnings.append(
            FileProblem(
                f"is not a column of {what}, so it is ignored{advice}",
                file=table.file,
                line=table.header_line,
                column=name,
                value=name,
            )
        )


@dataclass
class Opened:
    """The open tables of one import and how to build its stages."""

    file_name: str
    main_file: str
    columns: dict[str, str]
    has_passwords: bool
    tables: list[Any]
    build: Callable[[ImportOptions], list[Stage]]
    paths: list[Path] = field(default_factory=list)
    bundle_sha: str | None = None
    #: (entity, table, reopen) per table, for --errors-out.
    reopen: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)

    def stages(self, options: ImportOptions) -> list[Stage]:
        return self.build(options)

    def sha256(self) -> str:
        """Of the input bytes (of every file, in order, for several)."""
        if self.bundle_sha:
            return self.bundle_sha
        shas = [t.sha256 for t in self.tables if getattr(t, "sha256", None)]
        if len(shas) == len(self.tables) == 1:
            return str(shas[0])
        digest = hashlib.sha256()
        for path in self.paths:
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
        return digest.hexdigest()


#: A stage's last step, after every row: the changes it adds (a sync's removals).
Finish = Callable[[Session, Context], list[Change]]
#: (session, ctx) -> the ids a sync may remove: users of a role in the file, enrollments of
#: a course in it.
Scope = Callable[[Session, Context], list[int]]
#: (session, ctx, scope) -> the removals: the ones of the scope that the file left out.
Removals = Callable[[Session, Context, list[int]], list[Change]]


def _sync_finish(
    options: ImportOptions, scope_of: Scope, removals_of: Removals, *, what: str, verb: str
) -> Finish | None:
    """A sync's last step: remove what the file left out, refused above the threshold."""
    if options.mode != "sync":
        return None

    def finish(session: Session, ctx: Context) -> list[Change]:
        scope = scope_of(session, ctx)
        removals = removals_of(session, ctx, scope)
        check_threshold(
            ctx,
            what=what,
            verb=verb,
            removals=len(removals),
            scope=len(scope),
            limit=removal_limit(len(scope), options.max_removals),
            force=options.force,
        )
        return removals

    return finish


def _users_finish(options: ImportOptions) -> Finish | None:
    return _sync_finish(options, scope_users, plan_user_removals, what="users", verb="deactivate")


def _enrollments_finish(options: ImportOptions) -> Finish | None:
    return _sync_finish(
        options, scope_enrollments, plan_drops, what="active enrollments", verb="drop"
    )


def _published(session: Session, ctx: Context) -> list[Change]:
    check_published(session, ctx)
    return []


def open_stages(
    entity: str,
    path: Path,
    options: ImportOptions,
    settings: Settings,
    ctx: Context,
) -> Opened:
    """The import's tables and stages. Every cell is checked on every run: a file applied
    before may be read with another sheet or encoding, or by code with newer checks."""
    return _open(entity, path, options, settings, ctx)


def _open(
    entity: str, path: Path, options: ImportOptions, settings: Settings, ctx: Context
) -> Opened:
    from lms_core.formats.sources import open_table, sheet_names

    def table(p: Path, required: tuple[str, ...], known: tuple[str, ...], sheet: str | None) -> Any:
        return open_table(
            p,
            encoding=options.encoding,
            sheet=sheet,
            required=required,
            known=known,
            long_cells=LONG_CELLS,
            aliases=ALIASES,
        )

    if entity == "users":
        users = table(path, USER_REQUIRED, USER_COLUMNS, options.sheet)
        warn_unknown_columns(ctx, users, "a users file", USER_COLUMNS)
        has_pw = "password" in users.source_columns
        check = user_checker(ctx.problems, strength_checker(settings) if has_pw else None)
        return Opened(
            path.name,
            users.file,
            users.source_columns,
            has_pw,
            [users],
            lambda o: [Stage("user", users, check, plan_users, _users_finish(o))],
            paths=[path],
            reopen=[("users", lambda: table(path, USER_REQUIRED, USER_COLUMNS, options.sheet))],
        )
    if entity == "enrollments":
        rows = table(path, (), ENROLLMENT_COLUMNS, options.sheet)
        warn_unknown_columns(ctx, rows, "an enrollments file", ENROLLMENT_COLUMNS)
        check = enrollment_checker(ctx.problems)
        return Opened(
            path.name,
            rows.file,
            rows.source_columns,
            False,
            [rows],
            lambda o: [Stage("enrollment", rows, check, plan_enrollments, _enrollments_finish(o))],
            paths=[path],
            reopen=[("enrollments", lambda: table(path, (), ENROLLMENT_COLUMNS, options.sheet))],
        )
    if entity == "courses":
        courses = table(path, COURSE_REQUIRED, COURSE_COLUMNS, options.sheet)
        warn_unknown_columns(ctx, courses, "a courses file", COURSE_COLUMNS)
        tables: list[Any] = [courses]
        reopen: list[tuple[str, Callable[[], Any]]] = [
            ("courses", lambda: table(path, COURSE_REQUIRED, COURSE_COLUMNS, options.sheet))
        ]
        lessons_path: Path | None = options.lessons
        lessons_sheet: str | None = None
        if (
            lessons_path is None
            and LESSONS_SHEET in sheet_names(path)
            and options.sheet != LESSONS_SHEET
        ):
            lessons_path, lessons_sheet = path, LESSONS_SHEET
        paths = [path]
        if lessons_path is not None:
            lp, ls = lessons_path, lessons_sheet
            try:
                lessons = table(lp, LESSON_REQUIRED, LESSON_COLUMNS, ls)
            except BaseException:
                courses.close()
                raise
            warn_unknown_columns(ctx, lessons, "a lessons file", LESSON_COLUMNS)
            tables.append(lessons)
            reopen.append(("lessons", lambda: table(lp, LESSON_REQUIRED, LESSON_COLUMNS, ls)))
            if lp != path:
                paths.append(lp)

        def build(o: ImportOptions) -> list[Stage]:
            stages = [Stage("course", courses, course_checker(ctx.problems), plan_courses)]
            if len(tables) > 1:
                stages.append(
                    Stage(
                        "lesson", tables[1], lesson_checker(ctx.problems), plan_lessons, _published
                    )
                )
            else:
                stages[0].finish = _published
            return stages

        name = "+".join(p.name for p in paths)
        return Opened(
            name,
            courses.file,
            courses.source_columns,
            False,
            tables,
            build,
            paths=paths,
            reopen=reopen,
        )
    if entity == "oneroster":
        from lms_core.imports.oneroster.bundle import read_bundle

        bundle = read_bundle(path)
        ctx.keep_inactive_learners = True
        tables = [bundle.users, bundle.courses, bundle.enrollments]
        has_pw = "password" in bundle.users.source_columns
        check_user = user_checker(ctx.problems, strength_checker(settings) if has_pw else None)

        def build_bundle(o: ImportOptions) -> list[Stage]:
            return [
                Stage("user", bundle.users, check_user, plan_users, _users_finish(o)),
                Stage("course", bundle.courses, course_checker(ctx.problems), plan_courses),
                Stage(
                    "enrollment",
                    bundle.enrollments,
                    enrollment_checker(ctx.problems),
                    plan_enrollments,
                    _enrollments_finish(o),
                ),
            ]

        return Opened(
            path.name,
            bundle.users.file,
            bundle.users.source_columns,
            has_pw,
            tables,
            build_bundle,
            paths=[path],
            bundle_sha=bundle.sha256,
        )
    raise ValueError(entity)
