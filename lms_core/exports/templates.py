"""Empty import templates: the header row and one realistic example row, in CSV or XLSX.

A secretary starts from ``lmsctl import template users --format xlsx``: the columns are the
ones the importer reads (``lms_core.imports.columns``), the example row shows what a value
looks like (a leading-zero student number, an e-mail, a role), and in XLSX the identifier
columns are formatted as text so Excel keeps ``000123`` as typed. The files come from the
same writer as the exports, so a template, an export and an import agree on every detail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Final

from lms_core.errors import ValidationError
from lms_core.exports.files import write_table, write_workbook
from lms_core.formats.output import csv_text
from lms_core.formats.tabular import FORMATS, Sheet
from lms_core.imports.columns import COLUMNS, SPECS

ENTITIES: Final = ("users", "courses", "lessons", "enrollments")

#: One example row per entity, keyed by column; they refer to each other (the course's
#: instructor, the enrollment's learner and course), so the four templates import as a set.
EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "users": {
        "external_id": "000123",
        "email": "lucia.fernandez@example.org",
        "full_name": "Lucía Fernández",
        "role": "student",
        "password": None,
        "is_active": True,
    },
    "courses": {
        "external_id": "0042",
        "slug": "intro-python",
        "title": "Introduction to Python",
        "description": "Variables, loops and functions, with short exercises.",
        "instructor_email": "grace.hopper@example.org",
        "category": "Programming",
        "difficulty_level": "beginner",
        "is_published": False,
        "thumbnail_url": None,
        "estimated_duration_minutes": 90,
    },
    "lessons": {
        "course_slug": "intro-python",
        "slug": "setting-up",
        "title": "Setting up Python",
        "lesson_type": "video",
        "order_index": 1,
        "content": "Install Python 3 and an editor.",
        "duration_minutes": 10,
        "video_url": "https://videos.example.org/intro-python/setting-up.mp4",
        "is_preview": True,
        "is_required": True,
    },
    "enrollments": {
        "user_email": "lucia.fernandez@example.org",
        "user_external_id": "000123",
        "course_slug": "intro-python",
        "course_external_id": "0042",
        "status": "active",
    },
}

#: Allowed values, offered as a drop-down list in the XLSX template (from the field specs).
CHOICES: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    entity: {f.name: f.choices for f in spec.imported() if f.choices}
    for entity, spec in SPECS.items()
}


def template_sheet(entity: str) -> Sheet:
    """The header and example row of one entity's template."""
    columns = COLUMNS[entity]
    example = EXAMPLES[entity]
    return Sheet(
        name=entity,
        columns=columns,
        rows=[tuple(example[c] for c in columns)],
        choices=dict(CHOICES.get(entity, {})),
    )


def write_template(entity: str, fmt: str, out: BinaryIO | Path) -> None:
    """Write the template of ``entity`` (users, courses, lessons, enrollments) to ``out``.

    XLSX courses templates carry two sheets, ``courses`` and ``lessons``; in CSV, lessons are
    a file of their own (``write_template("lessons", "csv", ...)``). A CSV file is UTF-8 with
    a BOM so Excel shows accents correctly (a stream, e.g. standard output, has none, like the
    exports). A path is written atomically.
    """
    if entity not in ENTITIES:
        raise ValidationError(f"must be one of {', '.join(ENTITIES)}", field="entity", value=entity)
    if fmt not in FORMATS:
        raise ValidationError("must be csv or xlsx", field="format", value=fmt)
    if fmt == "xlsx":
        sheets = [template_sheet(entity)]
        if entity == "courses":
            sheets.append(template_sheet("lessons"))
        write_workbook(out, sheets)
        return
    sheet = template_sheet(entity)
    if isinstance(out, Path):
        write_table(out, sheet)
        return
    with csv_text(out, file=False) as text:  # a stream: no BOM, as exports; ``out`` stays open
        write_table(text, sheet)
