"""Plan files: ``--plan-out plan.json`` writes a plan, ``import apply plan.json`` applies it.

A plan names every record it will change with its ``before`` image; applying re-reads those
records and refuses, listing them, if any differs (or a planned create now exists): the
plan that was reviewed is the plan that runs, or nothing does. Plans never carry passwords.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from lms_core.accounts.fields import USER
from lms_core.catalog.fields import COURSE, LESSON
from lms_core.errors import FileProblem, HintCode, ValidationError, hint
from lms_core.formats.atomic import atomic_text
from lms_core.formats.cells import check_control
from lms_core.imports.plan.changes import CREATE, SKIP, WRITING, Change, ChangeLog, jsonable
from lms_core.imports.resolve import FIELDS, by_ids, chunks
from lms_core.models import Course, Enrollment, Lesson, User, utcnow

FORMAT = "lms-import-plan"
VERSION = 1


def write_plan(path: Path, header: dict[str, Any], log: ChangeLog) -> None:
    """The plan as one JSON document, streamed from the change log, written atomically."""
    meta = {"format": FORMAT, "version": VERSION, **header, "created_at": utcnow().isoformat()}
    with atomic_text(path, newline=None, private=True) as tmp:
        body = json.dumps(meta, default=jsonable, ensure_ascii=False, indent=1)
        tmp.write(body[:-1].rstrip() + ',\n "changes": [\n')
        first = True
        for line in log.raw_lines():
            if not first:
                tmp.write(",\n")
            tmp.write("  " + line)
            first = False
        tmp.write("\n ]\n}\n")


def read_plan(path: Path) -> tuple[dict[str, Any], list[Change]]:
    name = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileProblem(f"is not a readable plan file ({exc})", file=name) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FileProblem(
            "is not an import plan (an import's dry run saves one)",
            file=name,
            hint=hint(HintCode.save_plan),
        )
    if data.get("version") != VERSION:
        raise FileProblem(f"plan format version {data.get('version')} is not supported", file=name)
    changes: list[Change] = []
    try:
        for item in data["changes"]:
            if item["action"] == SKIP:
                continue  # listed for the reader; nothing to apply
            if item["action"] not in WRITING or item["entity_type"] not in FIELDS:
                raise ValueError(f"unknown action or entity in {item!r}")
            if "password" in (item.get("after") or {}) and item["action"] == CREATE:
                item["after"].pop("password")
            change = Change(
                item["entity_type"],
                str(item["key"]),
                item["action"],
                item.get("entity_id"),
                item.get("before"),
                item.get("after"),
            )
            _check_text(change, len(changes) + 1, name)
            changes.append(change)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FileProblem(f"the plan's changes are malformed ({exc})", file=name) from None
    problem = check_control(str(data.get("file", "")))
    if problem is not None:
        raise FileProblem(f"its file name {problem}", file=name, column="file")
    return data, changes


#: The field specs of a plan's entity types: which text may hold line breaks (``multiline``)
#: and which is an identifier (no bidirectional control at all).
_SPECS = {"user": USER, "course": COURSE, "lesson": LESSON}


def _check_text(change: Change, number: int, file: str) -> None:
    """A plan is a file anyone could edit: its values meet the same character rules as an
    import's cells (``cells.check_control``), so a NUL or an unclosed override cannot reach
    the database through ``import apply`` (PostgreSQL would raise, SQLite store it)."""
    spec = _SPECS.get(change.entity_type)
    values = [("key", change.key), *(change.after or {}).items()]
    for field, value in values:
        if not isinstance(value, str) or value.isprintable():
            continue
        fspec = spec.by_name.get(field) if spec is not None else None
        problem = check_control(
            value,
            multiline=fspec is not None and fspec.multiline,
            identifier=field == "key"
            or (fspec is not None and fspec.kind in ("identifier", "email")),
        )
        if problem is not None:
            raise FileProblem(
                f"change {number} ({change.entity_type} {change.key!r}): {field} {problem}",
                file=file,
                column=field,
                value=change.key,
            )


def stale(session: Session, changes: list[Change], file: str) -> list[FileProblem]:
    """Records that no longer match the plan's ``before`` (or planned creates that now exist)."""
    problems: list[FileProblem] = []
    by_type: dict[str, list[Change]] = defaultdict(list)
    for c in changes:
        by_type[c.entity_type].append(c)
    for entity_type, items in by_type.items():
        current = by_ids(session, entity_type, [c.entity_id for c in items if c.entity_id])
        for c in items:
            if c.action == CREATE:
                continue
            record = current.get(c.entity_id or -1)
            if record is None:
                problems.append(
                    FileProblem(
                        f"{entity_type} {c.key} no longer exists",
                        file=file,
                        column=entity_type,
                        value=c.key,
                    )
                )
                continue
            for name, value in (c.before or {}).items():
                if record.get(name) != value:
                    problems.append(
                        FileProblem(
                            f"{entity_type} {c.key}: {name} is now {record.get(name)!r}, the plan "
                            f"expected {value!r}; make a new plan",
                            file=file,
                            column=name,
                            value=c.key,
                        )
                    )
        creates = [c for c in items if c.action == CREATE and c.after]
        for key in _existing(session, entity_type, creates):
            problems.append(
                FileProblem(
                    f"{entity_type} {key} was created since the plan was made; make a new plan",
                    file=file,
                    column=entity_type,
                    value=key,
                )
            )
    return problems


def _existing(session: Session, entity_type: str, creates: list[Change]) -> list[str]:
    """The keys of planned creates whose record now exists (each named once)."""
    found: set[str] = set()
    if not creates:
        return []
    if entity_type in ("user", "course"):
        model = User if entity_type == "user" else Course
        natural = "email" if entity_type == "user" else "slug"
        for column in ("external_id", natural):
            keys = {c.after[column]: c.key for c in creates if c.after and c.after.get(column)}
            attr = getattr(model, column)
            for batch in chunks(keys):
                found.update(keys[v] for v in session.scalars(select(attr).where(attr.in_(batch))))
        return sorted(found)
    if entity_type == "lesson":
        pairs = [(c.after["course_slug"], c.after["slug"]) for c in creates if c.after]
        stmt = select(Course.slug, Lesson.slug).join(Course, Course.id == Lesson.course_id)
        cols = tuple_(Course.slug, Lesson.slug)
    else:
        pairs = [(c.after["user_email"], c.after["course_slug"]) for c in creates if c.after]
        stmt = (
            select(User.email, Course.slug)
            .select_from(Enrollment)
            .join(User, User.id == Enrollment.student_id)
            .join(Course, Course.id == Enrollment.course_id)
        )
        cols = tuple_(User.email, Course.slug)
    for batch in chunks(pairs, 500):
        found.update(f"{a}/{b}" for a, b in session.execute(stmt.where(cols.in_(batch))))
    return sorted(found)


def refuse_passwords(columns: dict[str, str], file: str) -> None:
    if "password" in columns:
        raise ValidationError(
            f"{file} has a password column: plans never carry passwords, so no plan is saved; "
            "import without saving a plan (or review first with a dry run)",
            field="plan_out",
            hint=hint(HintCode.plan_without_passwords),
        )
