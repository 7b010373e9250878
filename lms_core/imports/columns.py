"""The column names of our import templates and exports: an interface users' scripts rely on.

The same names are the models' field names, the CSV headers, the XLSX headers and the JSON
keys, so an export can be edited and imported again. They come from the field specs
(``lms_core.accounts.fields``, ``lms_core.catalog.fields``); change them only with a
changelog entry.
"""

from __future__ import annotations

from typing import Final

from lms_core.accounts.fields import USER
from lms_core.catalog.fields import COURSE, ENROLLMENT, LESSON
from lms_core.fields import EntitySpec
from lms_core.formats.table import CELL_LIMIT

#: The spec of each importable entity, by the name a file, a sheet and the CLI use.
SPECS: Final[dict[str, EntitySpec]] = {
    "users": USER,
    "courses": COURSE,
    "lessons": LESSON,
    "enrollments": ENROLLMENT,
}

#: Users: ``external_id`` (else ``email``) is the key. ``password`` is never exported.
USER_COLUMNS: Final = USER.columns
USER_REQUIRED: Final = USER.required_columns()

#: Courses: ``external_id`` (else ``slug``) is the key.
COURSE_COLUMNS: Final = COURSE.columns
COURSE_REQUIRED: Final = COURSE.required_columns()

#: Lessons, a second file or a second sheet (``lessons``) of a courses import.
LESSON_COLUMNS: Final = LESSON.columns
LESSON_REQUIRED: Final = LESSON.required_columns()

#: Enrollments: the user by ``user_email`` or ``user_external_id``, the course by
#: ``course_slug`` or ``course_external_id``; one of each pair is required.
ENROLLMENT_COLUMNS: Final = ENROLLMENT.columns

#: Columns that hold identifiers: text, even when they look like numbers (leading zeros).
IDENTIFIER_COLUMNS: Final = frozenset(
    {"sourcedId", *(c for spec in SPECS.values() for c in spec.of_kind("identifier"))}
)

COLUMNS: Final = {entity: spec.columns for entity, spec in SPECS.items()}

#: Columns whose values may be longer than the CSV reader's cell cap (``CELL_LIMIT``, 128 KB,
#: its guard against a quote left open), with a cap of their own: twice the field's longest
#: value, so that a value over the field's limit gets the field's message (the same as a
#: service's) and a quote left open in such a column still stops the reader. A lesson's
#: ``content`` (up to 1,000,000 characters) is the one today.
LONG_CELLS: Final = {
    f.name: 2 * f.max_length
    for spec in SPECS.values()
    for f in spec.imported()
    if f.max_length is not None and f.max_length >= CELL_LIMIT
}

#: Other header names a file may use for a column (``"e-mail"`` -> ``email``), from the field
#: specs; the header reader applies those of the columns it reads (``formats.table``). A
#: column's name means the same in every entity, so one map serves them all.
ALIASES: Final = {
    alias: f.name for spec in SPECS.values() for f in spec.imported() for alias in f.aliases
}
